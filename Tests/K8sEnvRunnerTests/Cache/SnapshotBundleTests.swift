import Foundation
import K8sEnvSpec
import K8sEnvStore
import Testing

@testable import K8sEnvRunner

/// The bundle reader on well-formed and malformed files: every damage is a ``BundleError`` that
/// names the file, never a crash, and nothing is extracted from a bundle that fails a check.
@Suite("snapshot bundles: the format's reader", .tags(.fast))
struct SnapshotBundleTests {
    static let key = BundleKey(secret: "the tests' bundle key, long enough", source: BundleKey.variable)

    /// A folder of its own for one test, removed after it.
    static func withFolder<T>(_ body: (String) throws -> T) throws -> T {
        let folder = FileManager.default.temporaryDirectory.path + "/bundle-test-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try body(folder)
    }

    /// An SQLite file of the embedded store's schema (as the store makes it), with `rows` keys.
    static func storeFile(at path: String, rows: Int = 3) throws {
        let live = (path as NSString).deletingLastPathComponent + "/../live-" + UUID().uuidString.prefix(8) + ".db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: live + suffix) } }
        let store = try KeyValueStore(path: live)
        for i in 0..<rows {
            var put = Etcdserverpb_PutRequest()
            put.key = Data("/registry/configmaps/default/c\(i)".utf8)
            put.value = Data("v".utf8)
            _ = try store.put(put)
        }
        try store.copy(to: path)
    }

    /// A bundle of an embedded snapshot whose state.db is `store` (default: a real store file), signed with `key`.
    static func bundleBytes(
        storage: String = "embedded", store: [UInt8]? = nil, key: BundleKey = key,
        keyFormat: String? = nil
    ) throws -> Data {
        try withFolder { folder in
            try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
            let name = storage == "etcd" ? "etcd.db" : "state.db"
            if let store {
                FileManager.default.createFile(atPath: folder + "/data/" + name, contents: Data(store))
            } else {
                try storeFile(at: folder + "/data/" + name)
            }
            let metadata = SnapshotMetadata(
                key: String(repeating: "ab", count: 32), environment: "one", config: "/x/k8senv.yaml", parentKey: nil,
                storage: storage, kubeAPIServerVersion: "v1.20.2", files: [], objects: 3,
                size: 0, checksum: try SnapshotStore.checksum(of: folder + "/data"), buildSeconds: 1, createdAt: Date())
            try SnapshotBundle.write(
                Snapshot(path: folder, metadata: metadata), to: folder + "/b", key: key, limits: BundleLimits())
            var data = try #require(FileManager.default.contents(atPath: folder + "/b"))
            if let keyFormat {
                data = data.replacing(Data(CacheKey.formatVersion.utf8), with: Data(keyFormat.utf8))
            }
            return data
        }
    }

