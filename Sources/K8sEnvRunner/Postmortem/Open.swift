import Foundation
import K8sEnvSpec

/// `k8senv open BUNDLE`: one instance served from a post-mortem bundle, its state in the current
/// folder's `.k8senv/` as `up`'s is, so that `env`, `diff`, `audit` and `down` find it
/// (docs/explanation/postmortem.md). The bundle is read by ``SnapshotBundle`` (its checks:
/// sizes, signature, checksum, store file) and nothing of it is run: its config and CRDs are
/// kept as files, never applied; kube-apiserver starts with k8senv's own arguments.
package enum PostmortemOpen {
    /// What `k8senv open --list` prints: the header, the files, what was left out; the signature
    /// and checksum verified by reading the whole bundle (nothing is written).
    /// - Throws: ``K8sEnvError`` (`.cache`) naming what is wrong with the bundle.
    package static func list(_ path: String) throws(K8sEnvError) -> [String] {
        let header: SnapshotBundle.Header
        let key: BundleKey
        do throws(BundleError) {
            let bundle = try SnapshotBundle.open(path, limits: try BundleLimits.current())
            key = try BundleKey.current()
            try bundle.verify(key: key)
            header = bundle.header
        } catch {
            throw refused(error)
        }
        let e = ControlCharacters.escaped
        let meta = header.snapshot
        var lines: [String] = []
        if let info = header.postmortem {
            lines.append("post-mortem bundle of \(e(info.instance)) (environment \(e(info.environment)))")
            lines.append(
                "  captured:        \(ISO8601DateFormatter().string(from: info.capturedAt)): \(e(info.reason))")
            lines.append(
                "  started from:    \(info.startedFrom.map { "snapshot " + $0.prefix(12) } ?? "no snapshot (--no-cache)")"
            )
            lines.append(
                "  baseline:        \(info.baselineRevision.map { "revision \($0)" } ?? "none recorded (diff cannot compare)")"
            )
            if let profile = info.profile { lines.append("  profile:         \(e(profile))") }
        } else {
            lines.append("snapshot bundle of \(e(meta.environment)) (from `k8senv cache export`: no baseline, no logs)")
        }
        lines.append("  config:          \(e(meta.config))")
        lines.append("  storage:         \(e(meta.storage)), kube-apiserver \(e(meta.kubeAPIServerVersion))")
        lines.append("  signed with:     \(key.description) (verified)")
        lines.append("  files:")
        for file in header.files { lines.append("    \(file.name)  \(file.size) bytes") }
        for note in header.postmortem?.omitted ?? [] { lines.append("  left out: \(e(note))") }
        return lines
    }

    /// What `open` needs besides the bundle: the state folder, and the config (with its profile)
    /// whose binaries to use; `file` empty: the defaults (``Config/forOpening(storage:environment:directory:variables:)``).
    /// With `tracePath`, the open's phases (bundle check, binary probe, store restored) and the
    /// instance's start go there as `up`'s do; the session keeps the trace until it stops.
    package static func start(
        bundle path: String, options: Lifecycle.Options, detached: Bool,
        output: @escaping @Sendable (String) -> Void
    ) async throws(K8sEnvError) -> Session {
        try await Trace.recording(to: options.tracePath) { () async throws(K8sEnvError) in
            try await startTraced(bundle: path, options: options, detached: detached, output: output)
        }
    }

    private static func startTraced(
        bundle path: String, options: Lifecycle.Options, detached: Bool,
        output: @escaping @Sendable (String) -> Void
    ) async throws(K8sEnvError) -> Session {
        let state = options.stateFolder
        let cleanup = state.cleanStaleRuns()
        for dir in cleanup.cleaned { output("cleaned up after a run that did not stop: \(dir)") }
        for reason in cleanup.refused { output("note: \(reason)") }
        let (bundle, key) = try await Trace.span("bundle check") {
            () async throws(K8sEnvError) -> (SnapshotBundle, BundleKey) in
            do throws(BundleError) {
                return (try SnapshotBundle.open(path, limits: try BundleLimits.current()), try BundleKey.current())
            } catch {
                throw refused(error)
            }
        }
        let header = bundle.header
        let environment = header.postmortem?.environment ?? header.snapshot.environment
        guard PostmortemInfo.isEnvironmentName(environment) else {
            throw refused(
                BundleError(
                    .malformed, "\(path): the environment name \"\(environment)\" is not a k8senv environment name"))
        }
        let storage = StorageKind(rawValue: header.snapshot.storage)!  // checked by open
        var config = Config.forOpening(
            storage: storage, environment: environment, directory: FileManager.default.currentDirectoryPath)
        if !options.file.isEmpty {
            do throws(Diagnostics) {
                config.binaries = try ConfigLoader(files: SourceFiles()).load(options.file, profile: options.profile)
                    .binaries
            } catch {
                throw K8sEnvError(.invalidConfig, error, files: SourceFiles())
            }
        }
        // etcd and kine: kube-apiserver does not compact, so the baseline stays readable for diff.
        config.apiServerExtraArgs = ["--etcd-compaction-interval=0"]
        let binaries = try await Trace.span("binary probe") { () async throws(K8sEnvError) -> ResolvedBinaries in
            do throws(ProcessError) { return try await ResolvedBinaries.resolve(config) } catch {
                throw K8sEnvError(error)
            }
        }
        let version = binaries.kubeAPIServerVersion.text
        if header.snapshot.kubeAPIServerVersion != version {
            throw refused(
                BundleError(
                    .version,
                    "\(path): the instance ran kube-apiserver \(header.snapshot.kubeAPIServerVersion), but \(binaries.kubeAPIServer) here is \(version); open it with \(header.snapshot.kubeAPIServerVersion) (K8SENV_KUBE_APISERVER, or -f a config whose binaries.kubeAPIServer is that release)"
                ))
        }
        let runDirectory: String
        do throws(ProcessError) { runDirectory = try state.makeRunDirectory() } catch { throw K8sEnvError(error) }
        do throws(K8sEnvError) {
            let files = runDirectory + "/bundle"
            let cache = SnapshotStore(root: runDirectory + "/cache")
            // The data streamed out and checked (signature, checksum, store file), then the store
            // file as a snapshot of a cache of the run's own, which the session starts from.
            try await Trace.span(
                "store restored",
                arguments: ["key": String(header.snapshot.key.prefix(12)), "storage": storage.rawValue]
            ) {
                () async throws(K8sEnvError) in
                do throws(BundleError) { try bundle.extract(into: files, key: key) } catch { throw refused(error) }
                do throws(CacheError) {
                    let staging = try cache.makeStaging(header.snapshot.key)
                    for storeFile in StorageBackends.snapshotFormat(of: storage).files {
                        guard rename(files + "/" + storeFile, staging + "/data/" + storeFile) == 0 else {
                            throw CacheError(
                                message: "cannot move \(storeFile) into \(staging): \(String(cString: strerror(errno)))"
                            )
                        }
                    }
                    _ = try cache.publish(staging, metadata: header.snapshot)
                } catch {
                    throw K8sEnvError(.cache, error.message)
                }
            }
            let quiet = options.quiet
            let plan: Plan
            do throws(Diagnostics) { plan = try Plan(config) } catch {
                throw K8sEnvError(.invalidConfig, error, files: SourceFiles())
            }
            var builder = EnvironmentBuilder(
                plan: plan, binaries: binaries, files: SourceFiles(), runDirectory: runDirectory,
                cache: CacheSettings(store: cache, keys: [environment: header.snapshot.key]),
                progress: { line in if !quiet { output(line) } })
            builder.trace = Trace.current
            let session = Session(builder: builder, poolSize: 1)
            do throws(K8sEnvError) {
                try await session.start(environments: [environment])
                guard let instance = await session.instances.first?.instance else {
                    throw K8sEnvError(.process, "\(path): no instance started")
                }
                if let baseline = header.postmortem?.baselineRevision {
                    await session.adoptBaseline(baseline, of: instance)
                }
                // The bundle's audit log is the instance's: `k8senv audit` reads it there.
                if header.files.contains(where: { $0.name == PostmortemInfo.auditLog }) {
                    rename(
                        files + "/" + PostmortemInfo.auditLog,
                        AuditLog.path(inInstanceFolder: instance.configuration.directory))
                }
                do throws(ProcessError) {
                    try await session.writeRecord(
                        to: state, config: Session.absolute(path), profile: nil, detached: detached)
                    if detached { try state.setCurrent(runDirectory) }
                } catch {
                    throw K8sEnvError(error)
                }
                if !quiet {
                    let storeFiles = StorageBackends.snapshotFormat(of: storage).files
                    let kept = header.files.map(\.name).filter {
                        !storeFiles.contains($0) && $0 != PostmortemInfo.auditLog
                    }
                    if !kept.isEmpty { output("the bundle's \(kept.joined(separator: ", ")): in \(files)") }
                }
                return session
            } catch {
                await session.stop()
                throw error
            }
        } catch {
            try? FileManager.default.removeItem(atPath: runDirectory)
            throw error
        }
    }

    /// A refused bundle as the one error type: its messages quote the bundle's metadata, shown
    /// escaped, never obeyed by the terminal.
    static func refused(_ error: BundleError) -> K8sEnvError {
        K8sEnvError(.cache, "refused: " + ControlCharacters.escaped(error.description))
    }
}
