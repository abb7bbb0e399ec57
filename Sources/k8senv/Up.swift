import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

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
        let lifecycle = options.lifecycle, supervise = self.supervise
        let progress = TerminalProgress(fd: 1)
        if !options.quiet { progress.setStatus("starting \(options.environments.isEmpty ? "the environments" : options.environments.joined(separator: ", "))") }
        let animation = Task { await progress.animate() }
        let session: Session
        do throws(Lifecycle.Failure) {
            session = try await Lifecycle.start(lifecycle, detached: supervise, signals: signals, output: { progress.line($0) })
            animation.cancel()
            progress.setStatus(nil)
        } catch {
            animation.cancel()
            progress.setStatus(nil)
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
/// Prints the progress lines (`<environment>: …`) a supervisor's log gains, as they come, to
/// stderr, and keeps the others (errors and notices) for ``flush()``.
final class LogFollower: @unchecked Sendable {
    // @unchecked: used from one task at a time (the waiting loop, then after it ended).
    let path: String
    private var offset: UInt64 = 0
    private var partial = ""
    private var held: [String] = []

    init(path: String) { self.path = path }

    /// The lines that were not progress (errors, notes), to stderr.
    func flush() {
        printNewLines()
        for line in held where !line.isEmpty { printError(line) }
        held.removeAll()
    }

    static func isProgress(_ line: Substring) -> Bool {
        guard let colon = line.firstIndex(of: ":"), colon > line.startIndex else { return false }
        let name = line[..<colon]
        return name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" } && line[colon...].hasPrefix(": ")
            && !line[colon...].hasPrefix(": error")
    }

    func printNewLines() {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        guard !data.isEmpty else { return }
        offset += UInt64(data.count)
        let text = partial + String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        partial = String(lines.removeLast())
        for line in lines where !line.hasPrefix("export ") && !line.contains("  kubeconfig /") {
            if Self.isProgress(line) { printError(String(line)) } else { held.append(String(line)) }
        }
    }
}

enum Detach {
    static func start(options: RunOptions) async -> Int32 {
        let state = options.lifecycle.stateFolder
        // One `up --detach` at a time checks the folder and starts a supervisor: held until this
        // one's supervisor is ready (or failed), so a second one then sees it running.
        let lock: Int32
        do { lock = try state.lock() } catch {
            printError("error: \(error)")
            return 1
        }
        defer { close(lock) }
        for reason in state.cleanStaleRuns().refused { printError("note: \(reason)") }
        if let running = state.current() {
            printError("error: a detached k8senv up is already running (pid \(running.ownerPID)); run `k8senv down` first")
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
        // Show the supervisor's progress while waiting; Ctrl-C before it is ready stops it.
        let signals = SignalWatcher()
        let follower = LogFollower(path: log)
        enum Outcome: Sendable { case ready(RunRecord), failed(Termination), interrupted }
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                while true {
                    if !options.quiet { follower.printNewLines() }
                    if let record = state.current(), record.ownerPID == supervisor.pid { return .ready(record) }
                    if let termination = supervisor.termination { return .failed(termination) }
                    if Task.isCancelled { return nil }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            group.addTask { await signals.next() != nil ? .interrupted : nil }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch outcome {
        case .ready(let record)?:
            // stdout carries only the export lines: `eval "$(k8senv up --detach)"` works.
            if !options.quiet { follower.flush() }
            for line in Lifecycle.summary(record).split(separator: "\n").map(String.init) {
                line.hasPrefix("export ") ? printLine(line) : printError(line)
            }
            printError("running in the background (pid \(supervisor.pid)); stop with `k8senv down`")
            return 0
        case .failed:
            // The supervisor's own error message (with its log tail) is in its log.
            follower.flush()
            return 1
        case .interrupted?, nil:
            printError("interrupted: stopping the environments that were starting…")
            supervisor.signalGroup(SIGTERM)
            if await supervisor.waitForExit(timeout: .seconds(60)) == nil {
                supervisor.signalGroup(SIGKILL)  // its children die with it
                _ = await supervisor.waitForExit()
            }
            state.cleanStaleRuns()
            return 130
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
        for (key, value) in exports { print("export \(key)=\(Lifecycle.shellQuote(value))") }
    }
}

/// `status --format json`; `pid` is left out when nothing runs.
struct StatusOutput: Encodable {
    struct Item: Encodable { var name, environment: String; var healthy: Bool; var server, kubeconfig: String }
    var running: Bool
    var pid: Int32?
    var instances: [Item]
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
            if format == .json { printJSON(StatusOutput(running: false, pid: nil, instances: [])) } else { print("not running") }
            return
        }
        var rows: [(RunRecord.InstanceRecord, Bool)] = []
        for instance in record.instances {
            // Alive is not enough: a stopped (SIGSTOP) kube-apiserver has a pid and answers nothing.
            let alive = StateFolder.isAlive(instance.apiServerPID) && StateFolder.isAlive(instance.storagePID)
            rows.append((instance, alive ? await instance.isReady() : false))
        }
        switch format {
        case .text:
            print("running (pid \(record.ownerPID), since \(record.startedAt))")
            for (instance, healthy) in rows {
                print("  \(instance.name)  \(healthy ? "up" : "DOWN")  \(instance.server)  \(instance.kubeconfig)")
            }
        case .json:
            printJSON(StatusOutput(running: true, pid: record.ownerPID, instances: rows.map { instance, healthy in
                StatusOutput.Item(name: instance.name, environment: instance.environment, healthy: healthy,
                                  server: instance.server, kubeconfig: instance.kubeconfig)
            }))
        }
    }
}

/// One JSON document on a line (``JSONOutput``): every `--format json` prints through here.
func printJSON(_ value: some Encodable) {
    print(JSONOutput.encode(value))
}
