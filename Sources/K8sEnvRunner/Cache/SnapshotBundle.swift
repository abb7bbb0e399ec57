import Foundation
import K8sEnvSpec

/// A refused or unwritable bundle: names the file and says what is wrong with it.
package struct BundleError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case notABundle, truncated, header, keyFormat, malformed, checksum, io
        /// Not signed (an older bundle), signed with another key, or a signature that does not verify.
        case unsigned, signature
        /// No key to sign or verify with (K8SENV_BUNDLE_KEY too short, no user key).
        case key
        /// More bytes than K8SENV_BUNDLE_MAX_SIZE allows.
        case tooLarge
        /// Its store file is not a store of its storage kind (empty, not a database of k8senv's schema, damaged).
        case store
        /// Refused by `import -f`: another kube-apiserver release, or a key the config does not compute.
        case version, unexpectedKey
        /// A post-mortem bundle given to `cache import`, or a snapshot bundle where a post-mortem one is needed.
        case postmortem
    }
    package var code: Code
    package var message: String
    package var description: String { message }
    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// One cached snapshot as one signed file, to carry between machines (`k8senv cache export`/`import`).
///
/// The format (docs/reference/cache-layout.md): the line `k8senv-bundle/v2`, one line of JSON
/// (``Header``: the key format version, the snapshot's meta.json, the data files' names and sizes,
/// which key signed it), the bytes of each data file back to back in the header's order, then the
/// line `hmac-sha256 <64 hex digits>`: the HMAC-SHA256, under the ``BundleKey``, of every byte
/// before that line. Nothing else. `k8senv-bundle/v1` bundles (unsigned) are refused.
///
/// Reading streams: the header is read (at most ``BundleLimits/headerLimit`` bytes) and checked,
/// sizes are checked against ``BundleLimits`` and the file's own size before any data is read,
/// and the data goes in pieces of 1 MiB into the staging folder while it is hashed; nothing is
/// published until the signature, the checksum and the store file have been checked.
package final class SnapshotBundle {
    package static let magic = "k8senv-bundle/v2"
    /// The first line of the unsigned format older k8senv wrote.
    static let unsignedMagic = "k8senv-bundle/v1"
    /// `hmac-sha256 ` and 64 hex digits and a newline.
    static let trailerPrefix = "hmac-sha256 "
    static let trailerLength = 12 + 64 + 1

    package struct File: Codable, Sendable, Equatable {
        package var name: String
        package var size: Int
    }

    /// Which key signed a bundle: where it came from (`K8SENV_BUNDLE_KEY` or `user`) and its id.
    package struct Signature: Codable, Sendable, Equatable {
        package var algorithm: String
        package var key: String
        package var keyID: String
    }

    package struct Header: Codable, Sendable {
        /// The cache key format the key was computed with (``CacheKey/formatVersion``).
        package var keyFormat: String
        /// The snapshot's meta.json: key, storage, kubeAPIServerVersion, checksum (SHA-256 of the data), …
        package var snapshot: SnapshotMetadata
        package var files: [File]
        package var signature: Signature?
        /// Set in a post-mortem bundle (`k8senv run --postmortem`, `k8senv open`): which instance,
        /// its baseline, why it was captured, what was left out. Such a bundle holds the store
        /// file and the files ``PostmortemInfo/extraFiles`` names; `cache import` refuses it.
        package var postmortem: PostmortemInfo?
    }

    package let header: Header
    /// The bundle's path, as messages name it.
    let name: String
    private let fd: Int32
    /// The first two lines, as read (and signed).
    private let headerBytes: [UInt8]

    private init(header: Header, name: String, fd: Int32, headerBytes: [UInt8]) {
        self.header = header
        self.name = name
        self.fd = fd
        self.headerBytes = headerBytes
    }

    deinit { close(fd) }

    static let chunk = 1 << 20

    // MARK: - Writing

    /// Writes the snapshot as a bundle at `path`, signed with `key`: through a temporary file
    /// beside it (``AtomicFile``: 0600, O_EXCL|O_NOFOLLOW) renamed into place, streamed.
    /// - Throws: ``BundleError``: `.tooLarge` when the snapshot is more than `limits` allow (the
    ///   other side would refuse it), `.io` when a file cannot be read or written.
    package static func write(
        _ snapshot: Snapshot, to path: String, key: BundleKey,
        limits: BundleLimits
    ) throws(BundleError) {
        try write(snapshot.metadata, data: snapshot.dataPath, postmortem: nil, to: path, key: key, limits: limits)
    }

    /// Writes the files of the folder `data` (flat; `metadata` says what they are, its checksum
    /// theirs) as a bundle at `path`, as ``write(_:to:key:limits:)`` does; with `postmortem`, a
    /// post-mortem bundle.
    package static func write(
        _ metadata: SnapshotMetadata, data: String, postmortem: PostmortemInfo?, to path: String,
        key: BundleKey, limits: BundleLimits
    ) throws(BundleError) {
        let files: [(String, String)]
        do { files = try SnapshotStore.files(in: data) } catch {
            throw BundleError(.io, "cannot read the snapshot \(data): \(error)")
        }
        var entries: [File] = []
        for (name, full) in files {
            var info = stat()
            guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                throw BundleError(.io, "cannot read \(full)")
            }
            entries.append(File(name: name, size: Int(info.st_size)))
        }
        let total = entries.reduce(0) { $0 + $1.size }
        if total > limits.maxSize {
            throw BundleError(
                .tooLarge,
                "the snapshot \(metadata.key.prefix(12)) holds \(total) bytes, more than the \(limits.maxSize) a bundle may hold (\(BundleLimits.variable)); set \(BundleLimits.variable) higher on both sides"
            )
        }
        let header = Header(
            keyFormat: CacheKey.formatVersion, snapshot: metadata, files: entries,
            signature: Signature(algorithm: "hmac-sha256", key: key.source, keyID: key.id), postmortem: postmortem)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var start = Array((magic + "\n").utf8)
        do { start += try encoder.encode(header) } catch {
            throw BundleError(.io, "cannot encode the bundle header: \(error)")
        }
        start.append(0x0A)
        let mac = HMACSHA256(key: key.bytes)
        do throws(ProcessError) {
            let output = try AtomicFile(beside: path)
            try output.write(start)
            mac.update(start)
            var buffer = [UInt8](repeating: 0, count: chunk)
            for ((_, full), entry) in zip(files, entries) {
                let input = Glibc.open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                guard input >= 0 else {
                    throw ProcessError(.files, "cannot read \(full): \(String(cString: strerror(errno)))")
                }
                defer { close(input) }
                var copied = 0
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                    if n < 0, errno == EINTR { continue }
                    guard n >= 0 else {
                        throw ProcessError(.files, "cannot read \(full): \(String(cString: strerror(errno)))")
                    }
                    if n == 0 { break }
                    try output.write(buffer[0..<n])
                    mac.update(buffer[0..<n])
                    copied += n
                }
                guard copied == entry.size else {
                    throw ProcessError(
                        .files, "\(full) changed while it was written (\(entry.size) bytes, then \(copied))")
                }
            }
            try output.write(Array((trailerPrefix + hex(mac.finalize()) + "\n").utf8))
            try output.commit()
        } catch {
            throw BundleError(.io, error.message)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    // MARK: - Reading

    /// Opens the bundle at `path` and checks its header: the format and its version, the header's
    /// own consistency, and every size (against `limits` and the file's size) — before any data
    /// is read. ``install(into:key:)`` then streams and checks the data.
    /// - Throws: ``BundleError`` naming `path` and what is wrong.
    package static func open(_ path: String, limits: BundleLimits) throws(BundleError) -> SnapshotBundle {
        // O_NONBLOCK: a FIFO must not hang the open; it is refused below as not a regular file.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw BundleError(.io, "\(path): cannot read the file: \(String(cString: strerror(errno)))")
        }
        do throws(BundleError) {
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                throw BundleError(.notABundle, "\(path): not a k8senv bundle (not a regular file)")
            }
            let size = Int(info.st_size)
            if size > limits.maxSize + BundleLimits.headerLimit + trailerLength {
                throw BundleError(
                    .tooLarge,
                    "\(path): \(size) bytes, more than a bundle may be (its data at most \(limits.maxSize) bytes, \(limits.describedMaximum)); nothing was read. Set \(BundleLimits.variable) higher to import it"
                )
            }
            var buffer = [UInt8](repeating: 0, count: min(size, BundleLimits.headerLimit + magic.utf8.count + 2))
            var got = 0
            while got < buffer.count {
                let n = buffer[got...].withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(got)) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw BundleError(.io, "\(path): cannot read the file") }
                got += n
            }
            let (header, headerEnd) = try parseHeader(buffer, size: size, name: path)
            try checkSizes(header, headerEnd: headerEnd, size: size, limits: limits, name: path)
            return SnapshotBundle(header: header, name: path, fd: fd, headerBytes: Array(buffer[..<headerEnd]))
        } catch {
            close(fd)
            throw error
        }
    }

    /// The header of a bundle whose first bytes are `bytes` (the file has `size`), and where its data begins.
    static func parseHeader(_ bytes: [UInt8], size: Int, name: String) throws(BundleError) -> (Header, Int) {
        let magicLine = Array((magic + "\n").utf8)
        if bytes.starts(with: Array((unsignedMagic + "\n").utf8)) {
            throw BundleError(
                .unsigned,
                "\(name): not signed (\(unsignedMagic), written by a k8senv before bundles were signed): export it again with this k8senv, with \(BundleKey.variable) set to the key the importing side uses"
            )
        }
        guard bytes.count >= magicLine.count, Array(bytes[0..<magicLine.count]) == magicLine else {
            if bytes.count < magicLine.count, magicLine.starts(with: bytes), !bytes.isEmpty {
                throw BundleError(.truncated, "\(name): truncated: the file ends inside its first line")
            }
            throw BundleError(.notABundle, "\(name): not a k8senv bundle (it does not start with \"\(magic)\")")
        }
        guard let newline = bytes[magicLine.count...].firstIndex(of: 0x0A) else {
            if size <= bytes.count {
                throw BundleError(.truncated, "\(name): truncated: the file ends inside its header")
            }
            throw BundleError(.header, "\(name): the header is longer than \(BundleLimits.headerLimit) bytes")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let header: Header
        do { header = try decoder.decode(Header.self, from: Data(bytes[magicLine.count..<newline])) } catch {
            throw BundleError(.header, "\(name): the header is not a k8senv bundle header (\(error))")
        }
        try verify(header, name: name)
        guard let signature = header.signature, signature.algorithm == "hmac-sha256",
            signature.keyID.count == 16, signature.keyID.allSatisfy(Set("0123456789abcdef").contains)
        else {
            throw BundleError(
                .unsigned, "\(name): its header names no hmac-sha256 signature: export it again with this k8senv")
        }
        return (header, newline + 1)
    }

    /// Each file and their total within `limits`, and the file exactly as long as the header says.
    static func checkSizes(_ header: Header, headerEnd: Int, size: Int, limits: BundleLimits, name: String)
        throws(BundleError)
    {
        var total = 0
        for file in header.files {
            let (sum, overflow) = total.addingReportingOverflow(file.size)
            if overflow || file.size > limits.maxSize || sum > limits.maxSize {
                throw BundleError(
                    .tooLarge,
                    "\(name): its header lists \(file.name) of \(file.size) bytes, more than the \(limits.maxSize) bytes a bundle may hold (\(limits.describedMaximum)); nothing was read. Set \(BundleLimits.variable) higher to import it"
                )
            }
            total = sum
        }
        var offset = headerEnd
        for file in header.files {
            let available = size - offset
            guard file.size <= available else {
                throw BundleError(
                    .truncated,
                    "\(name): truncated: \(file.name) needs \(file.size) bytes, the file has \(max(available, 0)) left")
            }
            offset += file.size
        }
        guard size - offset >= trailerLength else {
            throw BundleError(.truncated, "\(name): truncated: the file ends inside its signature")
        }
        guard size - offset == trailerLength else {
            throw BundleError(.malformed, "\(name): \(size - offset - trailerLength) bytes after its signature")
        }
    }

    /// The header's own consistency: the key format, the key, the storage kind and its files, the version.
    static func verify(_ header: Header, name: String) throws(BundleError) {
        let meta = header.snapshot
        guard header.keyFormat == CacheKey.formatVersion else {
            throw BundleError(
                .keyFormat,
                "\(name): key format \"\(header.keyFormat)\", this k8senv uses \"\(CacheKey.formatVersion)\": its keys are not this k8senv's; export the snapshot again with this k8senv"
            )
        }
        let hex = Set("0123456789abcdef")
        guard meta.key.count == 64, meta.key.allSatisfy(hex.contains) else {
            throw BundleError(.malformed, "\(name): the key \"\(meta.key)\" is not 64 lowercase hex digits")
        }
        guard meta.checksum.count == 64, meta.checksum.allSatisfy(hex.contains) else {
            throw BundleError(
                .malformed, "\(name): the checksum \"\(meta.checksum)\" is not a SHA-256 (64 lowercase hex digits)")
        }
        guard let storage = StorageKind(rawValue: meta.storage) else {
            throw BundleError(.malformed, "\(name): storage \"\(meta.storage)\" is not etcd, kine or embedded")
        }
        let version = meta.kubeAPIServerVersion
        let parts =
            version.hasPrefix("v") ? version.dropFirst().split(separator: ".", omittingEmptySubsequences: false) : []
        guard parts.count >= 3, parts.prefix(2).allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
            let patch = parts[2].first, patch.isNumber
        else {
            throw BundleError(
                .malformed, "\(name): kube-apiserver version \"\(version)\" is not a version such as v1.20.2")
        }
        let names = header.files.map(\.name)
        for file in header.files {
            guard !file.name.isEmpty, !file.name.contains("/"), !file.name.hasPrefix("."), file.size >= 0 else {
                throw BundleError(
                    .malformed, "\(name): a file entry \"\(file.name)\" (\(file.size) bytes) is not a snapshot file")
            }
        }
        // The storage's snapshot files (StorageBackends.snapshotFormat); a post-mortem bundle also
        // the files it may carry, each at most once.
        let expected = StorageBackends.snapshotFormat(of: storage).files
        var rest = names
        if let postmortem = header.postmortem {
            try postmortem.verify(name: name)
            rest.removeAll { PostmortemInfo.extraFiles.contains($0) }
            if Set(names).count != names.count {
                throw BundleError(.malformed, "\(name): a file is listed twice (\(names.joined(separator: ", ")))")
            }
        }
        guard rest == expected else {
            throw BundleError(
                .malformed,
                "\(name): the key claims storage \(storage.rawValue), whose snapshot is \(expected.joined(separator: ", ")), but the bundle holds \(names.isEmpty ? "no files" : names.joined(separator: ", "))"
            )
        }
    }

    // MARK: - Importing

    /// What ``install(into:key:)`` did.
    package enum Installed: Sendable {
        case added(Snapshot)
        case alreadyCached(Snapshot)
    }

    /// Streams the data files into `folder` (made here, 0700; files 0600) and checks them: the
    /// signature under `key` first (a bundle that names another key is refused before its data is
    /// read), then the checksum, then the store file (``SnapshotFormat``).
    /// - Throws: ``BundleError``; `folder` may then hold part of the data: the caller removes it.
    package func extract(into folder: String, key: BundleKey) throws(BundleError) {
        try readData(into: folder, key: key)
    }

    /// Checks the signature under `key` and the checksum by reading the whole bundle, writing
    /// nothing (`k8senv open --list`); the store file is checked only when the bundle is opened.
    /// - Throws: ``BundleError`` naming what is wrong.
    package func verify(key: BundleKey) throws(BundleError) {
        try readData(into: nil, key: key)
    }

    /// ``extract(into:key:)``, or with `folder` nil the same checks without writing anything.
    private func readData(into folder: String?, key: BundleKey) throws(BundleError) {
        let signature = header.signature!
        guard signature.keyID == key.id else {
            throw BundleError(
                .signature,
                "\(name): signed with another key: \(BundleKey.describe(source: signature.key, id: signature.keyID)), not \(key.description); set \(BundleKey.variable) to the key the exporting job used (the same secret on both sides)"
            )
        }
        if let folder {
            do { try PrivateFiles.makeDirectory(folder) } catch { throw BundleError(.io, "\(name): \(error.message)") }
        }
        let mac = HMACSHA256(key: key.bytes)
        mac.update(headerBytes)
        let checksum = SHA256Hasher()
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        var offset = headerBytes.count
        for file in header.files {
            checksum.update("\(file.name)\n\(file.size)\n")
            let target = (folder ?? "") + "/" + file.name
            let out =
                folder == nil ? -1 : Glibc.open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard out >= 0 || folder == nil else {
                throw BundleError(.io, "\(name): cannot write \(target): \(String(cString: strerror(errno)))")
            }
            defer { if out >= 0 { close(out) } }
            var left = file.size
            while left > 0 {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, left), off_t(offset)) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    throw BundleError(.truncated, "\(name): truncated while it was read (\(file.name))")
                }
                mac.update(buffer[0..<n])
                checksum.update(buffer[0..<n])
                var written = out >= 0 ? 0 : n
                while written < n {
                    let w = buffer.withUnsafeBytes { Glibc.write(out, $0.baseAddress! + written, n - written) }
                    if w < 0, errno == EINTR { continue }
                    guard w > 0 else {
                        throw BundleError(.io, "\(name): cannot write \(target): \(String(cString: strerror(errno)))")
                    }
                    written += w
                }
                left -= n
                offset += n
            }
        }
        var trailer = [UInt8](repeating: 0, count: Self.trailerLength)
        guard
            trailer.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, $0.count, off_t(offset)) }) == Self.trailerLength
        else {
            throw BundleError(.truncated, "\(name): truncated while it was read (its signature)")
        }
        let expected = Array((Self.trailerPrefix + Self.hex(mac.finalize()) + "\n").utf8)
        // Compared in full whatever differs (no early exit: the time says nothing of where).
        guard zip(trailer, expected).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw BundleError(
                .signature,
                "\(name): the signature does not verify with \(key.description): the file was changed or damaged after it was signed, or signed with another key; nothing was imported. Export it again, with \(BundleKey.variable) set to the key the importing side uses"
            )
        }
        let sum = checksum.finalize()
        guard sum == header.snapshot.checksum else {
            throw BundleError(
                .checksum,
                "\(name): checksum mismatch: the data's SHA-256 is \(sum), the header says \(header.snapshot.checksum) (the file was changed or damaged)"
            )
        }
        let storage = StorageKind(rawValue: header.snapshot.storage)!
        if let folder, let problem = StorageBackends.snapshotFormat(of: storage).problem(in: folder) {
            throw BundleError(
                .store,
                "\(name): its snapshot is not one of \(storage.rawValue) storage: \(problem); nothing was imported")
        }
    }

    /// Publishes the bundle into the cache as SnapshotStore publishes a build: extracted and
    /// checked (``extract(into:key:)``) in a staging folder of the cache, then renamed into place
    /// under the key's lock. A refused bundle leaves nothing in the cache.
    package func install(into store: SnapshotStore, key bundleKey: BundleKey) async throws(BundleError) -> Installed {
        if let postmortem = header.postmortem {
            throw BundleError(
                .postmortem,
                "\(name): a post-mortem bundle of the instance \(postmortem.instance), not a snapshot for the cache; serve it with `k8senv open \(name)`"
            )
        }
        let key = header.snapshot.key
        let staging: String
        do { staging = try store.makeStaging(key) } catch { throw BundleError(.io, "\(name): \(error)") }
        do throws(BundleError) {
            try? FileManager.default.removeItem(atPath: staging + "/data")
            try extract(into: staging + "/data", key: bundleKey)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        let lock: SnapshotStore.Lock
        do { lock = try await store.lock(key) } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw BundleError(.io, "\(name): \(error)")
        }
        defer { lock.release() }
        if case .hit(let existing) = store.lookup(key) {
            try? FileManager.default.removeItem(atPath: staging)
            return .alreadyCached(existing)
        }
        let snapshot: Snapshot
        do { snapshot = try store.publish(staging, metadata: header.snapshot) } catch {
            throw BundleError(.io, "\(name): \(error)")
        }
        guard snapshot.metadata.checksum == header.snapshot.checksum else {
            store.remove(key)
            throw BundleError(
                .checksum,
                "\(name): the written snapshot's checksum \(snapshot.metadata.checksum) is not the bundle's \(header.snapshot.checksum)"
            )
        }
        return .added(snapshot)
    }
}

