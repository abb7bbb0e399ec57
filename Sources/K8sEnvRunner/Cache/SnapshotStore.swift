import Foundation
import K8sEnvSpec
import Synchronization

/// What a snapshot holds and how it was made, stored beside its data as `meta.json`.
package struct SnapshotMetadata: Codable, Sendable {
    package var key: String
    package var environment: String
    package var config: String
    package var parentKey: String?
    package var storage: String
    package var kubeAPIServerVersion: String
    /// The files applied to build it (relative to the config's folder), in order.
    package var files: [String]
    package var objects: Int
    /// Bytes of the data files.
    package var size: Int
    /// SHA-256 over the data files (name, size and bytes of each, sorted by name).
    package var checksum: String
    package var buildSeconds: Double
    package var createdAt: Date
}

/// A published snapshot: a folder `snapshots/<key>/` with `meta.json` and `data/`.
package struct Snapshot: Sendable {
    package var path: String
    package var metadata: SnapshotMetadata
    package var dataPath: String { path + "/data" }
}

/// An error of the snapshot cache (an unwritable folder, a failed save).
package struct CacheError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}

/// The snapshot cache under `${XDG_CACHE_HOME:-~/.cache}/k8senv/snapshots/`: entries written
/// in a temporary folder, checksummed, and published by an atomic rename under a per-key file
/// lock; an entry whose checksum does not match is removed and rebuilt, never used.
package struct SnapshotStore: Sendable {
    package var root: String

    package init(root: String) {
        self.root = root
    }

    /// `${XDG_CACHE_HOME:-~/.cache}/k8senv/snapshots`.
    package static var defaultRoot: String { cacheRoot + "/snapshots" }

    /// `${XDG_CACHE_HOME:-~/.cache}/k8senv`: snapshots, binary versions (and the installed binaries).
    package static var cacheRoot: String {
        let environment = ProcessInfo.processInfo.environment
        let base =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache"
        return base + "/k8senv"
    }

    func entryPath(_ key: String) -> String { root + "/" + key }

    /// What the cache holds for a key.
    package enum Lookup: Sendable {
        /// A published entry whose data matches its checksum.
        case hit(Snapshot)
        case missing
        /// An entry that cannot be used, and why; ``discard(_:)`` removes it.
        case corrupt(String)
    }

    /// The entry for `key`. Its data is checksummed once per process while its files stay as
    /// they were (same inode, size and modification time each: entries never change once
    /// published, and a truncation or an edit changes these); nothing is removed here — a corrupt
    /// entry is discarded by whoever holds the key's lock to rebuild it.
    package func lookup(_ key: String) -> Lookup {
        let path = entryPath(key)
        guard FileManager.default.fileExists(atPath: path) else { return .missing }
        guard let data = FileManager.default.contents(atPath: path + "/meta.json") else {
            return .corrupt("no meta.json")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let metadata = try? decoder.decode(SnapshotMetadata.self, from: data), metadata.key == key else {
            return .corrupt("unreadable meta.json")
        }
        let verifiedAs =
            path + "\u{0}" + metadata.checksum + "\u{0}" + (Self.fingerprint(of: path + "/data") ?? UUID().uuidString)
        if Self.verified.withLock({ $0.contains(verifiedAs) }) { return .hit(Snapshot(path: path, metadata: metadata)) }
        guard (try? Self.checksum(of: path + "/data")) == metadata.checksum else {
            return .corrupt("checksum mismatch")
        }
        Self.verified.withLock { _ = $0.insert(verifiedAs) }
        return .hit(Snapshot(path: path, metadata: metadata))
    }

    /// Entries this process has checksummed: path, checksum and ``fingerprint(of:)``.
    private static let verified = Mutex<Set<String>>([])

    /// Name, inode, size and modification time of each data file; nil if one cannot be read.
    static func fingerprint(of folder: String) -> String? {
        guard let files = try? files(in: folder) else { return nil }
        var parts: [String] = []
        for (name, path) in files {
            var status = stat()
            guard stat(path, &status) == 0 else { return nil }
            parts.append(
                "\(name) \(status.st_ino) \(status.st_size) \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)")
        }
        return parts.joined(separator: "\n")
    }

    /// Removes a corrupt entry so that it can be rebuilt (under the key's lock).
    package func discard(_ key: String) { remove(key) }

    /// Removes an entry (by renaming it away first, so a reader never sees half of it).
    package func remove(_ key: String) {
        let trash = root + "/.trash-\(key)-\(getpid())-\(UUID().uuidString.prefix(8))"
        if rename(entryPath(key), trash) == 0 {
            try? FileManager.default.removeItem(atPath: trash)
        }
    }

    /// Every published entry.
    package func list() -> [Snapshot] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".lock") }.compactMap { name in
            guard let data = FileManager.default.contents(atPath: root + "/" + name + "/meta.json"),
                let metadata = try? decoder.decode(SnapshotMetadata.self, from: data)
            else { return nil }
            return Snapshot(path: root + "/" + name, metadata: metadata)
        }.sorted { $0.metadata.createdAt < $1.metadata.createdAt }
    }

    /// A temporary folder for a new entry (published with ``publish(_:metadata:)``).
    package func makeStaging(_ key: String) throws(CacheError) -> String {
        let staging = root + "/.tmp-\(key)-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(
                atPath: staging + "/data", withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw CacheError(message: "cannot write to the snapshot cache \(root): \(error.localizedDescription)")
        }
        return staging
    }

    /// Checksums the staged data, writes meta.json, syncs, and renames the folder into place.
    package func publish(_ staging: String, metadata: SnapshotMetadata) throws(CacheError) -> Snapshot {
        var metadata = metadata
        do {
            metadata.checksum = try Self.checksum(of: staging + "/data")
            metadata.size = try Self.size(of: staging + "/data")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let json = try encoder.encode(metadata)
            guard FileManager.default.createFile(atPath: staging + "/meta.json", contents: json) else {
                throw CacheError(message: "cannot write \(staging)/meta.json")
            }
            Self.syncTree(staging)
        } catch let error as CacheError {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw CacheError(message: "cannot write the snapshot \(metadata.key): \(error.localizedDescription)")
        }
        let target = entryPath(metadata.key)
        if FileManager.default.fileExists(atPath: target) { remove(metadata.key) }
        guard rename(staging, target) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: staging)
            throw CacheError(message: "cannot publish the snapshot \(metadata.key): \(reason)")
        }
        let dirFD = open(root, O_RDONLY | O_DIRECTORY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
        return Snapshot(path: target, metadata: metadata)
    }

    /// Removes leftovers of builds that died (staging and trash folders whose process is gone).
    package func cleanLeftovers() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        where name.hasPrefix(".tmp-") || name.hasPrefix(".trash-") {
            let parts = name.split(separator: "-")
            if parts.count >= 3, let pid = Int32(parts[parts.count - 2]), StateFolder.isAlive(pid), pid != getpid() {
                continue
            }
            try? FileManager.default.removeItem(atPath: root + "/" + name)
        }
    }

    /// SHA-256 over the regular files under a folder: relative name, size, bytes, sorted by name.
    package static func checksum(of folder: String) throws -> String {
        let hasher = SHA256Hasher()
        for (name, path) in try files(in: folder) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CacheError(message: "cannot read \(path)")
            }
            hasher.update("\(name)\n\(data.count)\n")
            hasher.update([UInt8](data))
        }
        return hasher.finalize()
    }

    static func size(of folder: String) throws -> Int {
        try files(in: folder).reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file.1)[.size] as? Int) ?? 0)
        }
    }

    static func files(in folder: String) throws -> [(String, String)] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw CacheError(message: "cannot list \(folder)")
        }
        var result: [(String, String)] = []
        while let name = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = folder + "/" + name
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result.append((name, path))
            }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    static func syncTree(_ folder: String) {
        for (_, path) in (try? files(in: folder)) ?? [] {
            let fd = open(path, O_RDONLY)
            if fd >= 0 {
                fsync(fd)
                close(fd)
            }
        }
    }

    /// Holds the per-key build lock (an exclusive flock on `<key>.lock`) until released.
    package final class Lock: Sendable {
        let fd: Int32
        init(fd: Int32) { self.fd = fd }
        package func release() {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }

    /// Takes the build lock of a key, waiting (polling, cancellable) while another process or
    /// task holds it.
    package func lock(_ key: String) async throws(CacheError) -> Lock {
        do {
            try FileManager.default.createDirectory(
                atPath: root, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw CacheError(message: "cannot create the snapshot cache \(root): \(error.localizedDescription)")
        }
        let fd = open(root + "/\(key).lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CacheError(message: "cannot create the lock \(root)/\(key).lock: \(String(cString: strerror(errno)))")
        }
        // Until the holder is done (a build takes what it takes: no deadline), or cancelled.
        if case .failure = await Poll(every: .milliseconds(50)).until({ flock(fd, LOCK_EX | LOCK_NB) == 0 }) {
            close(fd)
            throw CacheError(message: "cancelled while waiting for the snapshot \(key)")
        }
        return Lock(fd: fd)
    }
}
