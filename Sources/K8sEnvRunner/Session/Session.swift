import Foundation
import K8sEnvSpec

/// Brings up the environments of a plan, applies their CRDs and seeds, and tears them down.
package actor Session {
    package let plan: Plan
    package let binaries: ResolvedBinaries
    package let files: SourceFiles
    package let runDirectory: String
    private let progress: @Sendable (String) -> Void
    private let cache: CacheSettings?
    package private(set) var instances: [(environment: String, instance: Instance)] = []

    package init(plan: Plan, binaries: ResolvedBinaries, files: SourceFiles, runDirectory: String, cache: CacheSettings?,
                 progress: @escaping @Sendable (String) -> Void) {
        self.cache = cache
        self.plan = plan
        self.binaries = binaries
        self.files = files
        self.runDirectory = runDirectory
        self.progress = progress
    }

    /// An error of a start: a process failure, or manifests the server rejected.
    package enum StartError: Error, Sendable {
        case process(ProcessError)
        case manifests(Diagnostics)
        case cache(CacheError)
    }

    /// The snapshot cache and the keys of the plan's environments; nil with --no-cache.
    package struct CacheSettings: Sendable {
        package var store: SnapshotStore
        package var keys: [String: String]

        package init(store: SnapshotStore, keys: [String: String]) {
            self.store = store
            self.keys = keys
        }
    }

    /// Starts one instance per environment named (all when empty), concurrently, and applies
    /// each environment's lineage (what it extends first).
    /// - Throws: ``StartError``; instances already started are stopped.
    package func start(environments names: [String]) async throws(StartError) {
        let selected = names.isEmpty ? plan.environments.map(\.name) : names
        let result = await withTaskGroup(of: Result<(String, Instance), StartError>.self) { group in
            for name in selected {
                group.addTask { await self.startEnvironment(name) }
            }
            var results: [Result<(String, Instance), StartError>] = []
            for await r in group { results.append(r) }
            return results
        }
        var firstError: StartError?
        for r in result {
            switch r {
            case .success(let pair): instances.append((pair.0, pair.1))
            case .failure(let e): firstError = firstError ?? e
            }
        }
        instances.sort { a, b in
            (selected.firstIndex(of: a.environment) ?? 0) < (selected.firstIndex(of: b.environment) ?? 0)
        }
        if let firstError {
            await stop()
            throw firstError
        }
    }

    private func startEnvironment(_ name: String) async -> Result<(String, Instance), StartError> {
        do throws(StartError) {
            if let cache {
                return .success((name, try await provide(name, cache: cache, keepRunning: true)!))
            }
            let instance = try await startInstance(name, suffix: "0", snapshot: nil)
            do throws(StartError) {
                for environment in plan.lineage(of: name) { try await apply(environment, to: instance, as: name) }
            } catch {
                await instance.stop()
                throw error
            }
            return .success((name, instance))
        } catch {
            return .failure(error)
        }
    }

    private func startInstance(_ name: String, suffix: String, snapshot: Snapshot?) async throws(StartError) -> Instance {
        let config = plan.config
        let configuration = InstanceConfiguration(
            name: "\(name)-\(suffix)", directory: runDirectory + "/\(name)-\(suffix)", storage: config.storage,
            binaries: binaries, extraArgs: config.apiServerExtraArgs, startTimeout: config.timeouts.start.duration,
            stopTimeout: config.timeouts.stop.duration, snapshot: snapshot?.dataPath)
        let instance: Instance
        let times: Instance.StartTimes
        do { (instance, times) = try await Instance.start(configuration) } catch { throw .process(error) }
        progress("\(name): \(config.storage.rawValue) ready in \(Self.format(times.storage)), kube-apiserver \(binaries.kubeAPIServerVersion) ready in \(Self.format(times.apiServer)) at \(instance.server)")
        return instance
    }

    /// Applies one environment's own CRDs and seed sets.
    /// - Returns: the number of objects applied.
    @discardableResult
    private func apply(_ environment: Plan.Environment, to instance: Instance, as name: String) async throws(StartError) -> Int {
        let applier = Applier(client: instance.client, files: files, serverVersion: binaries.kubeAPIServerVersion)
        let config = plan.config
        let clock = ContinuousClock()
        var total = 0
        do {
            var started = clock.now
            if !environment.crdFiles.isEmpty {
                let n = try await applier.applyCRDs(environment.crdFiles, timeout: config.timeouts.crds.duration)
                total += n
                progress("\(name): \(n) CRD\(n == 1 ? "" : "s") of \(environment.name) established in \(Self.format(clock.now - started))")
            }
            for seed in environment.seedSets {
                started = clock.now
                let n = try await applier.applySeedSet(seed.files)
                total += n
                progress("\(name): seed set \(environment.name)/\(seed.name): \(n) object\(n == 1 ? "" : "s") applied in \(Self.format(clock.now - started))")
            }
        } catch {
            throw .manifests(error)
        }
        return total
    }

    /// The snapshot of an environment, built if it is not cached (parents first), under the
    /// key's lock so concurrent `up`s build it once.
    /// - Parameter keepRunning: return an instance of it (the builder, kept running, or one
    ///   started from the snapshot) instead of only making sure the snapshot exists.
    private func provide(_ name: String, cache: CacheSettings, keepRunning: Bool) async throws(StartError) -> Instance? {
        guard let key = cache.keys[name], let environment = plan.environment(named: name) else {
            throw .process(ProcessError(.launchFailed, "no cache key for environment \(name)"))
        }
        let short = String(key.prefix(12))
        func hit(_ snapshot: Snapshot, _ how: String) async throws(StartError) -> Instance? {
            guard keepRunning else { return nil }
            progress("\(name): snapshot \(short) \(how)")
            return try await startInstance(name, suffix: "0", snapshot: snapshot)
        }
        let (cached, corrupt) = cache.store.valid(key)
        if let cached { return try await hit(cached, "(cache hit)") }
        if let corrupt { progress("\(name): cached snapshot \(short) was unusable (\(corrupt)); rebuilding") }
        let lock: SnapshotStore.Lock
        do { lock = try await cache.store.lock(key) } catch { throw .cache(error) }
        defer { lock.release() }
        let (built, corruptAfterWait) = cache.store.valid(key)
        if let built { return try await hit(built, "(cache hit: built by another k8senv while this one waited)") }
        if let corruptAfterWait { progress("\(name): cached snapshot \(short) was unusable (\(corruptAfterWait)); rebuilding") }

        progress("\(name): snapshot \(short) not cached (cache miss); building it")
        let clock = ContinuousClock()
        let started = clock.now
        var parentSnapshot: Snapshot?
        if let parent = environment.parent {
            _ = try await provide(parent, cache: cache, keepRunning: false)
            guard let key = cache.keys[parent], let snapshot = cache.store.valid(key).0 else {
                throw .cache(CacheError(message: "the snapshot of \(parent) vanished while \(name) was built from it"))
            }
            parentSnapshot = snapshot
        }
        var instance: Instance? = try await startInstance(name, suffix: keepRunning ? "0" : "build", snapshot: parentSnapshot)
        do throws(StartError) {
            let objects = try await apply(environment, to: instance!, as: name)
            let staging: String
            do { staging = try cache.store.makeStaging(key) } catch { throw StartError.cache(error) }
            do {
                switch plan.config.storage {
                case .etcd:
                    try await SnapshotFiles.saveEtcd(endpoint: instance!.storageURL, into: staging + "/data",
                                                     etcdctl: binaries.etcdctl, log: instance!.configuration.directory + "/logs/etcdctl.log")
                case .kine:
                    // A consistent copy of SQLite needs kine stopped.
                    await instance!.stop()
                    try SnapshotFiles.saveKine(database: instance!.configuration.directory + "/kine/state.db", into: staging + "/data")
                    instance = nil
                }
            } catch {
                try? FileManager.default.removeItem(atPath: staging)
                throw StartError.process(error)
            }
            let metadata = SnapshotMetadata(
                key: key, environment: name, config: plan.config.file, parentKey: environment.parent.flatMap { cache.keys[$0] },
                storage: plan.config.storage.rawValue, kubeAPIServerVersion: binaries.kubeAPIServerVersion.text,
                files: (environment.crdFiles + environment.seedSets.flatMap(\.files)).map(\.relativePath),
                objects: objects, size: 0, checksum: "", buildSeconds: Self.seconds(clock.now - started), createdAt: Date())
            let snapshot: Snapshot
            do { snapshot = try cache.store.publish(staging, metadata: metadata) } catch { throw StartError.cache(error) }
            progress("\(name): snapshot \(short) saved (\(Self.bytes(snapshot.metadata.size))) in \(Self.format(clock.now - started))")
            if !keepRunning {
                await instance?.stop()
                return nil
            }
            if let instance { return instance }
            return try await startInstance(name, suffix: "0", snapshot: snapshot)
        } catch {
            await instance?.stop()
            throw error
        }
    }

    /// The first instance whose process stopped, with its log tail.
    package func failure() -> ProcessError? {
        for (_, instance) in instances { if let f = instance.failure() { return f } }
        return nil
    }

    /// Stops every instance, in parallel.
    package func stop() async {
        let all = instances.map(\.instance)
        instances.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for instance in all { group.addTask { await instance.stop() } }
        }
    }

    package func record(config: String, profile: String?, detached: Bool) -> RunRecord {
        RunRecord(
            ownerPID: getpid(), config: config, profile: profile, detached: detached, runDirectory: runDirectory,
            startedAt: Date(),
            instances: instances.map { env, i in
                RunRecord.InstanceRecord(
                    name: i.name, environment: env, server: i.server, kubeconfig: i.kubeconfigPath,
                    apiServerPID: i.apiServerProcess.pid, storagePID: i.storageProcess.pid,
                    apiServerBinary: binaries.kubeAPIServer, storageBinary: binaries.storage,
                    logs: [i.apiServerProcess.logPath, i.storageProcess.logPath].compactMap { $0 })
            })
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1_048_576) : String(format: "%.0f kB", Double(n) / 1024)
    }

    package static func format(_ d: Duration) -> String {
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return String(format: "%.2fs", seconds)
    }
}
