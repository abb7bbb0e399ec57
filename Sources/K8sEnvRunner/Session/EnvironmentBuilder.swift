import Foundation
import K8sEnvSpec

/// The snapshot cache and the keys of the plan's environments; nil with --no-cache.
package struct CacheSettings: Sendable {
    package var store: SnapshotStore
    package var keys: [String: String]

    package init(store: SnapshotStore, keys: [String: String]) {
        self.store = store
        self.keys = keys
    }
}

/// Makes instances of a plan's environments: from the snapshot cache (building what is
/// missing, parents first, once across processes), or from scratch with --no-cache.
/// Used by `up`/`run` (``Session``) and by pools (``EnvironmentPool``).
package struct EnvironmentBuilder: Sendable {
    package let plan: Plan
    package let binaries: ResolvedBinaries
    package let files: SourceFiles
    package let runDirectory: String
    package let cache: CacheSettings?
    /// The run's webhook certificate and port, and what each environment installs after each
    /// start; nil when no environment has webhooks or a CRD with a conversion webhook.
    package let webhooks: WebhookServing?
    /// The kube-controller-manager controllers of each environment that runs some, checked
    /// against the binary (`default` expanded).
    package let controllers: [String: [String]]
    /// The run's `--trace` (the recorder ``prepare`` ran under): the entry points record into it
    /// even when a pool calls them later, outside the start's task. Finished by whoever stops the
    /// session.
    package var trace: Trace?
    let progress: @Sendable (String) -> Void

    package init(
        plan: Plan, binaries: ResolvedBinaries, files: SourceFiles, runDirectory: String, cache: CacheSettings?,
        webhooks: WebhookServing? = nil, controllers: [String: [String]] = [:],
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.plan = plan
        self.binaries = binaries
        self.files = files
        self.runDirectory = runDirectory
        self.cache = cache
        self.webhooks = webhooks
        self.controllers = controllers
        self.progress = progress
    }

    /// The one front door of `up`/`run` and pools: the plan's binaries resolved (the
    /// kube-apiserver version read once), the run folder made, the snapshot cache opened and
    /// every environment's key computed (unless `useCache` is false).
    package static func prepare(
        plan: Plan, files: SourceFiles, runDirectory: String, useCache: Bool, cacheRoot: String?,
        progress: @escaping @Sendable (String) -> Void
    ) async throws(K8sEnvError) -> EnvironmentBuilder {
        let binaries: ResolvedBinaries
        var gateErrors: [Diagnostic]
        var controllers: [String: [String]] = [:]
        do throws(ProcessError) {
            let probing = ContinuousClock.now
            binaries = try await ResolvedBinaries.resolve(plan.config)
            // Before anything starts: a gate the binary lacks would only show as its exit.
            gateErrors = try await FeatureGates.check(plan.config, apiServer: binaries.kubeAPIServer)
            if let controllerManager = binaries.kubeControllerManager {
                let resolved = ControllerNames.resolve(
                    plan.config, available: try await ControllerNames.listed(by: controllerManager.path),
                    version: controllerManager.version)
                controllers = resolved.controllers
                gateErrors += resolved.errors
            }
            Trace.current?.complete("binary probe", track: Trace.runTrack, start: probing, end: .now)
            try PrivateFiles.makeDirectory(runDirectory)
        } catch {
            throw K8sEnvError(error)
        }
        if !gateErrors.isEmpty { throw K8sEnvError(.invalidConfig, Diagnostics(gateErrors), files: files) }
        let webhooks = try WebhookServing.prepare(plan: plan, files: files, runDirectory: runDirectory)
        var cache: CacheSettings?
        if useCache {
            let store = SnapshotStore(root: cacheRoot ?? SnapshotStore.defaultRoot)
            store.cleanLeftovers()
            do throws(Diagnostic) {
                let keys = try await Trace.span("cache key") { () async throws(Diagnostic) in
                    try CacheKey.compute(plan, apiServerVersion: binaries.kubeAPIServerVersion.text, files: files)
                }
                cache = CacheSettings(store: store, keys: keys)
            } catch {
                throw K8sEnvError(.invalidConfig, error, files: files)
            }
        }
        var builder = EnvironmentBuilder(
            plan: plan, binaries: binaries, files: files, runDirectory: runDirectory, cache: cache,
            webhooks: webhooks, controllers: controllers, progress: progress)
        builder.trace = Trace.current
        return builder
    }

    /// The first instance of an environment: a cache hit starts from the snapshot; a miss keeps
    /// the instance that built the snapshot; without a cache, a new instance with the lineage
    /// (what it extends first) applied. Then its webhooks are installed.
    package func firstInstance(_ name: String) async throws(K8sEnvError) -> Instance {
        try await Trace.withRecorder(trace) { () async throws(K8sEnvError) in try await tracedFirstInstance(name) }
    }

    private func tracedFirstInstance(_ name: String) async throws(K8sEnvError) -> Instance {
        let instance: Instance
        if let cache {
            switch try await provide(name, cache: cache, keepRunning: true) {
            case .running(let running, _): instance = running
            case .saved(let snapshot): instance = try await startInstance(name, suffix: "0", snapshot: snapshot)
            }
        } else {
            instance = try await freshInstance(name, suffix: "0")
        }
        return try await startingControllers(on: try await installingWebhooks(on: instance, as: name), as: name)
    }

    /// Another instance of an environment (index ≥ 1): from its snapshot, or built afresh
    /// without a cache; then its webhooks are installed.
    package func instance(_ name: String, index: Int) async throws(K8sEnvError) -> Instance {
        try await Trace.withRecorder(trace) { () async throws(K8sEnvError) in
            try await tracedInstance(name, index: index)
        }
    }

    private func tracedInstance(_ name: String, index: Int) async throws(K8sEnvError) -> Instance {
        let instance: Instance
        if let snapshot = try await snapshot(for: name, track: "\(name)-\(index)") {
            instance = try await startInstance(name, suffix: "\(index)", snapshot: snapshot)
        } else {
            instance = try await freshInstance(name, suffix: "\(index)")
        }
        return try await startingControllers(on: try await installingWebhooks(on: instance, as: name), as: name)
    }

    /// Installs the environment's webhook configurations and points its CRDs' conversion
    /// webhooks at the run's webhook server: on each instance, after the snapshot (which holds
    /// none of it: the port and the CA are the run's) is restored or saved. Bounded by
    /// `timeouts.start`. On failure the instance is stopped.
    func installingWebhooks(on instance: Instance, as name: String) async throws(K8sEnvError) -> Instance {
        guard let install = webhooks?.installs[name] else { return instance }
        var applier = Applier(
            client: instance.client, files: files, serverVersion: binaries.kubeAPIServerVersion,
            serverLog: instance.apiServerProcess.logPath.map(ServerLog.init(path:)))
        let timeout = plan.config.timeouts.start
        let clock = ContinuousClock()
        let started = clock.now
        applier.deadline = (started + timeout.duration, "timeouts.start (\(timeout))")
        do {
            let (configurations, conversions) = try await Trace.span("webhooks", track: instance.name) {
                () async throws(Diagnostics) in try await applier.applyWebhooks(install)
            }
            var parts: [String] = []
            if configurations > 0 {
                parts.append("\(configurations) webhook configuration\(configurations == 1 ? "" : "s")")
            }
            if conversions > 0 { parts.append("\(conversions) CRD conversion webhook\(conversions == 1 ? "" : "s")") }
            progress(
                "\(instance.name): \(parts.joined(separator: " and ")) pointed at https://\(install.endpoint.host):\(install.endpoint.port) in \(Self.format(clock.now - started))"
            )
            return instance
        } catch {
            await instance.stop()
            throw K8sEnvError(.manifests, error, files: files)
        }
    }

    /// Starts kube-controller-manager beside the instance when its environment runs
    /// `controllers`: after the snapshot is restored or saved (no controller runs while a
    /// snapshot is built: what they would write is not the environment's content). Bounded by
    /// `timeouts.start`. On failure the instance is stopped.
    func startingControllers(on instance: Instance, as name: String) async throws(K8sEnvError) -> Instance {
        guard !instance.configuration.controllers.isEmpty else { return instance }
        let clock = ContinuousClock()
        let started = clock.now
        do {
            try await Trace.span("kube-controller-manager", track: instance.name) { () async throws(ProcessError) in
                try await instance.startControllerManager(deadline: started + plan.config.timeouts.start.duration)
            }
        } catch {
            await instance.stop()
            throw K8sEnvError(error)
        }
        let version = binaries.kubeControllerManager.map { " \($0.version)" } ?? ""
        progress(
            "\(instance.name): kube-controller-manager\(version) ready in \(Self.format(clock.now - started)) (\(instance.configuration.controllers.joined(separator: ", ")))"
        )
        return instance
    }

    /// The environment's snapshot, built if missing; nil without a cache.
    /// - Parameter track: the trace track its lookup is recorded on (the instance it is for).
    package func snapshot(for name: String, track: String = Trace.runTrack) async throws(K8sEnvError) -> Snapshot? {
        guard let cache, let key = cache.keys[name] else { return nil }
        let found = await Trace.span("snapshot lookup", track: track, arguments: ["key": String(key.prefix(12))]) {
            cache.store.lookup(key)
        }
        if case .hit(let snapshot) = found { return snapshot }
        return try await provideSnapshot(name, cache: cache)
    }

    func freshInstance(_ name: String, suffix: String) async throws(K8sEnvError) -> Instance {
        let instance = try await startInstance(name, suffix: suffix, snapshot: nil)
        do throws(K8sEnvError) {
            for environment in plan.lineage(of: name) { try await apply(environment, to: instance, as: name) }
        } catch {
            await instance.stop()
            throw error
        }
        return instance
    }

    package func startInstance(_ name: String, suffix: String, snapshot: Snapshot?) async throws(K8sEnvError)
        -> Instance
    {
        let config = plan.config
        let configuration = InstanceConfiguration(
            name: "\(name)-\(suffix)", directory: runDirectory + "/\(name)-\(suffix)", binaries: binaries,
            extraArgs: config.apiServerExtraArgs,
            featureGates: config.apiServerFeatureGates.values, runtimeConfig: config.apiServerRuntimeConfig.values,
            users: UserIdentity.of(config), authorization: config.authorization,
            startTimeout: config.timeouts.start.duration, stopTimeout: config.timeouts.stop.duration,
            snapshot: snapshot?.dataPath,
            webhook: webhooks?.installs[name]?.endpoint,
            // A snapshot build that is not kept running does not audit: nothing reads its log.
            audit: suffix == "build" ? nil : config.audit(for: name).map { InstanceAudit($0, config: config) },
            controllers: controllers[name] ?? [])
        let instance: Instance
        let times: Instance.StartTimes
        do {
            (instance, times) = try await Trace.span("instance start", track: configuration.name) {
                () async throws(ProcessError) in
                try await Instance.start(configuration)
            }
        } catch { throw K8sEnvError(error) }
        progress(
            "\(name): \(config.storage.rawValue) ready in \(Self.format(times.storage)), kube-apiserver \(binaries.kubeAPIServerVersion) ready in \(Self.format(times.apiServer)) at \(instance.server)"
        )
        return instance
    }

    /// Applies one environment's own CRDs and seed sets.
    /// - Returns: the number of objects applied.
    @discardableResult
    func apply(_ environment: Plan.Environment, to instance: Instance, as name: String) async throws(K8sEnvError) -> Int
    {
        var applier = Applier(
            client: instance.client, files: files, serverVersion: binaries.kubeAPIServerVersion,
            serverLog: instance.apiServerProcess.logPath.map(ServerLog.init(path:)))
        let config = plan.config
        let clock = ContinuousClock()
        var total = 0
        do {
            var started = clock.now
            if !environment.crdFiles.isEmpty {
                let n = try await applier.applyCRDs(environment.crdFiles, timeout: config.timeouts.crds.duration)
                total += n
                Trace.current?.complete(
                    "CRDs applied and Established", track: instance.name, start: started, end: clock.now,
                    arguments: ["environment": environment.name, "CRDs": "\(n)"])
                progress(
                    "\(name): \(n) CRD\(n == 1 ? "" : "s") of \(environment.name) established in \(Self.format(clock.now - started))"
                )
            }
            // timeouts.seeds bounds this environment's own seed sets, all of them.
            applier.deadline = (clock.now + config.timeouts.seeds.duration, "timeouts.seeds (\(config.timeouts.seeds))")
            for seed in environment.seedSets {
                started = clock.now
                let n = try await applier.applySeedSet(seed.files)
                total += n
                Trace.current?.complete(
                    "seed set \(environment.name)/\(seed.name)", track: instance.name, start: started, end: clock.now,
                    arguments: ["objects": "\(n)"])
                progress(
                    "\(name): seed set \(environment.name)/\(seed.name): \(n) object\(n == 1 ? "" : "s") applied in \(Self.format(clock.now - started))"
                )
            }
        } catch {
            throw K8sEnvError(.manifests, error, files: files)
        }
        return total
    }

    /// What ``provide(_:cache:keepRunning:)`` hands back.
    enum Provided: Sendable {
        /// An instance of the environment, running (the builder kept, or one started from the
        /// cached snapshot), and the snapshot.
        case running(Instance, Snapshot)
        /// The snapshot; nothing runs.
        case saved(Snapshot)
    }

    /// The snapshot of an environment, built if it is not cached; nothing left running.
    func provideSnapshot(_ name: String, cache: CacheSettings) async throws(K8sEnvError) -> Snapshot {
        switch try await provide(name, cache: cache, keepRunning: false) {
        case .saved(let snapshot): return snapshot
        case .running(let instance, let snapshot):
            await instance.stop()
            return snapshot
        }
    }

    /// The snapshot of an environment, built if it is not cached (parents first), under the
    /// key's lock so concurrent `up`s build it once.
    /// - Parameter keepRunning: hand back a running instance of it too (the builder, kept, or
    ///   one started from the snapshot) instead of only making sure the snapshot exists.
    func provide(_ name: String, cache: CacheSettings, keepRunning: Bool) async throws(K8sEnvError) -> Provided {
        guard let key = cache.keys[name], let environment = plan.environment(named: name) else {
            throw K8sEnvError(.cache, "no cache key for environment \(name)")
        }
        let short = String(key.prefix(12))
        func hit(_ snapshot: Snapshot, _ how: String) async throws(K8sEnvError) -> Provided {
            guard keepRunning else { return .saved(snapshot) }
            progress("\(name): snapshot \(short) \(how)")
            return .running(try await startInstance(name, suffix: "0", snapshot: snapshot), snapshot)
        }
        let track = "\(name)-\(keepRunning ? "0" : "build")"
        let found = await Trace.span("snapshot lookup", track: track, arguments: ["key": short]) {
            cache.store.lookup(key)
        }
        if case .hit(let cached) = found { return try await hit(cached, "(cache hit)") }
        let lock: SnapshotStore.Lock
        do { lock = try await cache.store.lock(key) } catch { throw K8sEnvError(error) }
        defer { lock.release() }
        switch cache.store.lookup(key) {
        case .hit(let built): return try await hit(built, "(cache hit: built by another k8senv while this one waited)")
        case .corrupt(let reason):
            progress("\(name): cached snapshot \(short) was unusable (\(reason)); rebuilding")
            cache.store.discard(key)
        case .missing: break
        }

        progress("\(name): snapshot \(short) not cached (cache miss); building it")
        let clock = ContinuousClock()
        let started = clock.now
        var parentSnapshot: Snapshot?
        if let parent = environment.parent { parentSnapshot = try await provideSnapshot(parent, cache: cache) }
        let instance = try await startInstance(name, suffix: keepRunning ? "0" : "build", snapshot: parentSnapshot)
        do throws(K8sEnvError) {
            let objects = try await apply(environment, to: instance, as: name)
            let saving = clock.now
            let staging: String
            do { staging = try cache.store.makeStaging(key) } catch { throw K8sEnvError(error) }
            do throws(ProcessError) { try await instance.store.saveSnapshot(into: staging + "/data") } catch {
                try? FileManager.default.removeItem(atPath: staging)
                throw K8sEnvError(error)
            }
            let metadata = SnapshotMetadata(
                key: key, environment: name, config: plan.config.file,
                parentKey: environment.parent.flatMap { cache.keys[$0] },
                storage: plan.config.storage.rawValue, kubeAPIServerVersion: binaries.kubeAPIServerVersion.text,
                files: (environment.crdFiles + environment.seedSets.flatMap(\.files)).map(\.relativePath),
                objects: objects, size: 0, checksum: "", buildSeconds: Self.seconds(clock.now - started),
                createdAt: Date())
            let snapshot: Snapshot
            do { snapshot = try cache.store.publish(staging, metadata: metadata) } catch { throw K8sEnvError(error) }
            Trace.current?.complete(
                "snapshot save", track: instance.name, start: saving, end: clock.now,
                arguments: ["key": short, "bytes": "\(snapshot.metadata.size)"])
            progress(
                "\(name): snapshot \(short) saved (\(Self.bytes(snapshot.metadata.size))) in \(Self.format(clock.now - started))"
            )
            if !keepRunning {
                await instance.stop()
                return .saved(snapshot)
            }
            return .running(instance, snapshot)
        } catch {
            await instance.stop()
            throw error
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1_048_576) : String(format: "%.0f kB", Double(n) / 1024)
    }

    package static func format(_ d: Duration) -> String {
        String(format: "%.2fs", seconds(d))
    }
}