    /// What reading and extracting `data` as a bundle refuses (nil: accepted), and whether the
    /// extraction folder was left empty of store files on a refusal before the checks passed.
    func refusal(_ data: Data, key: BundleKey = key, limits: BundleLimits = BundleLimits()) throws -> BundleError? {
        try Self.withFolder { folder -> BundleError? in
            let path = folder + "/x.k8senv-bundle"
            FileManager.default.createFile(atPath: path, contents: data)
            do throws(BundleError) {
                let bundle = try SnapshotBundle.open(path, limits: limits)
                try bundle.extract(into: folder + "/out", key: key)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test("a bundle reads back with its files, key, storage, version and signature, and extracts to a 0600 store file")
    func roundTrip() throws {
        try Self.withFolder { folder in
            FileManager.default.createFile(atPath: folder + "/b", contents: try Self.bundleBytes())
            let bundle = try SnapshotBundle.open(folder + "/b", limits: BundleLimits())
            #expect(bundle.header.files.map(\.name) == ["state.db"])
            #expect(bundle.header.snapshot.storage == "embedded")
            #expect(bundle.header.keyFormat == CacheKey.formatVersion)
            #expect(
                bundle.header.signature == .init(algorithm: "hmac-sha256", key: "K8SENV_BUNDLE_KEY", keyID: Self.key.id)
            )
            try bundle.extract(into: folder + "/out", key: Self.key)
            var info = stat()
            #expect(stat(folder + "/out/state.db", &info) == 0 && info.st_mode & 0o777 == 0o600)
        }
    }

    @Test("issue 25: an exported bundle is 0600, whatever the umask")
    func exportedMode() throws {
        try Self.withFolder { folder in
            let old = umask(0o022)
            defer { umask(old) }
            try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
            try Self.storeFile(at: folder + "/data/state.db")
            let metadata = SnapshotMetadata(
                key: String(repeating: "cd", count: 32), environment: "one", config: "/x", parentKey: nil,
                storage: "embedded",
                kubeAPIServerVersion: "v1.20.2", files: [], objects: 0, size: 0,
                checksum: try SnapshotStore.checksum(of: folder + "/data"), buildSeconds: 0, createdAt: Date())
            try SnapshotBundle.write(
                Snapshot(path: folder, metadata: metadata), to: folder + "/out.k8senv-bundle", key: Self.key,
                limits: BundleLimits())
            var info = stat()
            #expect(
                stat(folder + "/out.k8senv-bundle", &info) == 0 && info.st_mode & 0o777 == 0o600,
                "\(String(info.st_mode & 0o777, radix: 8))")
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["data", "out.k8senv-bundle"],
                "no temporary left")
        }
    }

    @Test(
        "issue 25: a bundle signed with another key is refused before its data is read, naming both keys and K8SENV_BUNDLE_KEY; one whose signature does not verify (changed after signing) is refused; an unsigned v1 bundle is refused"
    )
    func signatures() throws {
        let other = BundleKey(secret: "somebody else's key, long enough", source: "user")
        let foreign = try refusal(try Self.bundleBytes(key: other))
        #expect(foreign?.code == .signature, "\(String(describing: foreign))")
        #expect(
            foreign?.message.contains(
                "signed with another key: the exporting user's own key (key id \(other.id)), not K8SENV_BUNDLE_KEY (key id \(Self.key.id)); set K8SENV_BUNDLE_KEY to the key the exporting job used"
            ) == true, "\(String(describing: foreign))")

