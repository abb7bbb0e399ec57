import ArgumentParser
import Foundation
import K8sEnvRunner

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the environments: storage and kube-apiserver per environment, CRDs and seeds applied.",
        discussion:
            "Stays in the foreground until SIGINT or SIGTERM, then stops everything. With --detach it returns once ready; `k8senv down` stops it."
    )

    @OptionGroup var options: RunOptions

    @Flag(help: "Return once ready and leave the environments running; stop them with `k8senv down`.")
    var detach = false

    /// The supervisor `--detach` starts: its options come from this file, its progress goes to
    /// the state folder's `supervisor.events` as well as to its log.
    @Option(help: .hidden)
    var supervise: String?

    func run() async throws {
        var served = options.lifecycle
        served.servePools = true  // `up` serves the pool API (as `run` does)
        if detach {
            let output = Detach.Output(progress: { printError($0) }, message: { printError($0) }, export: printLine)
            throw ExitCode(await Detach.start(served, executable: ChildProcess.selfExecutable, output: output))
        }
        let lifecycle: Lifecycle.Options
        let events: SupervisorEventWriter?
        if let supervise {
            do throws(ProcessError) {
                lifecycle = try Detach.options(at: supervise)
                events = try SupervisorEventWriter(path: Detach.files(lifecycle.stateFolder).events)
            } catch {
                throw K8sEnvError(error)
            }
        } else {
            lifecycle = served
            events = nil
        }
        let signals = SignalWatcher()
        let progress = TerminalProgress(fd: 1)
        if !lifecycle.quiet {
            progress.setStatus(
                "starting \(lifecycle.environments.isEmpty ? "the environments" : lifecycle.environments.joined(separator: ", "))"
            )
        }
        let animation = Task { await progress.animate() }
        let session: Session
        do throws(K8sEnvError) {
            session = try await Lifecycle.start(
                lifecycle, detached: supervise != nil, signals: signals,
                output: { line in
                    progress.line(line)
                    events?.send(SupervisorEvent(.progress, line))
                })
            animation.cancel()
            progress.setStatus(nil)
        } catch {
            animation.cancel()
            progress.setStatus(nil)
            events?.send(SupervisorEvent(.error, error.report))
            throw error
        }
        let record = await session.record(
            config: lifecycle.file, profile: lifecycle.profile, detached: supervise != nil)
        printLine(Lifecycle.summary(record))
        if supervise == nil { printLine("ready; press Ctrl-C to stop") }
        let status = await Lifecycle.serve(session, signals: signals, state: lifecycle.stateFolder, output: printLine)
        throw ExitCode(status)
    }
}
