import Foundation
import K8sEnvSpec

/// What `up`, `run`, `down`, `env` and `status` do; the CLI only parses and prints.
package enum Lifecycle {
    package struct Options: Sendable, Codable {
        package var file: String
        package var profile: String?
        package var environments: [String]
        package var stateDirectory: String?
        package var quiet: Bool
        /// Build every environment from scratch, without reading or writing the snapshot cache.
        package var noCache: Bool
        /// The snapshot cache folder (default: ``SnapshotStore/defaultRoot``).
        package var cacheDirectory: String?
        /// Instances per environment, instead of each environment's `pool.size`.
        package var poolSize: Int?
        /// Serve the pool API (docs/reference/pool-api.md) on the instances: `up` and `run` do.
        package var servePools = false
        /// `run`: start instances of its own even when a detached `up` of the config serves a pool.
        package var fresh = false
        /// `run --postmortem DIR`: where post-mortem bundles go, over the config's `postmortem.dir`.
        package var postmortemDirectory: String?
        /// `--trace FILE` (absolute): where the start's phases go as a Chrome trace-event file
        /// (docs/how-to/see-where-start-time-goes.md); finished when the session stops.
        package var tracePath: String?

        package init(
            file: String, profile: String?, environments: [String], stateDirectory: String?, quiet: Bool,
            noCache: Bool = false, cacheDirectory: String? = nil, poolSize: Int? = nil, tracePath: String? = nil
        ) {
            self.poolSize = poolSize
            self.tracePath = tracePath
            self.noCache = noCache
            self.cacheDirectory = cacheDirectory
            self.file = file
            self.profile = ConfigLoader.chosen(profile)  // "" is none: the state's record and attach compare it
            self.environments = environments
            self.stateDirectory = stateDirectory
            self.quiet = quiet
        }

        package var stateFolder: StateFolder {
            stateDirectory.map { StateFolder(path: $0) } ?? StateFolder.forConfig(file)
        }
    }

    /// Loads and plans a config; its diagnostics are rendered into the error.
    package static func plan(_ options: Options, files: SourceFiles) throws(K8sEnvError) -> Plan {
        let loader = ConfigLoader(files: files)
        do throws(Diagnostics) {
            let config = try loader.load(options.file, profile: options.profile)
            for name in options.environments {
                if let message = config.unknownEnvironment(name) {
                    throw Diagnostics([
                        Diagnostic(.reference, at: SourceLocation(file: options.file, mark: nil), message)
                    ])
                }
            }
            return try Plan(config)
        } catch {
            throw K8sEnvError(.invalidConfig, error, files: files)
        }
    }

    /// Starts a session: stale runs cleaned, binaries resolved, instances up, CRDs and seeds
    /// applied, the run recorded. On failure nothing is left running. With `tracePath`, every
    /// phase is recorded there (the session keeps the trace until it stops).
    package static func start(_ options: Options, detached: Bool, output: @escaping @Sendable (String) -> Void)
        async throws(K8sEnvError) -> Session
    {
        try await Trace.recording(to: options.tracePath) { () async throws(K8sEnvError) in
            try await startTraced(options, detached: detached, output: output)
        }
    }

    private static func startTraced(_ options: Options, detached: Bool, output: @escaping @Sendable (String) -> Void)
        async throws(K8sEnvError) -> Session
    {
        let files = SourceFiles()
        let plan = try await Trace.span("config load and plan") { () async throws(K8sEnvError) in
            try Self.plan(options, files: files)
        }
        let state = options.stateFolder
        let cleanup = state.cleanStaleRuns()
        for dir in cleanup.cleaned { output("cleaned up after a run that did not stop: \(dir)") }
        for reason in cleanup.refused { output("note: \(reason)") }
        let runDirectory: String
        do throws(ProcessError) { runDirectory = try state.makeRunDirectory() } catch {
            throw K8sEnvError(error)
        }
        let quiet = options.quiet
        let progress: @Sendable (String) -> Void = { line in if !quiet { output(line) } }
        let builder: EnvironmentBuilder
        do {
            builder = try await EnvironmentBuilder.prepare(
                plan: plan, files: files, runDirectory: runDirectory, useCache: !options.noCache,
                cacheRoot: options.cacheDirectory, progress: progress)
        } catch {
            try? FileManager.default.removeItem(atPath: runDirectory)
            throw error
        }
        let session = Session(builder: builder, poolSize: options.poolSize)
        do {
            try await session.start(environments: options.environments)
        } catch {
            var failure = error
            failure.message += "\n(logs kept in \(runDirectory))"
            failure.keptFolder = runDirectory
            throw failure
        }
        if options.servePools {
            do throws(K8sEnvError) {
                await session.attach(
                    try await PoolService.start(
                        session: session, state: state.path, runDirectory: runDirectory,
                        inStateFolder: detached, log: output))
            } catch {
                await session.stop()
                try? FileManager.default.removeItem(atPath: runDirectory)
                throw error
            }
        }
        do throws(ProcessError) {
            try await session.writeRecord(to: state, config: options.file, profile: options.profile, detached: detached)
            if detached { try state.setCurrent(runDirectory) }
        } catch {
            await session.stop()
            throw K8sEnvError(error)
        }
        return session
    }

    /// ``start(_:detached:output:)``, unless SIGINT or SIGTERM comes first: then the start is
    /// cancelled, which stops what it had started, and the failure says so (exit 130).
    package static func start(
        _ options: Options, detached: Bool, signals: SignalWatcher,
        output: @escaping @Sendable (String) -> Void
    ) async throws(K8sEnvError) -> Session {
        let started = await withTaskGroup(of: Result<Session, K8sEnvError>?.self) { group in
            group.addTask {
                do throws(K8sEnvError) {
                    return .success(try await start(options, detached: detached, output: output))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                guard await signals.next() != nil else { return nil }
                return .failure(K8sEnvError(.interrupted, "interrupted while starting; stopped what had started"))
            }
            var first = await group.next() ?? nil
            group.cancelAll()
            // The start may have finished just as the signal came: stop it too. A cancelled
            // start keeps its run folder (the logs of what hung): say where.
            while let late = await group.next() {
                switch late {
                case .success(let session)?: await finish(session, state: options.stateFolder, keepFiles: false)
                case .failure(let failure)?:
                    if case .failure(var interrupted)? = first, interrupted.code == .interrupted,
                        let kept = failure.keptFolder
                    {
                        interrupted.message += " (logs kept in \(kept))"
                        interrupted.keptFolder = kept
                        first = .failure(interrupted)
                    }
                case nil: break
                }
            }
            return first
        }
        switch started {
        case .success(let session)?: return session
        case .failure(let error)?: throw error
        case nil: throw K8sEnvError(.process, "the start ended without a result")
        }
    }

    /// Stops a session and removes its run folder (kept when an instance failed, for its logs).
    /// - Parameter exiting: the process exits right after (see ``Session/stop(exiting:)``).
    package static func finish(_ session: Session, state: StateFolder, keepFiles: Bool, exiting: Bool = false) async {
        await session.stop(exiting: exiting)
        session.builder.trace?.finish()
        state.clearCurrent(ifRunDirectory: session.runDirectory)
        if keepFiles {
            // Nothing runs any more: keep the logs, drop the record of processes.
            try? FileManager.default.removeItem(atPath: session.runDirectory + "/run.json")
        } else {
            try? FileManager.default.removeItem(atPath: session.runDirectory)
        }
    }

    /// The summary printed once everything is up.
    package static func summary(_ record: RunRecord) -> String {
        var lines: [String] = []
        for instance in record.instances {
            lines.append("\(instance.environment): \(instance.server)  kubeconfig \(instance.kubeconfig)")
        }
        for (key, value) in record.exports { lines.append("export \(key)=\(shellQuote(value))") }
        return lines.joined(separator: "\n")
    }

    /// Quotes a value for a POSIX shell (`eval "$(k8senv env)"`): as it is only when it is
    /// non-empty and entirely ASCII `[A-Za-z0-9_./:=@%+,-]`, else in single quotes with each `'`
    /// written `'\''`. Judged byte by byte, never by Character: a grapheme cluster can hide a
    /// `;` or a `'` behind a letter (U+0D4E followed by `;` is one Character, and a letter), and
    /// the shell reads bytes.
    package static func shellQuote(_ s: String) -> String {
        let bytes = s.utf8
        if !bytes.isEmpty, bytes.allSatisfy(isShellSafe) { return s }
        var quoted: [UInt8] = [UInt8(ascii: "'")]
        quoted.reserveCapacity(bytes.count + 2)
        for byte in bytes {
            if byte == UInt8(ascii: "'") { quoted += Array("'\\''".utf8) } else { quoted.append(byte) }
        }
        quoted.append(UInt8(ascii: "'"))
        return String(decoding: quoted, as: UTF8.self)
    }

    private static func isShellSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "_./:=@%+,-".utf8.contains(byte)
        }
    }

    /// Serves until SIGINT/SIGTERM (exit 0) or until a process of an instance stops (exit 1).
    package static func serve(
        _ session: Session, signals: SignalWatcher, state: StateFolder,
        output: @escaping @Sendable (String) -> Void
    ) async -> Int32 {
        enum Event: Sendable {
            case signal(Int32)
            case failure(ProcessError)
        }
        let event = await withTaskGroup(of: Event?.self) { group in
            group.addTask {
                guard let signal = await signals.next() else { return nil }
                return .signal(signal)
            }
            group.addTask {
                // Awaits the exits (and the embedded store's failure); cancelled by a signal.
                await session.ended().map(Event.failure)
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch event {
        case .failure(let error):
            output("error: \(error)")
            await finish(session, state: state, keepFiles: true, exiting: true)
            output("stopped; logs kept in \(session.runDirectory)")
            return 1
        case .signal, nil:
            output("stopping…")
            await finish(session, state: state, keepFiles: false, exiting: true)
            output("stopped")
            return 0
        }
    }

    /// `k8senv run`, one path whether it starts its own pools or attaches to a detached `up`'s
    /// pool service: one lease per environment (in-process from its own pools, or through the
    /// service), the command's variables built from the leases, the command, one failure report
    /// (the leases' audit; post-mortem bundles in a run of its own), the leases released (an
    /// attached run's are reset for the next holder; a run of its own's end with its teardown),
    /// and what it started torn down. Its lease is one of the pool's `pool.size` instances: the
    /// command's tests lease the others (docs/explanation/architecture.md, "k8senv run").
    /// Returns the command's status.
    package static func run(_ options: Options, command: [String], output: @escaping @Sendable (String) -> Void) async
        -> Int32
    {
        let signals = SignalWatcher()
        let state = options.stateFolder
        let source: RunLeaseSource
        var names = options.environments
        var session: Session?
        var postmortem: PostmortemCapture.Target?
        let attached = attachable(options)
        if let attached, let socket = attached.poolSocket {
            source = .service(socket)
            for instance in attached.instances
            where options.environments.isEmpty && !names.contains(instance.environment) {
                names.append(instance.environment)
            }
        } else {
            var served = options
            served.servePools = true  // the command's tests lease the other instances (K8SENV_POOL)
            let started: Session
            do { started = try await start(served, detached: false, signals: signals, output: output) } catch {
                output(error.report)
                return error.exitStatus
            }
            session = started
            do throws(K8sEnvError) {
                postmortem = try PostmortemCapture.target(started.plan.config, directory: options.postmortemDirectory)
            } catch {
                await finish(started, state: state, keepFiles: false, exiting: true)
                output(error.report)
                return error.exitStatus
            }
            guard let service = await started.service else {
                await finish(started, state: state, keepFiles: false, exiting: true)
                output("error: the run's pool service did not start")
                return 1
            }
            if let postmortem { await service.keepInto(postmortem, session: nil) }  // release mode=keep
            source = .session(service)
            names = await started.pools.map(\.environment)
        }
        let leases: [RunLease]
        switch await acquireLeases(names, from: source, signals: signals, output: output) {
        case .success(let granted): leases = granted
        case .failure(let status):
            if let session { await finish(session, state: state, keepFiles: false, exiting: true) }
            return status.code
        }
        if let attached, !options.quiet {
            output(
                "attached to the pool service of k8senv up (pid \(attached.ownerPID)): "
                    + leases.map { "\($0.environment) → \($0.instance)" }.joined(separator: ", ")
                    + " (--fresh starts instances of its own)")
        }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in RunLease.exports(leases, poolSocket: source.poolSocket) { environment[key] = value }
        let status = await runCommand(command, environment: environment, signals: signals, output: output)
        // A failed command: what it asked of the instances it leased (their audit logs).
        let audited = status != 0 ? await reportAudit(leases, output: output) : false
        guard let session else {
            let problems = await release(leases)
            for problem in problems { output("error: a lease could not be released: \(problem)") }
            // A service that went away under the command: its results are not to be trusted.
            return problems.isEmpty || status != 0 ? status : 1
        }
        // Post-mortem bundles, while the instances still serve (docs/explanation/postmortem.md).
        let instanceFailed = await session.failure() != nil
        await PostmortemCapture.afterCommand(
            session, target: postmortem, profile: options.profile, status: status,
            failed: status != 0 || instanceFailed, output: output)
        // An instance that died under the command: said, its logs kept, and the run fails even
        // if the command passed (its results are not to be trusted).
        let failure = await session.failure()
        if let failure { output("error: an instance stopped while the command ran: \(failure)") }
        // The one teardown of a run of its own: the pool service (which ends every lease, the
        // run's own too: no instance is reset just before it stops), then every pool's instances.
        await finish(session, state: state, keepFiles: audited || failure != nil, exiting: true)
        if failure != nil {
            output("logs kept in \(session.runDirectory)")
            return status == 0 ? 1 : status
        }
        if audited {
            output(
                "audit logs kept in \(session.runDirectory) (read them with `k8senv audit --run \(session.runDirectory)`)"
            )
        }
        return status
    }

    /// What a command that needs a running `up` of `config` says to do when none runs: start one,
    /// or, when there is no such file, write it first.
    package static func startAdvice(config: String) -> String {
        FileManager.default.fileExists(atPath: config)
            ? "start one with `k8senv up --detach`"
            : "there is no \(config) to start: " + ConfigLoader.missingFileAdvice
    }

    /// What a failed command's `run` says when nothing audits.
    static let auditHint =
        "hint: with `audit:` in k8senv.yaml, k8senv shows the requests a failed command made (\(DocsLink.page("how-to/failed-test-requests.md")))"

    /// The report's lines (``AuditReport/section(instance:events:log:)`` of each instance) under
    /// a heading, or a line saying the command made no requests.
    static func printAuditReport(_ lines: [String], output: @Sendable (String) -> Void) {
        if lines.isEmpty {
            output("the command made no requests to the instances that audit")
        } else {
            output("the command failed; the requests it made (audit):")
            lines.forEach(output)
        }
    }

    /// Runs `run`'s command with `environment` (SIGTERM to k8senv passed on to it): its exit
    /// status, 128 + a signal that ended it, 127 when it is not found, 126 when it cannot start.
    static func runCommand(
        _ command: [String], environment: [String: String], signals: SignalWatcher,
        output: @escaping @Sendable (String) -> Void
    ) async -> Int32 {
        let executable: String
        do { executable = try BinaryLocator.locate(command[0], role: "the command", relativeTo: ".") } catch {
            output("error: \(command[0]): not found on PATH")
            return 127
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.launch(
                executable: executable, arguments: Array(command.dropFirst()),
                environment: environment, logPath: nil,
                options: [.dieWithParent, .inheritStdin])
        } catch {
            output("error: \(error)")
            return 126
        }
        let termination = await withTaskGroup(of: Termination?.self) { group in
            group.addTask { await child.waitForExit() }
            group.addTask {
                // SIGINT reaches the command from the terminal itself (same process group);
                // SIGTERM sent to k8senv is passed on.
                while let signal = await signals.next() {
                    if signal == SIGTERM { child.signalGroup(SIGTERM) }
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .exited(1)
        }
        switch termination {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    /// `k8senv down`: stops the detached run (its supervisor tears the instances down).
    package static func down(_ state: StateFolder, timeout: Duration, output: @escaping @Sendable (String) -> Void)
        async -> Int32
    {
        for reason in state.cleanStaleRuns().refused { output("note: \(reason)") }
        // current() is a run folder k8senv made whose owner is the very process that recorded it.
        guard let record = state.current() else {
            output("nothing to stop: no detached k8senv up in \(state.path)")
            return 0
        }
        kill(record.ownerPID, SIGTERM)
        let gone = { !StateFolder.isAlive(record.ownerPID) }
        if case .failure = await Poll(every: .milliseconds(5), for: timeout).until(gone) {
            // Its children die with it (parent-death signal); its folder is cleaned once it is gone.
            kill(record.ownerPID, SIGKILL)
            _ = await Poll(every: .milliseconds(10), for: .seconds(5)).until(gone)
        }
        state.cleanStaleRuns()
        output("stopped \(record.instances.map(\.name).joined(separator: ", "))")
        return 0
    }
}
