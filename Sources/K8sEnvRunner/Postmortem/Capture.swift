import Foundation
import K8sEnvSpec

/// Writes post-mortem bundles: each instance a failed command used, as it was, while it still
/// serves (docs/explanation/postmortem.md). `k8senv open` serves such a bundle.
package enum PostmortemCapture {
    /// Where and when a run writes bundles: `run --postmortem DIR` or the config's `postmortem:`.
    package struct Target: Sendable {
        package var directory: String
        package var when: PostmortemSettings.When
        /// The most bytes of one bundle's data.
        package var maxSize: Int
    }

    /// The default of `postmortem.maxSize`.
    package static let defaultMaxSize = 256 << 20
    /// The most of each log kept (its tail): kube-apiserver's and kube-controller-manager's.
    static let logTail = 256 << 10

    /// The target of a run: `directory` (from the command line, relative to the current folder)
    /// over the config's `postmortem.dir`, with the config's `when` and `maxSize`; nil when
    /// neither asks for bundles.
    /// - Throws: ``K8sEnvError`` when `maxSize` is not a size.
    package static func target(_ config: Config, directory: String?) throws(K8sEnvError) -> Target? {
        guard var dir = directory ?? config.postmortem?.dir else { return nil }
        if !dir.hasPrefix("/") { dir = FileManager.default.currentDirectoryPath + "/" + dir }
        dir = (dir as NSString).standardizingPath
        var maxSize = defaultMaxSize
        if let written = config.postmortem?.maxSize {
            guard let size = BundleLimits.parse(written) else {
                throw K8sEnvError(
                    .invalidConfig,
                    "\(config.file): postmortem.maxSize \(written) is not a size: give bytes, or a number with K, M or G (e.g. 256Mi)"
                )
            }
            maxSize = size
        }
        return Target(directory: dir, when: config.postmortem?.when ?? .failure, maxSize: maxSize)
    }

    /// After `run`'s command: when `target` asks for it (the command failed, or `when: always`),
    /// writes one bundle per instance of `session` into the target folder, before teardown.
    /// Failures are said, never thrown: the run's status stays the command's.
    /// - Parameters:
    ///   - status: the command's exit status (128 + N when a signal N ended it).
    ///   - failed: the command failed or an instance stopped under it.
    /// - Returns: the bundles written.
    @discardableResult
    package static func afterCommand(
        _ session: Session, target: Target?, profile: String?, status: Int32, failed: Bool,
        output: @Sendable (String) -> Void
    ) async -> [String] {
        guard let target, failed || target.when == .always else { return [] }
        let reason =
            status > 128
            ? "the command was ended by signal \(status - 128) (exit status \(status))"
            : status != 0
                ? "the command exited with status \(status)"
                : failed ? "an instance stopped while the command ran" : "the command passed (postmortem.when: always)"
        let key: BundleKey
        do throws(BundleError) { key = try BundleKey.current() } catch {
            output("error: no post-mortem bundles: \(error)")
            return []
        }
        let record = await session.record(config: session.plan.config.file, profile: profile, detached: false)
        let instances = await session.instances
        var written: [String] = []
        for (environment, instance, _) in instances {
            let baseline = record.instances.first { $0.name == instance.name }?.baselineRevision
            let clock = ContinuousClock()
            let started = clock.now
            do throws(BundleError) {
                let (path, bytes) = try await capture(
                    instance, environment: environment, builder: session.builder, profile: profile,
                    baseline: baseline, reason: reason, target: target, key: key)
                written.append(path)
                output(
                    "\(instance.name): post-mortem bundle \(path) (\(EnvironmentBuilder.bytes(bytes)), \(EnvironmentBuilder.format(clock.now - started))); serve it with `k8senv open \(path)`"
                )
            } catch {
                output("error: \(instance.name): no post-mortem bundle: \(error)")
            }
        }
        return written
    }

    /// Writes one instance as a bundle into `target.directory`: its store (a consistent copy,
    /// taken while it serves), the definition, its audit log and log tails, cut to fit `maxSize`.
    /// - Returns: the bundle's path and its data's size.
    /// - Throws: ``BundleError`` when the store cannot be copied, is larger than `maxSize`, or the
    ///   bundle cannot be written.
    package static func capture(
        _ instance: Instance, environment: String, builder: EnvironmentBuilder, profile: String?,
        baseline: Int64?, reason: String, target: Target, key: BundleKey
    ) async throws(BundleError) -> (String, Int) {
        let staging =
            builder.runDirectory + "/postmortem-" + instance.name + "-"
            + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do throws(ProcessError) {
            try PrivateFiles.makeDirectory(staging, below: builder.runDirectory)
            try await instance.store.saveSnapshot(into: staging)
        } catch {
            throw BundleError(.io, "cannot copy its store: \(error)")
        }
        let storeFiles: [(String, String)]
        do { storeFiles = try SnapshotStore.files(in: staging) } catch {
            throw BundleError(.io, "cannot read the store's copy: \(error)")
        }
        let storeSize = storeFiles.reduce(0) { $0 + Self.size($1.1) }
        guard storeSize <= target.maxSize else {
            throw BundleError(
                .tooLarge,
                "its store is \(storeSize) bytes, more than postmortem.maxSize (\(target.maxSize) bytes); raise it to capture this instance"
            )
        }
        var left = target.maxSize - storeSize
        var omitted: [String] = []
        let plan = builder.plan
        // The definition: the config file and the CRDs of the environment and what it extends.
        let crds = plan.lineage(of: environment).flatMap(\.crdFiles)
        var crdText: [UInt8] = []
        for file in crds {
            crdText += Array("---\n# \(file.relativePath)\n".utf8)
            crdText +=
                (FileManager.default.contents(atPath: file.path).map { [UInt8]($0) }
                    ?? Array("# (could not be read)\n".utf8))
            if crdText.last != 0x0A { crdText.append(0x0A) }
        }
        let config = FileManager.default.contents(atPath: plan.config.file).map { [UInt8]($0) }
        var extras: [(String, [UInt8]?, String)] = [
            (PostmortemInfo.crdsFile, crds.isEmpty ? nil : crdText, "the CRD files"),
            (PostmortemInfo.configFile, config, "the config file"),
        ]
        // Logs: the newest lines are the ones that explain the failure.
        func tail(_ path: String?, _ limit: Int) -> [UInt8]? { path.flatMap { Self.tail(of: $0, limit: limit) } }
        extras.append((PostmortemInfo.auditLog, tail(instance.configuration.auditLogPath, .max), "the audit log"))
        extras.append(
            (PostmortemInfo.apiServerLog, tail(instance.apiServerProcess.logPath, logTail), "kube-apiserver's log"))
        extras.append(
            (
                PostmortemInfo.controllerManagerLog, tail(instance.controllerManager?.logPath, logTail),
                "kube-controller-manager's log"
            ))
        for (name, content, what) in extras {
            guard var bytes = content else { continue }
            if bytes.count > left {
                guard name != PostmortemInfo.configFile, name != PostmortemInfo.crdsFile, left > 0 else {
                    omitted.append("\(what) (\(bytes.count) bytes) left out: postmortem.maxSize reached")
                    continue
                }
                let whole = bytes.count
                bytes = Self.lastLines(bytes, limit: left)
                omitted.append("\(what) cut to its last \(bytes.count) of \(whole) bytes: postmortem.maxSize reached")
            }
            do throws(ProcessError) {
                try PrivateFiles.writeAtomically(bytes: bytes, to: staging + "/" + name)
            } catch {
                throw BundleError(.io, error.message)
            }
            left -= bytes.count
        }
        if instance.configuration.auditLogPath == nil {
            omitted.append("no audit log: the config has no `audit:` for \(environment)")
        }
        let info = PostmortemInfo(
            instance: instance.name, environment: environment, startedFrom: builder.cache?.keys[environment],
            baselineRevision: baseline, profile: profile, reason: reason, capturedAt: Date(), omitted: omitted)
        let checksum: String
        let size: Int
        do {
            checksum = try SnapshotStore.checksum(of: staging)
            size = try SnapshotStore.files(in: staging).reduce(0) { $0 + Self.size($1.1) }
        } catch {
            throw BundleError(.io, "cannot read the bundle's files: \(error)")
        }
        let metadata = SnapshotMetadata(
            key: info.startedFrom ?? checksum, environment: environment, config: Session.absolute(plan.config.file),
            parentKey: nil,
            storage: instance.configuration.storage.rawValue,
            kubeAPIServerVersion: builder.binaries.kubeAPIServerVersion.text,
            files: crds.map(\.relativePath), objects: 0, size: size, checksum: checksum, buildSeconds: 0,
            createdAt: info.capturedAt)
        do throws(ProcessError) { try PrivateFiles.makeDirectory(target.directory) } catch {
            throw BundleError(.io, "cannot make the folder \(target.directory): \(error.message)")
        }
        let path = freeName(in: target.directory, instance.name)
        try SnapshotBundle.write(
            metadata, data: staging, postmortem: info, to: path, key: key,
            limits: BundleLimits(maxSize: max(target.maxSize, size)))
        return (path, Self.size(path))
    }

    /// `<dir>/<instance>.k8senv-bundle`, or with `-2`, `-3`, … when taken (a second run into one folder).
    static func freeName(in directory: String, _ instance: String) -> String {
        var path = directory + "/" + instance + ".k8senv-bundle"
        var n = 2
        var info = stat()
        while lstat(path, &info) == 0 {
            path = directory + "/\(instance)-\(n).k8senv-bundle"
            n += 1
        }
        return path
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return lstat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// The last `limit` bytes of a file k8senv wrote (a log), read without following a symlink.
    static func tail(of path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        let size = Int(info.st_size)
        let start = max(0, size - limit)
        var bytes = [UInt8](repeating: 0, count: size - start)
        var got = 0
        while got < bytes.count {
            let n = bytes[got...].withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start + got)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            got += n
        }
        bytes.removeLast(bytes.count - got)
        // Cut inside the file: from the first whole line.
        if start > 0, let newline = bytes.firstIndex(of: 0x0A) { return Array(bytes[(newline + 1)...]) }
        return bytes
    }

    /// At most the last `limit` bytes of `bytes`, from the start of a line.
    static func lastLines(_ bytes: [UInt8], limit: Int) -> [UInt8] {
        guard limit < bytes.count else { return bytes }
        let cut = bytes.suffix(limit)
        guard let newline = cut.firstIndex(of: 0x0A) else { return [] }
        return Array(cut[(newline + 1)...])
    }
}
