import ArgumentParser
import Foundation
import K8sEnvRunner

struct Open: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Serve a post-mortem bundle (from `k8senv run --postmortem`): one instance as the failed test left it.",
        discussion:
            "The bundle is checked as `cache import` checks one (sizes, signature under K8SENV_BUNDLE_KEY or this user's key, checksum, store file) and must have been captured with the kube-apiserver release found here (K8SENV_KUBE_APISERVER or kube-apiserver on PATH; with -f, the config's binaries). Its state lives in the current folder's .k8senv/ as `up`'s does: `k8senv env`, `diff` (against the bundle's baseline), `audit` (the bundle's audit log) and `down` work there without -f. Nothing of the bundle is run: its config and CRDs are kept as files, kube-apiserver starts with k8senv's own arguments, no controllers and no webhooks run. Prints the exports as `up` does, then serves until Ctrl-C; with --detach, in the background until `k8senv down`."
    )

    @Argument(help: "The bundle file.")
    var bundle: String

    @Flag(
        help:
            "Print what is inside (instance, baseline, files, what was left out), after checking its signature, without starting anything."
    )
    var list = false

    @Flag(help: "Return once ready and leave the instance running; stop it with `k8senv down`.")
    var detach = false

    @Option(
        name: [.short, .customLong("file")],
        help:
            "Take the programs (binaries:) from this config instead of K8SENV_KUBE_APISERVER, K8SENV_ETCD, K8SENV_KINE or PATH."
    )
    var file: String?

    @Option(help: "With -f: a profile of the config to apply.")
    var profile: String?

    @Flag(help: "Print only errors and the final summary.")
    var quiet = false

    @Option(
        help: ArgumentHelp(
            "Record where the open's time goes in this file, as `up --trace` does (a Chrome trace-event JSON).",
            valueName: "file"))
    var trace: String?

    /// The supervisor `--detach` starts (as `up --detach` does).
    @Option(help: .hidden)
    var supervise: String?

    func validate() throws {
        if profile != nil && file == nil {
            throw ValidationError("--profile needs -f (the config whose binaries to use)")
        }
        if list && detach { throw ValidationError("--list starts nothing: leave out --detach") }
        if list && trace != nil { throw ValidationError("--list starts nothing: leave out --trace") }
    }

    func run() async throws {
        if list {
            for line in try PostmortemOpen.list(bundle) { printLine(line) }
            return
        }
        let here = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : here + "/" + path }
        let path = absolute(bundle)
        var options = Lifecycle.Options(
            file: file.map(absolute) ?? "", profile: profile, environments: [],
            stateDirectory: here + "/.k8senv", quiet: quiet, tracePath: trace.map(absolute))
        if detach {
            let output = Detach.Output(progress: { printError($0) }, message: { printError($0) }, export: printLine)
            throw ExitCode(
                await Detach.start(
                    options, executable: ChildProcess.selfExecutable, command: ["open", path], output: output))
        }
        var writer: SupervisorEventWriter?
        if let supervise {
            do throws(ProcessError) {
                options = try Detach.options(at: supervise)
                writer = try SupervisorEventWriter(path: Detach.files(options.stateFolder).events)
            } catch {
                throw K8sEnvError(error)
            }
        }
        let events = writer
        let signals = SignalWatcher()
        let session: Session
        do throws(K8sEnvError) {
            session = try await PostmortemOpen.start(
                bundle: path, options: options, detached: supervise != nil,
                output: { line in
                    printError(line)
                    events?.send(SupervisorEvent(.progress, line))
                })
        } catch {
            events?.send(SupervisorEvent(.error, error.report))
            throw error
        }
        let record = await session.record(config: path, profile: nil, detached: supervise != nil)
        printLine(Lifecycle.summary(record))
        if supervise == nil { printLine("ready; press Ctrl-C to stop") }
        throw ExitCode(await Lifecycle.serve(session, signals: signals, state: options.stateFolder, output: printLine))
    }
}