        // The header kept (it names this key), the data replaced: the MAC does not verify.
        let data = try Self.bundleBytes()
        var forged = data
        forged[forged.count - Int(SnapshotBundle.trailerLength) - 10] ^= 0x01
        let changed = try refusal(forged)
        #expect(
            changed?.code == .signature && changed?.message.contains("the signature does not verify") == true,
            "\(String(describing: changed))")

        let v1 = Data("k8senv-bundle/v1\n{}\n".utf8)
        let unsigned = try refusal(v1)
        #expect(
            unsigned?.code == .unsigned && unsigned?.message.contains("not signed") == true
                && unsigned?.message.contains("K8SENV_BUNDLE_KEY") == true, "\(String(describing: unsigned))")
    }

    @Test("every flipped byte after the header is refused (signature), never extracted")
    func flippedBytes() throws {
        let data = try Self.bundleBytes()
        let start = data.firstIndex(of: 0x0A).map { data[($0 + 1)...].firstIndex(of: 0x0A)! + 1 }!
        for i in stride(from: start, to: data.count - 1, by: max(1, (data.count - start) / 200)) {
            var damaged = data
            damaged[i] ^= 0x01
            let error = try refusal(damaged)
            #expect(error?.code == .signature || error?.code == .malformed, "byte \(i): \(String(describing: error))")
        }
    }

    @Test("every truncation is refused as truncated (or not a bundle when nothing is left), never a crash")
    func truncations() throws {
        let data = try Self.bundleBytes()
        let header = data.firstIndex(of: 0x0A).map { data[($0 + 1)...].firstIndex(of: 0x0A)! + 1 }!
        for length in Array(0..<header + 2)
            + stride(from: header + 2, to: data.count, by: max(1, (data.count - header) / 100))
        {
            let error = try refusal(data.prefix(length))
            #expect(error != nil, "length \(length)")
            if length > 0 && length < data.count {
                #expect(
                    error?.code == .truncated || error?.code == .header,
                    "length \(length): \(String(describing: error))")
            }
        }
    }

    @Test("another key format version is refused with both versions named")
    func keyFormat() throws {
        let error = try refusal(try Self.bundleBytes(keyFormat: "k8senv-cache-key/v0"))
        #expect(error?.code == .keyFormat)
        #expect(
            error?.message.contains(
                "key format \"k8senv-cache-key/v0\", this k8senv uses \"\(CacheKey.formatVersion)\"") == true,
            "\(String(describing: error))")
    }

    @Test("a storage kind whose files are not in the bundle, or unknown, is refused")
    func storageKind() throws {
        let etcd = try refusal(
            try Self.bundleBytes().replacing(
                Data("\"storage\":\"embedded\"".utf8), with: Data("\"storage\":\"etcd\"".utf8)))
        #expect(
            etcd?.message.contains(
                "the key claims storage etcd, whose snapshot is etcd.db, but the bundle holds state.db") == true,
            "\(String(describing: etcd))")
        let unknown = try refusal(
            try Self.bundleBytes().replacing(
                Data("\"storage\":\"embedded\"".utf8), with: Data("\"storage\":\"zookeeper\"".utf8)))
        #expect(unknown?.message.contains("storage \"zookeeper\" is not etcd, kine or embedded") == true)
        let escape = try refusal(
            try Self.bundleBytes().replacing(
                Data("\"name\":\"state.db\"".utf8), with: Data("\"name\":\"../../evil\"".utf8)))
        #expect(escape?.code == .malformed, "\(String(describing: escape))")
    }

    @Test(
        "issue 25: a signed bundle whose store file is empty, garbage, an SQLite database of another schema, or a damaged etcd snapshot is refused as not a store"
    )
    func storeFiles() throws {
        let empty = try refusal(try Self.bundleBytes(store: []))
        #expect(
            empty?.code == .store && empty?.message.contains("state.db is empty (0 bytes)") == true,
            "\(String(describing: empty))")
        let garbage = try refusal(try Self.bundleBytes(store: [UInt8](repeating: 0x5A, count: 8192)))
        #expect(
            garbage?.code == .store && garbage?.message.contains("state.db is not an SQLite database") == true,
            "\(String(describing: garbage))")
        let other = try Self.withFolder { folder in
            let path = folder + "/other.db"
            let sqlite = Process()
            sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            sqlite.arguments = ["sqlite3", path, "CREATE TABLE planted (x)"]
            try sqlite.run()
            sqlite.waitUntilExit()
            #expect(sqlite.terminationStatus == 0)
            return try #require(FileManager.default.contents(atPath: path))
        }
        let schema = try refusal(try Self.bundleBytes(store: [UInt8](other)))
        #expect(
            schema?.code == .store
                && schema?.message.contains("without k8senv's store tables (it needs kv, lease, meta; it has planted)")
                    == true,
            "\(String(describing: schema))")
        let etcd = try refusal(try Self.bundleBytes(storage: "etcd", store: [UInt8](repeating: 0, count: 4096 + 32)))
        #expect(
            etcd?.code == .store && etcd?.message.contains("etcd.db is damaged") == true, "\(String(describing: etcd))")
        let noHash = try refusal(try Self.bundleBytes(storage: "etcd", store: [UInt8](repeating: 7, count: 100)))
        #expect(
            noHash?.message.contains("etcd.db is not an etcd snapshot: it has no integrity hash") == true,
            "\(String(describing: noHash))")
    }

    @Test(
        "issue 25: a sparse 1 GiB bundle is refused from its size alone, naming the size and K8SENV_BUNDLE_MAX_SIZE; a header that lists a file larger than the limit is refused before reading"
    )
    func sizes() throws {
        try Self.withFolder { folder in
            let path = folder + "/huge.k8senv-bundle"
            let data = try Self.bundleBytes()
            FileManager.default.createFile(atPath: path, contents: data)
            #expect(truncate(path, off_t(1 << 30)) == 0)
            do throws(BundleError) {
                _ = try SnapshotBundle.open(path, limits: BundleLimits())
                Issue.record("a 1 GiB bundle was opened")
            } catch {
                #expect(
                    error.code == .tooLarge && error.message.contains("\(path): 1073741824 bytes")
                        && error.message.contains("K8SENV_BUNDLE_MAX_SIZE"), "\(error)")
            }
        }
        let small = try refusal(try Self.bundleBytes(), limits: BundleLimits(maxSize: 100))
        #expect(
            small?.code == .tooLarge && small?.message.contains("more than the 100 bytes a bundle may hold") == true,
            "\(String(describing: small))")
        let huge = try Self.bundleBytes()
        let size = try #require(String(decoding: huge, as: UTF8.self).firstMatch(of: /"size":(\d+)\}\]/)?.1)
        let claimed = try refusal(
            huge.replacing(Data("\"size\":\(size)}]".utf8), with: Data("\"size\":9223372036854775807}]".utf8)))
        #expect(claimed?.code == .tooLarge, "\(String(describing: claimed))")
        let negative = try refusal(huge.replacing(Data("\"size\":\(size)}]".utf8), with: Data("\"size\":-3}]".utf8)))
        #expect(negative?.code == .malformed, "\(String(describing: negative))")
    }

    @Test(
        "K8SENV_BUNDLE_MAX_SIZE: bytes or K, M, G (Ki, Mi, Gi); anything else is an error naming it; K8SENV_BUNDLE_KEY shorter than 16 characters is refused"
    )
    func settings() throws {
        #expect(try BundleLimits.current([:]).maxSize == 512 << 20)
        #expect(try BundleLimits.current(["K8SENV_BUNDLE_MAX_SIZE": "1000"]).maxSize == 1000)
        #expect(try BundleLimits.current(["K8SENV_BUNDLE_MAX_SIZE": "2G"]).maxSize == 2 << 30)
        #expect(try BundleLimits.current(["K8SENV_BUNDLE_MAX_SIZE": "64Mi"]).maxSize == 64 << 20)
        #expect(throws: BundleError.self) { try BundleLimits.current(["K8SENV_BUNDLE_MAX_SIZE": "lots"]) }
        #expect(throws: BundleError.self) { try BundleKey.current(["K8SENV_BUNDLE_KEY": "short"]) }
        let one = try BundleKey.current(["K8SENV_BUNDLE_KEY": "a secret of the CI jobs"])
        let two = try BundleKey.current(["K8SENV_BUNDLE_KEY": "a secret of the CI jobs"])
        #expect(one.id == two.id && one.bytes == two.bytes && one.source == "K8SENV_BUNDLE_KEY")
        #expect(one.bytes != Array("a secret of the CI jobs".utf8), "the secret is never used raw")
    }

    @Test("garbage, an empty file, a bad header and trailing bytes are refused")
    func garbage() throws {
        #expect(try refusal(Data())?.code == .notABundle)
        #expect(try refusal(Data("hello\n".utf8))?.code == .notABundle)
        #expect(try refusal(Data("k8senv-bundle/v2\n{not json}\n".utf8))?.code == .header)
        #expect(try refusal(try Self.bundleBytes() + Data([0]))?.code == .malformed)
    }

    @Test("HMAC-SHA256 as RFC 4231 test case 2 gives it")
    func hmac() {
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(SnapshotBundle.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("issue 25: control characters are escaped as \\xHH")
    func escaping() {
        #expect(ControlCharacters.escaped("one\u{1b}]0;x\u{07}\u{9b}\u{7f}\n") == "one\\x1b]0;x\\x07\\x9b\\x7f\\x0a")
        #expect(ControlCharacters.escaped("plain été") == "plain été")
    }
}
