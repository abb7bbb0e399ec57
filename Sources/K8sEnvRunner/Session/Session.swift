import Foundation
import K8sEnvSpec

/// Brings up the environments of a plan — `pool.size` instances each — and tears them down.
package actor Session {
    package nonisolated let builder: EnvironmentBuilder
    package nonisolated var plan: Plan { builder.plan }
    package nonisolated var runDirectory: String { builder.runDirectory }
    package private(set) var instances: [(environment: String, instance: Instance)] = []
    /// Instances per environment (each environment's `pool.size` unless overridden).
    private let poolSizeOverride: Int?

    package init(builder: EnvironmentBuilder, poolSize: Int? = nil) {
        self.builder = builder
        self.poolSizeOverride = poolSize
    }

    /// Starts the environments named (all when empty), concurrently: the first instance of each
    /// (from the cache, or building its snapshot), then the rest of its pool from the snapshot.
    /// - Throws: ``K8sEnvError``; instances already started are stopped.
    package func start(environments names: [String]) async throws(K8sEnvError) {
        let selected = names.isEmpty ? plan.environments.map(\.name) : names
        let builder = self.builder
        let sizes = Dictionary(uniqueKeysWithValues: selected.map { ($0, poolSizeOverride ?? plan.environment(named: $0)?.poolSize ?? 1) })
        let results = await withTaskGroup(of: [Result<(String, Int, Instance), K8sEnvError>].self) { group in
            for name in selected {
                group.addTask {
                    let first: Instance
                    do throws(K8sEnvError) { first = try await builder.firstInstance(name) } catch { return [.failure(error)] }
                    var results: [Result<(String, Int, Instance), K8sEnvError>] = [.success((name, 0, first))]
                    await withTaskGroup(of: Result<(String, Int, Instance), K8sEnvError>.self) { more in
                        for index in 1..<max(sizes[name] ?? 1, 1) {
                            more.addTask {
                                do throws(K8sEnvError) { return .success((name, index, try await builder.instance(name, index: index))) } catch {
                                    return .failure(error)
                                }
                            }
                        }
                        for await r in more { results.append(r) }
                    }
                    return results
                }
            }
            var all: [Result<(String, Int, Instance), K8sEnvError>] = []
            for await r in group { all += r }
            return all
        }
        var firstError: K8sEnvError?
        var started: [(String, Int, Instance)] = []
        for r in results {
            switch r {
            case .success(let triple): started.append(triple)
            case .failure(let e): firstError = firstError ?? e
            }
        }
        started.sort { a, b in
            let ia = selected.firstIndex(of: a.0) ?? 0, ib = selected.firstIndex(of: b.0) ?? 0
            return ia != ib ? ia < ib : a.1 < b.1
        }
        instances = started.map { ($0.0, $0.2) }
        if let firstError {
            await stop()
            throw firstError
        }
    }

    /// The first instance whose process stopped, with its log tail.
    package func failure() -> ProcessError? {
        for (_, instance) in instances { if let f = instance.failure() { return f } }
        return nil
    }

    /// Returns when the first instance's store or kube-apiserver stops by itself, with which and
    /// why; nil at once when the calling task is cancelled. An instance stopped on purpose (by
    /// the pool service: a release with mode stop, a failed reset) is not an end: the pool
    /// replaces it, and the replacement is watched from when it starts.
    package func ended() async -> ProcessError? {
        enum Outcome: Sendable { case failure(ProcessError?), changed }
        while !Task.isCancelled {
            let (changes, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            changed = signal
            let all = instances.map(\.instance)
            let outcome = await withTaskGroup(of: Outcome.self) { group in
                for instance in all { group.addTask { .failure(await instance.ended()) } }
                group.addTask {
                    var next = changes.makeAsyncIterator()
                    _ = await next.next()  // nil when cancelled
                    return .changed
                }
                for await result in group {
                    switch result {
                    case .failure(nil): continue  // stopped on purpose
                    case .failure(let failure?):
                        group.cancelAll()
                        return Outcome.failure(failure)
                    case .changed:
                        group.cancelAll()
                        return Outcome.changed
                    }
                }
                return Outcome.failure(nil)
            }
            if case .failure(let failure?) = outcome { return failure }
        }
        return nil
    }

    /// Told of each change by ``instancesChanged(environment:started:)``, while ``ended()`` waits.
    private var changed: AsyncStream<Void>.Continuation?
    /// Where the run record was written: rewritten when the pool service changes the instances.
    private var recording: (state: StateFolder, config: String, profile: String?, detached: Bool)?

    /// Writes the run record into the run folder, and again whenever the instances change.
    package func writeRecord(to state: StateFolder, config: String, profile: String?, detached: Bool) async throws(ProcessError) {
        recording = (state, config, profile, detached)
        await markBaselines()
        try state.write(record(config: config, profile: profile, detached: detached))
    }

    /// The pool service stopped an instance on purpose (a release with mode stop, a failed
    /// reset) or started `started` to replace one: the run record lists the instances that run
    /// now (for `k8senv status`, `env` and a later cleanup), and ``ended()`` watches them.
    package func instancesChanged(environment: String, started: Instance?) async {
        if let started { instances.append((environment, started)) }
        instances.removeAll { $0.instance.isStopping }
        await markBaselines()
        if let recording {
            do throws(ProcessError) {
                try recording.state.write(record(config: recording.config, profile: recording.profile, detached: recording.detached))
            } catch {
                service?.log("note: the run record could not be rewritten: \(error)")
            }
        }
        changed?.yield()
    }

    /// Each instance's ``DiffBaseline`` revision, by name: taken when the run record first
    /// lists it (the session's own instances before the pool service's socket is announced; a
    /// replacement the pool started, when the pool reports it).
    private var baselines: [String: Int64] = [:]

    private func markBaselines() async {
        let unmarked = instances.map(\.instance).filter { baselines[$0.name] == nil }
        let marks = await withTaskGroup(of: (String, Int64?).self) { group in
            for instance in unmarked { group.addTask { (instance.name, await DiffBaseline.mark(instance)) } }
            var marks: [(String, Int64?)] = []
            for await mark in group { marks.append(mark) }
            return marks
        }
        for case let (name, revision?) in marks { baselines[name] = revision }
    }

    /// `k8senv open`: the instance's baseline is the one its bundle recorded (its state when the
    /// failed run handed it out), not its state now.
    package func adoptBaseline(_ revision: Int64, of instance: Instance) {
        DiffBaseline.keep(revision, on: instance)
        baselines[instance.name] = revision
    }

    /// The pool API `up` or `run` serves on the session's instances, if any.
    package private(set) var service: PoolService?

    package func attach(_ service: PoolService) { self.service = service }

    /// Stops the pool service, then every instance, in parallel.
    /// - Parameter exiting: the process exits right after (`up`, `run`): the instances are
    ///   killed at once, before the service winds down, and the embedded stores are left to the
    ///   exit (see ``Instance/beginStop(closingStore:)``).
    package func stop(exiting: Bool = false) async {
        if exiting {
            for (_, instance) in instances { instance.beginStop(closingStore: false) }
        }
        // The service first: no lease is granted while the instances stop.
        await service?.shutdown()
        let all = instances.map(\.instance)
        instances.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for instance in all { group.addTask { await instance.stop() } }
        }
    }

    /// `path` from the current folder, absolute: a record names its config wherever it is read.
    static func absolute(_ path: String) -> String {
        ((path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path) as NSString).standardizingPath
    }

    package func record(config: String, profile: String?, detached: Bool) -> RunRecord {
        RunRecord(
            ownerPID: getpid(),
            ownerBinary: ChildProcess.selfExecutable,
            ownerStartTime: Ownership.startTime(of: getpid()), config: Self.absolute(config), profile: profile, detached: detached, runDirectory: runDirectory,
            poolSocket: service?.socketPath,
            startedAt: Date(),
            instances: instances.map { env, i in
                RunRecord.InstanceRecord(
                    name: i.name, environment: env, server: i.server, kubeconfig: i.kubeconfigPath,
                    apiServerPID: i.apiServerProcess.pid, storagePID: i.store.pid,
                    apiServerBinary: builder.binaries.kubeAPIServer, storageBinary: builder.binaries.storage.program,
                    apiServerStartTime: Ownership.startTime(of: i.apiServerProcess.pid),
                    storageStartTime: Ownership.startTime(of: i.store.pid),
                    logs: [i.apiServerProcess.logPath, i.store.logPath, i.controllerManager?.logPath].compactMap { $0 },
                    webhook: i.configuration.webhook,
                    users: i.users.isEmpty ? nil : i.users.map { RunRecord.UserRecord(name: $0.name, kubeconfig: $0.kubeconfigPath) },
                    controllerManagerPID: i.controllerManager?.pid,
                    controllerManagerBinary: i.controllerManager.flatMap { _ in builder.binaries.kubeControllerManager?.path },
                    controllerManagerStartTime: i.controllerManager.flatMap { Ownership.startTime(of: $0.pid) },
                    baselineRevision: baselines[i.name])
            })
    }

}
