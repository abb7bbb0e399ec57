import Foundation
import K8sEnvSpec

/// Brings up the environments of a plan, applies their CRDs and seeds, and tears them down.
package actor Session {
    package let plan: Plan
    package let binaries: ResolvedBinaries
    package let files: SourceFiles
    package let runDirectory: String
    private let progress: @Sendable (String) -> Void
    package private(set) var instances: [(environment: String, instance: Instance)] = []

    package init(plan: Plan, binaries: ResolvedBinaries, files: SourceFiles, runDirectory: String,
                 progress: @escaping @Sendable (String) -> Void) {
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
        let config = plan.config
        let configuration = InstanceConfiguration(
            name: "\(name)-0", directory: runDirectory + "/\(name)-0", storage: config.storage, binaries: binaries,
            extraArgs: config.apiServerExtraArgs, startTimeout: config.timeouts.start.duration,
            stopTimeout: config.timeouts.stop.duration)
        let instance: Instance
        let times: Instance.StartTimes
        do { (instance, times) = try await Instance.start(configuration) } catch { return .failure(.process(error)) }
        progress("\(name): \(config.storage.rawValue) ready in \(Self.format(times.storage)), kube-apiserver \(binaries.kubeAPIServerVersion) ready in \(Self.format(times.apiServer)) at \(instance.server)")
        let applier = Applier(client: instance.client, files: files, serverVersion: binaries.kubeAPIServerVersion)
        do {
            for environment in plan.lineage(of: name) {
                let clock = ContinuousClock()
                var started = clock.now
                if !environment.crdFiles.isEmpty {
                    let n = try await applier.applyCRDs(environment.crdFiles, timeout: config.timeouts.crds.duration)
                    progress("\(name): \(n) CRD\(n == 1 ? "" : "s") of \(environment.name) established in \(Self.format(clock.now - started))")
                }
                for seed in environment.seedSets {
                    started = clock.now
                    let n = try await applier.applySeedSet(seed.files)
                    progress("\(name): seed set \(environment.name)/\(seed.name): \(n) object\(n == 1 ? "" : "s") applied in \(Self.format(clock.now - started))")
                }
            }
        } catch {
            await instance.stop()
            return .failure(.manifests(error))
        }
        return .success((name, instance))
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

    package static func format(_ d: Duration) -> String {
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return String(format: "%.2fs", seconds)
    }
}