/// How large a bundle may be: its data files, each and together, at most ``maxSize`` bytes
/// (`K8SENV_BUNDLE_MAX_SIZE`, default 512 MiB: a test environment's store is kilobytes to tens of
/// megabytes; the cap keeps a planted or damaged bundle from filling the disk or taking minutes
/// before it is refused), its header line at most ``headerLimit``. Checked against the header
/// and the file's size before any data is read.
package struct BundleLimits: Sendable {
    package static let variable = "K8SENV_BUNDLE_MAX_SIZE"
    package static let defaultMaxSize = 512 << 20
    /// The header line (JSON: the snapshot's metadata and file list).
    static let headerLimit = 1 << 20

    package var maxSize: Int
    /// Whether ``maxSize`` came from the variable.
    var fromVariable: Bool

    package init(maxSize: Int = defaultMaxSize) {
        self.maxSize = maxSize
        fromVariable = false
    }

    /// How messages name the limit.
    var describedMaximum: String {
        fromVariable ? "\(Self.variable)=\(maxSize)" : "the default of \(Self.variable), 512 MiB"
    }

    /// From K8SENV_BUNDLE_MAX_SIZE: bytes, or a number with K, M or G (or Ki, Mi, Gi: KiB, MiB, GiB); the default when unset.
    /// - Throws: ``BundleError`` when it is set to something else.
    package static func current(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(BundleError) -> BundleLimits
    {
        guard let text = environment[variable]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return BundleLimits()
        }
        guard let size = parse(text) else {
            throw BundleError(
                .tooLarge, "\(variable)=\(text) is not a size: give bytes, or a number with K, M or G (e.g. 2G)")
        }
        var limits = BundleLimits(maxSize: size)
        limits.fromVariable = true
        return limits
    }

    /// A size as K8SENV_BUNDLE_MAX_SIZE and `postmortem.maxSize` take it: bytes, or a number with
    /// K, M or G (or Ki, Mi, Gi: the same, KiB, MiB, GiB), at most 1 PiB; nil when it is not one.
    package static func parse(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(text)
        var unit = 1
        if digits.count > 2, digits.hasSuffix("i"), let scale = digits.dropLast().last.flatMap({ units[$0] }) {
            unit = scale
            digits = digits.dropLast(2)
        } else if let last = digits.last?.uppercased().first, let scale = units[last] {
            unit = scale
            digits = digits.dropLast()
        }
        guard let number = Int(digits), number > 0, number <= Int.max / unit else { return nil }
        // At most 1 PiB: the limit is added to the header's and the trailer's, never to overflow.
        return min(number * unit, 1 << 50)
    }
}
