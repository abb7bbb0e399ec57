import Foundation
import K8sEnvSpec

/// A run of `up` or `run`: one ``EnvironmentPool`` per environment, warmed to its `pool.size`;
/// the pools start, replace, supervise and stop every instance, and tell the session (their
/// ``PoolEvent``s), which keeps the run record (run.json) and says when an instance failed.
package actor Session {
    package nonisolated let builder: EnvironmentBuilder
    package nonisolated var plan: Plan { builder.plan }
    package nonisolated var runDirectory: String { builder.runDirectory }
    /// The pools, in the order of the environments started.
    package private(set) var pools: [(environment: String, pool: EnvironmentPool)] = []
    /// The instances that run now, as the pools reported them: each with its environment and
    /// when it started (its own time, for a replacement too), in the order `status` lists them.
    package private(set) var instances: [(environment: String, instance: Instance, startedAt: Date)] = []
    /// Instances per environment (each environment's `pool.size` unless overridden).
    private let poolSizeOverride: Int?
    private let startedAt = Date()

    package init(builder: EnvironmentBuilder, poolSize: Int? = nil) {
        self.builder = builder
        self.poolSizeOverride = poolSize
    }

    /// Makes the pools of the environments named (all when empty) and warms them concurrently:
    /// a pool's instances together when its snapshot is cached; on a miss its first instance
    /// alone (it builds the snapshot), then the rest from the snapshot.
    /// - Throws: ``K8sEnvError``; instances already started are stopped.
    package func start(environments names: [String]) async throws(K8sEnvError) {
        let selected = names.isEmpty ? plan.environments.map(\.name) : names
        let builder = self.builder
        pools = selected.map { name in
            let pool = EnvironmentPool(
                environment: name, size: poolSizeOverride ?? plan.environment(named: name)?.poolSize ?? 1,
                acquireTimeout: plan.config.timeouts.acquire.duration,
                factory: EnvironmentInstances(builder: builder, environment: name, keepsFirst: true))
            return (name, pool)
        }
        for (name, pool) in pools {
            await pool.publish { [weak self] event in await self?.record(event, environment: name) }
        }
        let all = pools.map(\.pool)
        let failures = await withTaskGroup(of: K8sEnvError?.self) { group in
            for pool in all {
                group.addTask {
                    do throws(K8sEnvError) { try await pool.warm() } catch { return error }
                    return nil
                }
            }
            var failures: [K8sEnvError] = []
            for await case let failure? in group { failures.append(failure) }
            return failures
        }
        if let first = failures.first {
            await stop()
            throw first
        }
    }

    /// What a pool told: the instances of the run record, and the first failure for ``ended()``.
    private func record(_ event: PoolEvent, environment: String) async {
        switch event {
        case .started(let member, _):
            // The real factory's pools start Instances.
            guard let instance = member as? Instance else { return }
            instances.append((environment, instance, Date()))
            let order = pools.map(\.environment)
            instances.sort { a, b in
                let ea = order.firstIndex(of: a.environment) ?? 0
                let eb = order.firstIndex(of: b.environment) ?? 0
                return ea != eb
                    ? ea < eb : a.instance.name.localizedStandardCompare(b.instance.name) == .orderedAscending
            }
        case .stopped(let name):
            instances.removeAll { $0.instance.name == name }
        case .failed(_, let failure):
            failures.append(failure)
            for waiter in endWaiters.values { waiter.resume(returning: failure) }
            endWaiters.removeAll()
            return
        }
        guard let recording else { return }
        await markBaselines()
        do throws(ProcessError) {
            try recording.state.write(
                record(config: recording.config, profile: recording.profile, detached: recording.detached))
        } catch {
            service?.log("note: the run record could not be rewritten: \(error)")
        }
    }

    /// Failures the pools reported, first first.
    private var failures: [ProcessError] = []
    private var endWaiters: [UUID: CheckedContinuation<ProcessError?, Never>] = [:]

    /// The first instance whose process stopped, with its log tail.
    package func failure() -> ProcessError? {
        for (_, instance, _) in instances { if let f = instance.failure() { return f } }
        return failures.first
    }

    /// Returns when a process of an instance stops by itself (the pools supervise every
    /// instance, replacements too), with which and why; nil at once when the calling task is
    /// cancelled. An instance stopped on purpose (a release with mode stop, a failed reset) is
    /// not an end.
    package func ended() async -> ProcessError? {
        if let first = failures.first { return first }
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ProcessError?, Never>) in
                if Task.isCancelled { continuation.resume(returning: nil) } else { endWaiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.stopWaiting(id) }
        }
    }

    private func stopWaiting(_ id: UUID) {
        endWaiters.removeValue(forKey: id)?.resume(returning: nil)
    }

    /// Where the run record was written: rewritten when the pools change the instances.
    private var recording: (state: StateFolder, config: String, profile: String?, detached: Bool)?

    /// Writes the run record into the run folder, and again whenever the instances change.
    package func writeRecord(to state: StateFolder, config: String, profile: String?, detached: Bool)
        async throws(ProcessError)
    {
        recording = (state, config, profile, detached)
        await markBaselines()
        try state.write(record(config: config, profile: profile, detached: detached))
    }

    /// Each instance's ``DiffBaseline`` revision, by name: taken when the run record first
    /// lists it (the first instances before the pool service's socket is announced; a
    /// replacement, when its pool reports it).
    private var baselines: [String: Int64] = [:]

    private func markBaselines() async {
        let unmarked = instances.map(\.instance).filter { baselines[$0.name] == nil }
        let marks = await withTaskGroup(of: (String, Int64?).self) { group in
            for instance in unmarked { group.addTask { (instance.name, await DiffBaseline.mark(instance)) } }
            var marks: [(String, Int64?)] = []
            for await mark in group { marks.append(mark) }
            return marks
        }
        for case (let name, let revision?) in marks { baselines[name] = revision }
    }

    /// `k8senv open`: the instance's baseline is the one its bundle recorded (its state when the
    /// failed run handed it out), not its state now.
    package func adoptBaseline(_ revision: Int64, of instance: Instance) {
        DiffBaseline.keep(revision, on: instance)
        baselines[instance.name] = revision
    }

    /// The pool API `up` or `run` serves on the session's pools, if any.
    package private(set) var service: PoolService?

    package func attach(_ service: PoolService) { self.service = service }

    /// Stops the pool service, then every pool (each stops its instances), in parallel.
    /// - Parameter exiting: the process exits right after (`up`, `run`): the instances are
    ///   killed at once, before the service winds down, and the embedded stores are left to the
    ///   exit (see ``Instance/beginStop(closingStore:)``).
    package func stop(exiting: Bool = false) async {
        if exiting {
            for (_, instance, _) in instances { instance.beginStop(closingStore: false) }
        }
        // The service first: no lease is granted while the instances stop.
        await service?.shutdown()
        let all = pools.map(\.pool)
        await withTaskGroup(of: Void.self) { group in
            for pool in all { group.addTask { await pool.shutdown() } }
        }
        instances.removeAll()
        for waiter in endWaiters.values { waiter.resume(returning: nil) }
        endWaiters.removeAll()
    }

    /// `path` from the current folder, absolute: a record names its config wherever it is read.
    static func absolute(_ path: String) -> String {
        ((path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path) as NSString)
            .standardizingPath
    }

    package func record(config: String, profile: String?, detached: Bool) -> RunRecord {
        RunRecord(
            ownerPID: getpid(),
            ownerBinary: ChildProcess.selfExecutable,
            ownerStartTime: Ownership.startTime(of: getpid()), config: Self.absolute(config), profile: profile,
            detached: detached, runDirectory: runDirectory,
            poolSocket: service?.socketPath,
            startedAt: startedAt,
            instances: instances.map { env, i, started in
                RunRecord.InstanceRecord(
                    name: i.name, environment: env, server: i.server, kubeconfig: i.kubeconfigPath,
                    apiServerPID: i.apiServerProcess.pid, storagePID: i.store.pid,
                    apiServerBinary: builder.binaries.kubeAPIServer, storageBinary: builder.binaries.storage.program,
                    apiServerStartTime: Ownership.startTime(of: i.apiServerProcess.pid),
                    storageStartTime: Ownership.startTime(of: i.store.pid),
                    logs: [i.apiServerProcess.logPath, i.store.logPath, i.controllerManager?.logPath].compactMap { $0 },
                    webhook: i.configuration.webhook,
                    users: i.users.isEmpty
                        ? nil : i.users.map { RunRecord.UserRecord(name: $0.name, kubeconfig: $0.kubeconfigPath) },
                    controllerManagerPID: i.controllerManager?.pid,
                    controllerManagerBinary: i.controllerManager.flatMap { _ in
                        builder.binaries.kubeControllerManager?.path
                    },
                    controllerManagerStartTime: i.controllerManager.flatMap { Ownership.startTime(of: $0.pid) },
                    baselineRevision: baselines[i.name], startedAt: started)
            })
    }
}
