import Foundation
import K8sEnvSpec

/// A refused or unwritable bundle: names the file and says what is wrong with it.
package struct BundleError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case notABundle, truncated, header, keyFormat, malformed, checksum, io
        /// Refused by `import -f`: another kube-apiserver release, or a key the config does not compute.
        case version, unexpectedKey
    }
    package var code: Code
    package var message: String
    package var description: String { message }
    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// One cached snapshot as one file, to carry between machines (`k8senv cache export`/`import`).
///
/// The format (docs/reference/cache-layout.md): the line `k8senv-bundle/v1`, one line of JSON
/// (``Header``: the key format version, the snapshot's meta.json, the data files' names and sizes),
/// then the bytes of each data file, back to back, in the header's order. Nothing else.
package struct SnapshotBundle: Sendable {
    package static let magic = "k8senv-bundle/v1"

    package struct File: Codable, Sendable, Equatable {
        package var name: String
        package var size: Int
    }

    package struct Header: Codable, Sendable {
        /// The cache key format the key was computed with (``CacheKey/formatVersion``).
        package var keyFormat: String
        /// The snapshot's meta.json: key, storage, kubeAPIServerVersion, checksum (SHA-256 of the data), …
        package var snapshot: SnapshotMetadata
        package var files: [File]
    }

    package var header: Header
    package var contents: [Data]

    // MARK: - Writing

    /// Writes the snapshot as a bundle at `path` (through a temporary file renamed into place).
    package static func write(_ snapshot: Snapshot, to path: String) throws(BundleError) {
        let files: [(String, String)]
        do { files = try SnapshotStore.files(in: snapshot.dataPath) } catch {
            throw BundleError(.io, "cannot read the snapshot \(snapshot.path): \(error)")
        }
        var entries: [File] = []
        var contents: [Data] = []
        for (name, full) in files {
            guard let data = FileManager.default.contents(atPath: full) else {
                throw BundleError(.io, "cannot read \(full)")
            }
            entries.append(File(name: name, size: data.count))
            contents.append(data)
        }
        let header = Header(keyFormat: CacheKey.formatVersion, snapshot: snapshot.metadata, files: entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var output = Data((magic + "\n").utf8)
        do { output.append(try encoder.encode(header)) } catch {
            throw BundleError(.io, "cannot encode the bundle header: \(error)")
        }
        output.append(0x0A)
        for data in contents { output.append(data) }
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: output) else {
            throw BundleError(.io, "cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw BundleError(.io, "cannot write \(path): \(reason)")
        }
    }

    // MARK: - Reading

    /// Reads and verifies the bundle at `path`.
    package static func read(_ path: String) throws(BundleError) -> SnapshotBundle {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BundleError(.io, "\(path): cannot read the file")
        }
        return try parse(data, name: path)
    }

    /// Parses and verifies bundle bytes; every problem is a ``BundleError`` naming `name`.
    package static func parse(_ data: Data, name: String) throws(BundleError) -> SnapshotBundle {
        let bytes = [UInt8](data)
        let magicLine = Array((magic + "\n").utf8)
        guard bytes.count >= magicLine.count, Array(bytes[0..<magicLine.count]) == magicLine else {
            if bytes.count < magicLine.count, magicLine.starts(with: bytes), !bytes.isEmpty {
                throw BundleError(.truncated, "\(name): truncated: the file ends inside its first line")
            }
            throw BundleError(.notABundle, "\(name): not a k8senv bundle (it does not start with \"\(magic)\")")
        }
        guard let newline = bytes[magicLine.count...].firstIndex(of: 0x0A) else {
            throw BundleError(.truncated, "\(name): truncated: the file ends inside its header")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let header: Header
        do { header = try decoder.decode(Header.self, from: Data(bytes[magicLine.count..<newline])) } catch {
            throw BundleError(.header, "\(name): the header is not a k8senv bundle header (\(error))")
        }
        try verify(header, name: name)
        var offset = newline + 1
        var contents: [Data] = []
        for file in header.files {
            let available = bytes.count - offset
            guard file.size <= available else {
                throw BundleError(.truncated, "\(name): truncated: \(file.name) needs \(file.size) bytes, the file has \(available) left")
            }
            contents.append(Data(bytes[offset..<offset + file.size]))
            offset += file.size
        }
        guard offset == bytes.count else {
            throw BundleError(.malformed, "\(name): \(bytes.count - offset) bytes after the last file its header lists")
        }
        let bundle = SnapshotBundle(header: header, contents: contents)
        let checksum = bundle.checksum()
        guard checksum == header.snapshot.checksum else {
            throw BundleError(.checksum, "\(name): checksum mismatch: the data's SHA-256 is \(checksum), the header says \(header.snapshot.checksum) (the file was changed or damaged)")
        }
        return bundle
    }

    /// The header's own consistency: the key format, the key, the storage kind and its files, the version.
    static func verify(_ header: Header, name: String) throws(BundleError) {
        let meta = header.snapshot
        guard header.keyFormat == CacheKey.formatVersion else {
            throw BundleError(.keyFormat, "\(name): key format \"\(header.keyFormat)\", this k8senv uses \"\(CacheKey.formatVersion)\": its keys are not this k8senv's; export the snapshot again with this k8senv")
        }
        let hex = Set("0123456789abcdef")
        guard meta.key.count == 64, meta.key.allSatisfy(hex.contains) else {
            throw BundleError(.malformed, "\(name): the key \"\(meta.key)\" is not 64 lowercase hex digits")
        }
        guard meta.checksum.count == 64, meta.checksum.allSatisfy(hex.contains) else {
            throw BundleError(.malformed, "\(name): the checksum \"\(meta.checksum)\" is not a SHA-256 (64 lowercase hex digits)")
        }
        guard let storage = StorageKind(rawValue: meta.storage) else {
            throw BundleError(.malformed, "\(name): storage \"\(meta.storage)\" is not etcd, kine or embedded")
        }
        let version = meta.kubeAPIServerVersion
        let parts = version.hasPrefix("v") ? version.dropFirst().split(separator: ".", omittingEmptySubsequences: false) : []
        guard parts.count >= 3, parts.prefix(2).allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
              let patch = parts[2].first, patch.isNumber else {
            throw BundleError(.malformed, "\(name): kube-apiserver version \"\(version)\" is not a version such as v1.20.2")
        }
        let names = header.files.map(\.name)
        for file in header.files {
            guard !file.name.isEmpty, !file.name.contains("/"), !file.name.hasPrefix("."), file.size >= 0 else {
                throw BundleError(.malformed, "\(name): a file entry \"\(file.name)\" (\(file.size) bytes) is not a snapshot file")
            }
        }
        let fits = switch storage {
        case .etcd: names == ["etcd.db"]
        case .embedded, .kine: names.contains("state.db") && names.allSatisfy { $0 == "state.db" || $0.hasPrefix("state.db-") }
        }
        guard fits, Set(names).count == names.count else {
            let expected = storage == .etcd ? "etcd.db" : "state.db"
            throw BundleError(.malformed, "\(name): the key claims storage \(storage.rawValue), whose snapshot is \(expected), but the bundle holds \(names.isEmpty ? "no files" : names.joined(separator: ", "))")
        }
    }

    /// SHA-256 of the data as ``SnapshotStore/checksum(of:)`` computes it over a folder.
    func checksum() -> String {
        let hasher = SHA256Hasher()
        for (file, data) in zip(header.files, contents) {
            hasher.update("\(file.name)\n\(data.count)\n")
            hasher.update([UInt8](data))
        }
        return hasher.finalize()
    }

    // MARK: - Importing

    /// What ``install(into:name:)`` did.
    package enum Installed: Sendable {
        case added(Snapshot)
        case alreadyCached(Snapshot)
    }

    /// Publishes the (verified) bundle into the cache as SnapshotStore publishes a build: staged
    /// in a temporary folder of the cache root, checksummed, renamed into place under the key's lock.
    package func install(into store: SnapshotStore, name: String) async throws(BundleError) -> Installed {
        let key = header.snapshot.key
        let lock: SnapshotStore.Lock
        do { lock = try await store.lock(key) } catch { throw BundleError(.io, "\(name): \(error)") }
        defer { lock.release() }
        if case .hit(let existing) = store.lookup(key) { return .alreadyCached(existing) }
        let staging: String
        do { staging = try store.makeStaging(key) } catch { throw BundleError(.io, "\(name): \(error)") }
        for (file, data) in zip(header.files, contents) {
            let target = staging + "/data/" + file.name
            guard FileManager.default.createFile(atPath: target, contents: data, attributes: [.posixPermissions: 0o600]) else {
                try? FileManager.default.removeItem(atPath: staging)
                throw BundleError(.io, "\(name): cannot write \(target)")
            }
        }
        let snapshot: Snapshot
        do { snapshot = try store.publish(staging, metadata: header.snapshot) } catch {
            throw BundleError(.io, "\(name): \(error)")
        }
        guard snapshot.metadata.checksum == header.snapshot.checksum else {
            store.remove(key)
            throw BundleError(.checksum, "\(name): the written snapshot's checksum \(snapshot.metadata.checksum) is not the bundle's \(header.snapshot.checksum)")
        }
        return .added(snapshot)
    }
}
