import ArgumentParser
import Foundation
import K8sEnvRunner

/// Options of the commands that start environments.
struct RunOptions: ParsableArguments {
    @OptionGroup var config: ConfigOptions

    @Option(name: [.short, .customLong("environment")], help: "Start only this environment (repeatable; default: all).")
    var environments: [String] = []

    @Option(help: "The state folder (default: .k8senv next to the config file).")
    var stateDir: String?

    @Flag(help: "Print only errors and the final summary.")
    var quiet = false

    @Flag(help: "Build every environment from scratch: neither read nor write the snapshot cache.")
    var noCache = false

    @Option(help: "Instances per environment, instead of each environment's pool.size.")
    var poolSize: Int?

    func validate() throws {
        if let poolSize, !(1...64).contains(poolSize) { throw ValidationError("--pool-size must be between 1 and 64") }
    }

    var lifecycle: Lifecycle.Options {
        Lifecycle.Options(file: config.file, profile: config.profile, environments: environments,
                          stateDirectory: stateDir, quiet: quiet, noCache: noCache, poolSize: poolSize)
    }
}

/// Prints a line at once (stdout may be a pipe or a file, which buffer).
let printLine: @Sendable (String) -> Void = { line in
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the environments: storage and kube-apiserver per environment, CRDs and seeds applied.",
        discussion: "Stays in the foreground until SIGINT or SIGTERM, then stops everything. With --detach it returns once ready; `k8senv down` stops it."
    )

    @OptionGroup var options: RunOptions

    @Flag(help: "Return once ready and leave the environments running; stop them with `k8senv down`.")
    var detach = false

    @Flag(help: .hidden)
    var supervise = false

    func run() async throws {
        if detach {
            throw ExitCode(await Detach.start(options: options))
        }
        let signals = SignalWatcher()
        let session: Session
        do { session = try await Lifecycle.start(options.lifecycle, detached: supervise, output: printLine) } catch {
            printError(error.message)
            throw ExitCode(error.exitCode)
        }
        let record = await session.record(config: options.config.file, profile: options.config.profile, detached: supervise)
        printLine(Lifecycle.summary(record))
        if !supervise { printLine("ready; press Ctrl-C to stop") }
        let status = await Lifecycle.serve(session, signals: signals, state: options.lifecycle.stateFolder, output: printLine)
        throw ExitCode(status)
    }
}

/// `up --detach`: starts `k8senv up --supervise` in a new session and waits until it is ready.
enum Detach {
    static func start(options: RunOptions) async -> Int32 {
        let state = options.lifecycle.stateFolder
        state.cleanStaleRuns()
        if let running = state.current() {
            printError("error: a detached k8senv up is already running (pid \(running.ownerPID)); run `k8senv down` first")
            return 1
        }
        do { try PrivateFiles.makeDirectory(state.path) } catch {
            printError("error: \(error)")
            return 1
        }
        var arguments = ["up", "--supervise", "-f", options.config.file]
        if let profile = options.config.profile { arguments += ["--profile", profile] }
        for e in options.environments { arguments += ["-e", e] }
        if let dir = options.stateDir { arguments += ["--state-dir", dir] }
        if options.noCache { arguments.append("--no-cache") }
        if let size = options.poolSize { arguments += ["--pool-size", String(size)] }
        if options.quiet { arguments.append("--quiet") }
        let log = state.path + "/supervisor.log"
        try? FileManager.default.removeItem(atPath: log)
        let supervisor: ChildProcess
        do {
            supervisor = try ChildProcess.launch(executable: selfExecutable(), arguments: arguments,
                                                 environment: ProcessInfo.processInfo.environment, logPath: log,
                                                 options: [.newSession])
        } catch {
            printError("error: \(error)")
            return 1
        }
        while true {
            if let record = state.current(), record.ownerPID == supervisor.pid {
                print(Lifecycle.summary(record))
                print("running in the background (pid \(supervisor.pid)); stop with `k8senv down`")
                return 0
            }
            if let termination = supervisor.termination {
                printError("error: k8senv up \(termination)\n" + ChildProcess.tail(of: log, lines: 30))
                return 1
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    static func selfExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the environments a `k8senv up --detach` left running.")

    @OptionGroup var config: ConfigOptions

    @Option(help: "The state folder (default: .k8senv next to the config file).")
    var stateDir: String?

    func run() async throws {
        let state = stateDir.map { StateFolder(path: $0) } ?? StateFolder.forConfig(config.file)
        throw ExitCode(await Lifecycle.down(state, timeout: .seconds(60), output: printLine))
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the environments, run a command with KUBECONFIG set, stop them; exit with the command's status.",
        discussion: "The command gets KUBECONFIG (the first instance), K8SENV_KUBECONFIGS (all, colon-separated) and K8SENV_KUBECONFIG_<ENV>."
    )

    @OptionGroup var options: RunOptions

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. k8senv run -- go test ./...") }
    }

    func run() async throws {
        throw ExitCode(await Lifecycle.run(options.lifecycle, command: command, output: { printError($0) }))
    }
}

struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the shell exports of the running detached environments.")

    @OptionGroup var config: ConfigOptions

    @Option(name: [.short, .customLong("environment")], help: "KUBECONFIG for this environment.")
    var environment: String?

    @Option(help: "The state folder (default: .k8senv next to the config file).")
    var stateDir: String?

    func run() throws {
        let state = stateDir.map { StateFolder(path: $0) } ?? StateFolder.forConfig(config.file)
        guard let record = state.current() else {
            printError("error: no detached k8senv up is running for \(config.file); start one with `k8senv up --detach`")
            throw ExitCode(1)
        }
        var exports = record.exports
        if let environment {
            guard let instance = record.instances.first(where: { $0.environment == environment }) else {
                printError("error: environment \"\(environment)\" is not running (running: \(Set(record.instances.map(\.environment)).sorted().joined(separator: ", ")))")
                throw ExitCode(1)
            }
            exports = [("KUBECONFIG", instance.kubeconfig)]
        }
        for (key, value) in exports { print("export \(key)=\(value)") }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the running detached environments and whether each instance is healthy.")

    @OptionGroup var config: ConfigOptions

    @Option(help: "The state folder (default: .k8senv next to the config file).")
    var stateDir: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let state = stateDir.map { StateFolder(path: $0) } ?? StateFolder.forConfig(config.file)
        guard let record = state.current() else {
            if format == .json { print("{\"running\":false,\"instances\":[]}") } else { print("not running") }
            return
        }
        var rows: [(RunRecord.InstanceRecord, Bool)] = []
        for instance in record.instances {
            let alive = StateFolder.isAlive(instance.apiServerPID) && StateFolder.isAlive(instance.storagePID)
            rows.append((instance, alive))
        }
        switch format {
        case .text:
            print("running (pid \(record.ownerPID), since \(record.startedAt))")
            for (instance, alive) in rows {
                print("  \(instance.name)  \(alive ? "up" : "DOWN")  \(instance.server)  \(instance.kubeconfig)")
            }
        case .json:
            let items = rows.map { instance, alive in
                "{\"name\":\"\(instance.name)\",\"environment\":\"\(instance.environment)\",\"healthy\":\(alive),\"server\":\"\(instance.server)\",\"kubeconfig\":\"\(instance.kubeconfig)\"}"
            }
            print("{\"running\":true,\"pid\":\(record.ownerPID),\"instances\":[\(items.joined(separator: ","))]}")
        }
    }
}
