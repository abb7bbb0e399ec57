import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Snapshot cache lookup", .tags(.fast))
struct SnapshotLookupTests {
    func metadata(_ key: String) throws -> SnapshotMetadata {
        let json =
            #"{"key":"\#(key)","environment":"base","config":"k8senv.yaml","storage":"embedded","kubeAPIServerVersion":"v1.20.2","files":[],"objects":0,"size":0,"checksum":"","buildSeconds":0,"createdAt":"2026-12-01T00:00:00Z"}"#
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SnapshotMetadata.self, from: Data(json.utf8))
    }

    @Test("missing, hit, then corrupt once a data file changes (lookup removes nothing; discard does)")
    func lookup() throws {
        let folder = try TemporaryFolder()
        let store = SnapshotStore(root: folder.path)
        let key = String(repeating: "ab", count: 32)
        guard case .missing = store.lookup(key) else {
            Issue.record("an empty cache has no \(key)")
            return
        }
        let staging = try store.makeStaging(key)
        try Data("a store's bytes".utf8).write(to: URL(fileURLWithPath: staging + "/data/state.db"))
        let published = try store.publish(staging, metadata: try metadata(key))
        guard case .hit(let hit) = store.lookup(key) else {
            Issue.record("a published entry is a hit")
            return
        }
        #expect(hit.metadata.checksum == published.metadata.checksum)
        guard case .hit = store.lookup(key) else {
            Issue.record("still a hit")
            return
        }
        // Truncated after this process verified it: seen, because the file changed.
        #expect(truncate(published.dataPath + "/state.db", 3) == 0)
        guard case .corrupt(let reason) = store.lookup(key) else {
            Issue.record("a truncated entry is corrupt")
            return
        }
        #expect(reason == "checksum mismatch")
        #expect(FileManager.default.fileExists(atPath: published.path), "lookup removes nothing")
        store.discard(key)
        #expect(!FileManager.default.fileExists(atPath: published.path))
        guard case .missing = store.lookup(key) else {
            Issue.record("discarded")
            return
        }
    }
}
