import Foundation
@testable import K8sEnvRunner
import K8sEnvSpec
import Testing

/// The bundle reader on well-formed and malformed bytes: every damage is a ``BundleError`` that
/// names the file, never a crash.
@Suite("snapshot bundles: the format's reader", .tags(.fast))
struct SnapshotBundleTests {
    /// A bundle of a fake embedded snapshot (state.db and state.db-wal).
    static func bundleBytes(storage: String = "embedded", files: [String: [UInt8]] = ["state.db": Array("SQLite format 3\0 rows".utf8), "state.db-wal": [1, 2, 3]],
                            keyFormat: String? = nil) throws -> Data {
        let folder = FileManager.default.temporaryDirectory.path + "/bundle-test-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
        for (name, bytes) in files { FileManager.default.createFile(atPath: folder + "/data/" + name, contents: Data(bytes)) }
        let metadata = SnapshotMetadata(key: String(repeating: "ab", count: 32), environment: "one", config: "/x/k8senv.yaml", parentKey: nil,
                                        storage: storage, kubeAPIServerVersion: "v1.20.2", files: [], objects: 3,
                                        size: 0, checksum: try SnapshotStore.checksum(of: folder + "/data"), buildSeconds: 1, createdAt: Date())
        try SnapshotBundle.write(Snapshot(path: folder, metadata: metadata), to: folder + "/b")
        var data = try #require(FileManager.default.contents(atPath: folder + "/b"))
        if let keyFormat {
            let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: CacheKey.formatVersion, with: keyFormat)
            data = Data(text.utf8)
        }
        return data
    }

    func refusal(_ data: Data) -> BundleError? {
        do { _ = try SnapshotBundle.parse(data, name: "x.k8senv-bundle"); return nil } catch { return error }
    }

    @Test("a bundle reads back with its files, key, storage and version")
    func roundTrip() throws {
        let bundle = try SnapshotBundle.parse(Self.bundleBytes(), name: "b")
        #expect(bundle.header.files.map(\.name) == ["state.db", "state.db-wal"])
        #expect(bundle.contents[1] == Data([1, 2, 3]))
        #expect(bundle.header.snapshot.storage == "embedded")
        #expect(bundle.header.keyFormat == CacheKey.formatVersion)
    }

    @Test("every flipped byte of the data is a checksum mismatch")
    func flippedBytes() throws {
        let data = try Self.bundleBytes()
        let start = data.firstIndex(of: 0x0A).map { data[($0 + 1)...].firstIndex(of: 0x0A)! + 1 }!
        for i in start..<data.count {
            var damaged = data
            damaged[i] ^= 0x01
            let error = refusal(damaged)
            #expect(error?.code == .checksum, "byte \(i): \(String(describing: error))")
            #expect(error?.message.contains("x.k8senv-bundle: checksum mismatch") == true)
        }
    }

    @Test("every truncation is refused as truncated (or not a bundle when nothing is left), never a crash")
    func truncations() throws {
        let data = try Self.bundleBytes()
        for length in 0..<data.count {
            let error = refusal(data.prefix(length))
            #expect(error != nil, "length \(length)")
            if length > 0 && length < data.count {
                #expect(error?.code == .truncated || error?.code == .header, "length \(length): \(String(describing: error))")
            }
        }
    }

    @Test("another key format version is refused with both versions named")
    func keyFormat() throws {
        let error = refusal(try Self.bundleBytes(keyFormat: "k8senv-cache-key/v0"))
        #expect(error?.code == .keyFormat)
        #expect(error?.message.contains("key format \"k8senv-cache-key/v0\", this k8senv uses \"\(CacheKey.formatVersion)\"") == true, "\(String(describing: error))")
    }

    @Test("a storage kind whose files are not in the bundle, or unknown, is refused")
    func storageKind() throws {
        let etcd = refusal(try Self.bundleBytes(storage: "etcd"))
        #expect(etcd?.message.contains("the key claims storage etcd, whose snapshot is etcd.db, but the bundle holds state.db, state.db-wal") == true, "\(String(describing: etcd))")
        let unknown = refusal(try Self.bundleBytes(storage: "zookeeper"))
        #expect(unknown?.message.contains("storage \"zookeeper\" is not etcd, kine or embedded") == true)
        let escape = refusal(try Self.bundleBytes(files: ["state.db": [1], "state.db-x": [2]]).replacing(Data("state.db-x".utf8), with: Data("../../evil".utf8)))
        #expect(escape?.code == .malformed, "\(String(describing: escape))")
    }

    @Test("garbage, an empty file, a bad header, negative or huge sizes and trailing bytes are refused")
    func garbage() throws {
        #expect(refusal(Data())?.code == .notABundle)
        #expect(refusal(Data("hello\n".utf8))?.code == .notABundle)
        #expect(refusal(Data("k8senv-bundle/v1\n{not json}\n".utf8))?.code == .header)
        let data = try Self.bundleBytes()
        #expect(refusal(data + Data([0]))?.code == .malformed)
        let negative = data.replacing(Data("\"size\":3".utf8), with: Data("\"size\":-3".utf8))
        #expect(refusal(negative) != nil)
        let huge = data.replacing(Data("\"size\":3".utf8), with: Data("\"size\":9223372036854775807".utf8))
        #expect(refusal(huge)?.code == .truncated)
    }
}
