import Foundation
import K8sEnvSpec
import Testing

/// `k8senv cache export` and `cache import`: a snapshot built in one cache is a cache hit in
/// another; a damaged or foreign bundle is refused and writes nothing.
@Suite("k8senv cache export/import (real kube-apiserver)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct BundleTests {
    static let config = Workspace.smallConfig().replacingOccurrences(
        of: "    pool: {size: 1}\n",
        with: """
                pool: {size: 1}
                seeds:
                  - name: config
                    manifests: [seed.yaml]

            """)

    static let seed = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: carried
          namespace: default
        data:
          from: bundle

        """

    /// The entries of a cache's snapshots folder (none when it does not exist).
    static func entries(_ cache: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache + "/k8senv/snapshots")) ?? []).sorted()
    }

    @Test(
        "export from one cache, import into an empty one: up there is a cache hit with the seeded objects; damaged and foreign bundles are refused with their own message and leave the cache empty"
    )
    func exportImport() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "bundles") { ws in
            try ws.write("seed.yaml", Self.seed)
            let first = ws.path + "/cache-a"
            let second = ws.path + "/cache-b"
            let build = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "true", environment: ["XDG_CACHE_HOME": first])
            #expect(build.status == 0, "\(build)")

            // Nothing cached: export says so.
            let none = try await ws.k8senv(
                "cache", "export", "-o", ws.path + "/none.bundle", environment: ["XDG_CACHE_HOME": second])
            #expect(none.status == 1, "\(none)")
            #expect(
                none.stderr.contains("is not in the cache") && none.stderr.contains("run `k8senv up` first"), "\(none)")

            let bundle = ws.path + "/one.k8senv-bundle"
            let export = try await ws.k8senv(
                "cache", "export", "-f", "k8senv.yaml", "-e", "one", "-o", bundle,
                environment: ["XDG_CACHE_HOME": first])
            #expect(export.status == 0, "\(export)")
            #expect(export.stdout.contains("written to \(bundle)"), "\(export)")
            let bytes = try #require(FileManager.default.contents(atPath: bundle))

            // Refused: a flipped byte, another key format version, another storage kind.
            var flipped = bytes
            flipped[flipped.count - 100] ^= 0x20
            let storage = RealBinaries.storage
            let other = storage == "etcd" ? "embedded" : "etcd"
            let cases: [(String, Data, String)] = [
                ("flipped", flipped, "signature does not verify"),
                (
                    "keyformat",
                    bytes.replacing(Data("k8senv-cache-key/v1".utf8), with: Data("k8senv-cache-key/v9".utf8)),
                    "key format \"k8senv-cache-key/v9\", this k8senv uses \"k8senv-cache-key/v1\""
                ),
                (
                    "storage",
                    bytes.replacing(
                        Data("\"storage\":\"\(storage)\"".utf8), with: Data("\"storage\":\"\(other)\"".utf8)),
                    "the key claims storage \(other)"
                ),
                ("truncated", bytes.prefix(bytes.count - 10), "truncated"),
            ]
            for (name, data, message) in cases {
                let path = ws.path + "/\(name).k8senv-bundle"
                FileManager.default.createFile(atPath: path, contents: data)
                let refused = try await ws.k8senv("cache", "import", path, environment: ["XDG_CACHE_HOME": second])
                #expect(refused.status == 1, "\(name): \(refused)")
                #expect(
                    refused.stderr.contains("refused: \(path): ") && refused.stderr.contains(message),
                    "\(name): \(refused)")
                #expect(Self.entries(second).isEmpty, "\(name): \(Self.entries(second))")
            }

            let imported = try await ws.k8senv("cache", "import", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(imported.status == 0, "\(imported)")
            #expect(imported.stdout.contains("imported from \(bundle)"), "\(imported)")
            let run = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "kubectl", "get", "configmap", "carried", "-n", "default",
                "-o", "jsonpath={.data.from}", environment: ["XDG_CACHE_HOME": second])
            #expect(run.status == 0, "\(run)")
            #expect((run.stdout + run.stderr).contains("(cache hit)"), "\(run)")
            #expect(!(run.stdout + run.stderr).contains("cache miss"), "\(run)")
            #expect(run.stdout.contains("bundle"), "\(run)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "import -f: a bundle of the config is imported; one of another kube-apiserver version, or with a key the config does not compute, is refused naming what was expected, and writes nothing"
    )
    func importChecksTheConfig() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "bundles-f") { ws in
            try ws.write("seed.yaml", Self.seed)
            let first = ws.path + "/cache-a"
            let second = ws.path + "/cache-b"
            let build = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "true", environment: ["XDG_CACHE_HOME": first])
            #expect(build.status == 0, "\(build)")
            let bundle = ws.path + "/one.k8senv-bundle"
            let export = try await ws.k8senv("cache", "export", "-o", bundle, environment: ["XDG_CACHE_HOME": first])
            #expect(export.status == 0, "\(export)")
            let hash = try await ws.k8senv("hash", "-e", "one", environment: ["XDG_CACHE_HOME": first])
            let key = hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(key.count == 64, "\(hash)")
            let version = try await ws.k8senv("hash", "--format", "json", environment: ["XDG_CACHE_HOME": first])
            let local = try #require(parseJSONObject(version.stdout)?["kubeAPIServerVersion"] as? String, "\(version)")

            // Another kube-apiserver version than the one here: its own message.
            let otherVersion = try await ws.k8senv(
                "cache", "import", "-f", "k8senv.yaml", "--apiserver-version", "v1.19.0", bundle,
                environment: ["XDG_CACHE_HOME": second])
            #expect(otherVersion.status == 1, "\(otherVersion)")
            #expect(
                otherVersion.stderr.contains(
                    "refused: \(bundle): the snapshot of \"one\" was built by kube-apiserver \(local), but k8senv.yaml runs v1.19.0 here"
                ), "\(otherVersion)")
            #expect(Self.entries(second).isEmpty, "\(Self.entries(second))")

            // The config changed (another seed): the bundle's key is not one of its keys.
            try ws.write("seed.yaml", Self.seed.replacingOccurrences(of: "from: bundle", with: "from: changed"))
            let changed = try await ws.k8senv("hash", "-e", "one", environment: ["XDG_CACHE_HOME": first])
            let newKey = changed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let foreign = try await ws.k8senv(
                "cache", "import", "-f", "k8senv.yaml", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(foreign.status == 1, "\(foreign)")
            #expect(
                foreign.stderr.contains(
                    "refused: \(bundle): the snapshot of \"one\" has key \(key.prefix(12)), which is not one of the keys of k8senv.yaml here (one \(newKey.prefix(12)))"
                ), "\(foreign)")
            #expect(Self.entries(second).isEmpty, "\(Self.entries(second))")

            // The config as it was: imported, and run there is a cache hit.
            try ws.write("seed.yaml", Self.seed)
            let imported = try await ws.k8senv(
                "cache", "import", "-f", "k8senv.yaml", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(imported.status == 0, "\(imported)")
            #expect(imported.stdout.contains("imported from \(bundle)"), "\(imported)")
            let run = try await ws.k8senv("run", "--", "true", environment: ["XDG_CACHE_HOME": second])
            #expect(run.status == 0 && (run.stdout + run.stderr).contains("(cache hit)"), "\(run)")

            // --apiserver-version alone has nothing to key on: a usage error.
            let usage = try await ws.k8senv(
                "cache", "import", "--apiserver-version", "v1.20.2", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(usage.status == 2 && usage.stderr.contains("--apiserver-version needs -f"), "\(usage)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    // MARK: - Issue 25: bundles are authenticated, checked and bounded

    /// The secret both sides of these tests share (K8SENV_BUNDLE_KEY).
    static let secret = "bundle-tests-secret-0123456789abcdef"

    /// A bundle made from `real` (a bundle `cache export` wrote) as someone who knows the format
    /// would make it: its header and first line kept, the store file replaced by `store`, the
    /// environment's name by `environment`, the checksum recomputed; signed (when the format
    /// is signed) with `secret` as docs/reference/cache-layout.md says.
    static func craft(
        _ real: Data, store: Data? = nil, environment: String? = nil, secret: String,
        unsigned: Bool = false
    ) throws -> Data {
        let bytes = [UInt8](real)
        let first = try #require(bytes.firstIndex(of: 0x0A))
        let second = try #require(bytes[(first + 1)...].firstIndex(of: 0x0A))
        var magic = String(decoding: bytes[..<first], as: UTF8.self)
        var header = try #require(
            try JSONSerialization.jsonObject(with: Data(bytes[(first + 1)..<second])) as? [String: Any])
        var files = try #require(header["files"] as? [[String: Any]])
        var snapshot = try #require(header["snapshot"] as? [String: Any])
        var data = Data()
        var offset = second + 1
        for file in files {
            let size = try #require(file["size"] as? Int)
            data.append(contentsOf: bytes[offset..<offset + size])
            offset += size
        }
        if let store {
            let name = try #require(files.first?["name"] as? String)
            files = [["name": name, "size": store.count]]
            data = store
            let hasher = SHA256Hasher()
            hasher.update("\(name)\n\(store.count)\n")
            hasher.update([UInt8](store))
            snapshot["checksum"] = hasher.finalize()
            snapshot["size"] = store.count
        }
        if let environment { snapshot["environment"] = environment }
        header["files"] = files
        header["snapshot"] = snapshot
        if unsigned {
            magic = "k8senv-bundle/v1"
            header["signature"] = nil
        }
        var output = Data((magic + "\n").utf8)
        output.append(
            try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        output.append(0x0A)
        output.append(data)
        if magic != "k8senv-bundle/v1" {
            let key = HMACSHA256.mac(key: Array(secret.utf8), Array("k8senv bundle signing key v1".utf8))
            let mac = HMACSHA256.mac(key: key, [UInt8](output))
            output.append(Data(("hmac-sha256 " + mac.map { String(format: "%02x", $0) }.joined() + "\n").utf8))
        }
        return output
    }

    static let planted = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: planted
          namespace: default
        data:
          from: attacker
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: everyone-is-admin
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: cluster-admin
        subjects:
          - apiGroup: rbac.authorization.k8s.io
            kind: Group
            name: system:authenticated

        """

    @Test(
        "issue 25: a crafted store file under the config's real key (unsigned, or signed with another key) is refused; an empty or garbage store file signed with the right key is refused as not a store; nothing is published and a later run builds the real snapshot"
    )
    func craftedStoreFilesAreRefused() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "bundles-crafted") { ws in
            try ws.write("seed.yaml", Self.seed)
            try ws.write(
                "planted.yaml", Self.config.replacingOccurrences(of: "[seed.yaml]", with: "[planted-seed.yaml]"))
            try ws.write("planted-seed.yaml", Self.planted)
            let first = ws.path + "/cache-a"
            let second = ws.path + "/cache-b"
            let attacker = ws.path + "/cache-c"
            let signing: [String: String?] = ["K8SENV_BUNDLE_KEY": Self.secret]
            let build = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "true", environment: ["XDG_CACHE_HOME": first])
            #expect(build.status == 0, "\(build)")
            let bundle = ws.path + "/one.k8senv-bundle"
            let export = try await ws.k8senv(
                "cache", "export", "-f", "k8senv.yaml", "-o", bundle,
                environment: signing.merging(["XDG_CACHE_HOME": first]) { $1 })
            #expect(export.status == 0, "\(export)")
            let real = try #require(FileManager.default.contents(atPath: bundle))

            // The attacker's store: the same environment built from a seed of their own.
            let plant = try await ws.k8senv(
                "run", "-f", "planted.yaml", "--", "true", environment: ["XDG_CACHE_HOME": attacker])
            #expect(plant.status == 0, "\(plant)")
            let entry = try #require(Self.entries(attacker).first { !$0.hasPrefix(".") && !$0.hasSuffix(".lock") })
            let dataFolder = attacker + "/k8senv/snapshots/" + entry + "/data"
            let storeName = try #require(try FileManager.default.contentsOfDirectory(atPath: dataFolder).first)
            let plantedStore = try #require(FileManager.default.contents(atPath: dataFolder + "/" + storeName))

            let cases: [(String, Data, String)] = [
                (
                    "unsigned", try Self.craft(real, store: plantedStore, secret: Self.secret, unsigned: true),
                    "not signed"
                ),
                (
                    "wrong-key", try Self.craft(real, store: plantedStore, secret: "another key, not the exporter's"),
                    "signature does not verify"
                ),
                ("empty", try Self.craft(real, store: Data(), secret: Self.secret), "is empty"),
                (
                    "garbage", try Self.craft(real, store: Data(repeating: 0x5A, count: 8192), secret: Self.secret),
                    "is not"
                ),
            ]
            for (name, data, message) in cases {
                let path = ws.path + "/\(name).k8senv-bundle"
                FileManager.default.createFile(atPath: path, contents: data)
                let refused = try await ws.k8senv(
                    "cache", "import", "-f", "k8senv.yaml", path,
                    environment: signing.merging(["XDG_CACHE_HOME": second]) { $1 })
                #expect(refused.status == 1, "\(name): \(refused)")
                #expect(
                    refused.stderr.contains("refused: \(path): ") && refused.stderr.contains(message),
                    "\(name): \(refused)")
                #expect(Self.entries(second).allSatisfy { $0.hasSuffix(".lock") }, "\(name): \(Self.entries(second))")
            }
            let unsigned = try await ws.k8senv(
                "cache", "import", ws.path + "/wrong-key.k8senv-bundle", environment: ["XDG_CACHE_HOME": second])
            #expect(unsigned.stderr.contains("K8SENV_BUNDLE_KEY"), "the refusal says what to do: \(unsigned)")

            // The cache is usable: run builds the real snapshot, with the real seed and nothing planted.
            let run = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "kubectl", "get", "configmaps", "-n", "default", "-o", "name",
                environment: ["XDG_CACHE_HOME": second])
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("configmap/carried") && !run.stdout.contains("planted"), "\(run)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "issue 25: an exported bundle is 0600; a 1 GiB bundle (sparse) is refused naming its size and the limit; control characters in a bundle's metadata are printed escaped by import and cache ls"
    )
    func modeSizeAndControlCharacters() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "bundles-limits") { ws in
            try ws.write("seed.yaml", Self.seed)
            let first = ws.path + "/cache-a"
            let second = ws.path + "/cache-b"
            let signing: [String: String?] = ["K8SENV_BUNDLE_KEY": Self.secret]
            let build = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "true", environment: ["XDG_CACHE_HOME": first])
            #expect(build.status == 0, "\(build)")
            let bundle = ws.path + "/one.k8senv-bundle"
            let export = try await ws.k8senv(
                "cache", "export", "-o", bundle, environment: signing.merging(["XDG_CACHE_HOME": first]) { $1 })
            #expect(export.status == 0, "\(export)")
            var info = stat()
            #expect(
                stat(bundle, &info) == 0 && info.st_mode & 0o777 == 0o600,
                "mode \(String(info.st_mode & 0o777, radix: 8))")
            // The cached snapshot's store file too (state.db: VACUUM INTO; etcd.db: etcdctl).
            let entry = try #require(Self.entries(first).first { !$0.hasPrefix(".") && !$0.hasSuffix(".lock") })
            let dataFolder = first + "/k8senv/snapshots/" + entry + "/data"
            for name in try FileManager.default.contentsOfDirectory(atPath: dataFolder) {
                #expect(
                    stat(dataFolder + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o600,
                    "\(name): \(String(info.st_mode & 0o777, radix: 8))")
            }
            let real = try #require(FileManager.default.contents(atPath: bundle))

            // 1 GiB: the real header, its file's size claimed to fill it, the rest a hole.
            let gib = 1 << 30
            let lines = [UInt8](real).split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
            var header = try #require(try JSONSerialization.jsonObject(with: Data(lines[1])) as? [String: Any])
            let name = try #require((header["files"] as? [[String: Any]])?.first?["name"] as? String)
            func encoded(_ size: Int) throws -> Data {
                header["files"] = [["name": name, "size": size]]
                return try JSONSerialization.data(
                    withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
            }
            let length = lines[0].count + 1 + (try encoded(gib)).count + 1
            let start = Data(lines[0]) + Data([0x0A]) + (try encoded(gib - length - 77)) + Data([0x0A])
            let huge = ws.path + "/huge.k8senv-bundle"
            FileManager.default.createFile(atPath: huge, contents: start)
            #expect(truncate(huge, off_t(gib)) == 0)
            let refused = try await ws.k8senv(
                "cache", "import", huge, environment: signing.merging(["XDG_CACHE_HOME": second]) { $1 })
            #expect(refused.status == 1, "\(refused)")
            #expect(
                refused.stderr.contains("refused: \(huge): ") && refused.stderr.contains("1073741824 bytes")
                    && refused.stderr.contains("K8SENV_BUNDLE_MAX_SIZE"), "\(refused)")

            // ESC, BEL and a C1 control in the environment's name: shown escaped, never sent to the terminal.
            let crafted = ws.path + "/escape.k8senv-bundle"
            FileManager.default.createFile(
                atPath: crafted,
                contents: try Self.craft(real, environment: "one\u{1b}]0;pwned\u{07}\u{9b}2J", secret: Self.secret))
            let imported = try await ws.k8senv(
                "cache", "import", crafted, environment: signing.merging(["XDG_CACHE_HOME": second]) { $1 })
            #expect(imported.status == 0, "\(imported)")
            #expect(imported.stdout.contains("one\\x1b]0;pwned\\x07\\x9b2J: snapshot"), "\(imported)")
            let listed = try await ws.k8senv("cache", "ls", environment: ["XDG_CACHE_HOME": second])
            #expect(listed.stdout.contains("one\\x1b]0;pwned\\x07\\x9b2J"), "\(listed)")
            for output in [imported.stdout, imported.stderr, listed.stdout, listed.stderr] {
                #expect(
                    !output.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 || $0.value == 0x9b },
                    "\(output.debugDescription)")
            }
        }
    }
}
