import Foundation
import K8sEnvSpec
import K8sEnvStore

/// What a snapshot of one storage is made of, known from the storage's name alone (a bundle
/// names its storage; it is checked before anything runs): the files a snapshot folder holds and
/// how to tell, without running a program, that they are a store the storage restores from.
package struct SnapshotFormat: Sendable {
    /// The files of a snapshot folder: one, etcdctl's snapshot or the SQLite file `VACUUM INTO`
    /// wrote (no journal, no WAL).
    package let files: [String]
    let check: @Sendable (_ folder: String) -> String?

    /// Nil when `folder` holds a snapshot of this storage; else what is wrong, naming the file.
    /// What a bundle's snapshot passes before it is published to the cache (an empty or garbage
    /// file would otherwise break every later start from it).
    package func problem(in folder: String) -> String? { check(folder) }

    /// etcd: `etcd.db`, etcdctl's snapshot (``SnapshotFileCheck/etcdProblem(_:)``).
    static let etcd = SnapshotFormat(files: ["etcd.db"]) { SnapshotFileCheck.etcdProblem($0 + "/etcd.db") }

    /// kine and the embedded store: `state.db`, a SQLite file of the store's schema (kine's too
    /// for kine).
    static func sqlite(_ schemas: [SQLiteFileCheck.Schema]) -> SnapshotFormat {
        SnapshotFormat(files: ["state.db"]) { folder in
            let path = folder + "/state.db"
            if let problem = SnapshotFileCheck.emptiness(path) { return problem }
            return SQLiteFileCheck.problem(path, schemas: schemas).map { "state.db is \($0)" }
        }
    }
}

/// The checks of snapshot files that ``SnapshotFormat`` runs.
enum SnapshotFileCheck {
    static func emptiness(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            return "\((path as NSString).lastPathComponent) is missing"
        }
        return info.st_size == 0 ? "\((path as NSString).lastPathComponent) is empty (0 bytes)" : nil
    }

    /// As `etcdctl snapshot restore` checks the file before it makes a data folder of it: the
    /// SHA-256 that `snapshot save` appends matches the bytes before it (its size is then 32 more
    /// than a multiple of 512); and, as bbolt checks when it opens it, one of the two meta pages
    /// has bbolt's magic, version 2 and a matching FNV-64a checksum.
    static func etcdProblem(_ path: String) -> String? {
        if let problem = emptiness(path) { return problem }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return "etcd.db cannot be read: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let size = Int(info.st_size)
        guard size % 512 == 32 else {
            return
                "etcd.db is not an etcd snapshot: it has no integrity hash (`etcdctl snapshot save` appends a SHA-256, which makes the size 32 bytes more than a multiple of 512; this one is \(size) bytes)"
        }
        let hasher = SHA256Hasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        var first: [UInt8] = []
        while offset < size - 32 {
            let n = buffer.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress, min($0.count, size - 32 - offset), off_t(offset))
            }
            guard n > 0 else { return "etcd.db cannot be read at byte \(offset)" }
            if first.count < 8192 { first += buffer[0..<min(n, 8192 - first.count)] }
            hasher.update(buffer[0..<n])
            offset += n
        }
        var stored = [UInt8](repeating: 0, count: 32)
        guard stored.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 32, off_t(size - 32)) }) == 32 else {
            return "etcd.db cannot be read at its end"
        }
        guard hasher.digest() == stored else {
            return
                "etcd.db is damaged: the SHA-256 at its end does not match its contents (as `etcdctl snapshot restore` would say)"
        }
        guard let pageSize = boltMetaPageSize(first, at: 0) ?? boltPageSizeFromSecondMeta(first) else {
            return "etcd.db is not an etcd snapshot: it is not a bbolt database (no valid meta page)"
        }
        guard pageSize > 0, (size - 32) % pageSize == 0 else {
            return "etcd.db is not an etcd snapshot: its size is not a whole number of its \(pageSize)-byte pages"
        }
        return nil
    }

    /// The page size a valid bbolt meta page at `offset` of `bytes` declares, else nil. A page
    /// starts with a 16-byte header; the meta follows: magic 0xED0CDAED, version 2, page size,
    /// flags, root bucket, freelist, page count, transaction id (56 bytes), then the FNV-64a of
    /// those 56 bytes, all little-endian.
    static func boltMetaPageSize(_ bytes: [UInt8], at offset: Int) -> Int? {
        let meta = offset + 16
        guard bytes.count >= meta + 64 else { return nil }
        func uint(_ at: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
        }
        guard uint(meta, 4) == 0xED0C_DAED, uint(meta + 4, 4) == 2 else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes[meta..<meta + 56] {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        guard hash == uint(meta + 56, 8) else { return nil }
        return Int(uint(meta + 8, 4))
    }

    /// The second meta page, at the page size bbolt would try (4096, the usual one).
    static func boltPageSizeFromSecondMeta(_ bytes: [UInt8]) -> Int? {
        boltMetaPageSize(bytes, at: 4096)
    }
}
