import Foundation
import Testing

/// `k8senv cache export` and `cache import`: a snapshot built in one cache is a cache hit in
/// another; a damaged or foreign bundle is refused and writes nothing.
@Suite("k8senv cache export/import (real kube-apiserver)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct BundleTests {
    static let config = Workspace.smallConfig().replacingOccurrences(of: "    pool: {size: 1}\n", with: """
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

    @Test("export from one cache, import into an empty one: up there is a cache hit with the seeded objects; damaged and foreign bundles are refused with their own message and leave the cache empty")
    func exportImport() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "bundles") { ws in
            try ws.write("seed.yaml", Self.seed)
            let first = ws.path + "/cache-a", second = ws.path + "/cache-b"
            let build = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "true", environment: ["XDG_CACHE_HOME": first])
            #expect(build.status == 0, "\(build)")

            // Nothing cached: export says so.
            let none = try await ws.k8senv("cache", "export", "-o", ws.path + "/none.bundle", environment: ["XDG_CACHE_HOME": second])
            #expect(none.status == 1, "\(none)")
            #expect(none.stderr.contains("is not in the cache") && none.stderr.contains("run `k8senv up` first"), "\(none)")

            let bundle = ws.path + "/one.k8senv-bundle"
            let export = try await ws.k8senv("cache", "export", "-f", "k8senv.yaml", "-e", "one", "-o", bundle, environment: ["XDG_CACHE_HOME": first])
            #expect(export.status == 0, "\(export)")
            #expect(export.stdout.contains("written to \(bundle)"), "\(export)")
            let bytes = try #require(FileManager.default.contents(atPath: bundle))

            // Refused: a flipped byte, another key format version, another storage kind.
            var flipped = bytes
            flipped[flipped.count - 100] ^= 0x20
            let storage = RealBinaries.storage
            let other = storage == "etcd" ? "embedded" : "etcd"
            let cases: [(String, Data, String)] = [
                ("flipped", flipped, "checksum mismatch"),
                ("keyformat", bytes.replacing(Data("k8senv-cache-key/v1".utf8), with: Data("k8senv-cache-key/v9".utf8)),
                 "key format \"k8senv-cache-key/v9\", this k8senv uses \"k8senv-cache-key/v1\""),
                ("storage", bytes.replacing(Data("\"storage\":\"\(storage)\"".utf8), with: Data("\"storage\":\"\(other)\"".utf8)),
                 "the key claims storage \(other)"),
                ("truncated", bytes.prefix(bytes.count - 10), "truncated"),
            ]
            for (name, data, message) in cases {
                let path = ws.path + "/\(name).k8senv-bundle"
                FileManager.default.createFile(atPath: path, contents: data)
                let refused = try await ws.k8senv("cache", "import", path, environment: ["XDG_CACHE_HOME": second])
                #expect(refused.status == 1, "\(name): \(refused)")
                #expect(refused.stderr.contains("refused: \(path): ") && refused.stderr.contains(message), "\(name): \(refused)")
                #expect(Self.entries(second).isEmpty, "\(name): \(Self.entries(second))")
            }

            let imported = try await ws.k8senv("cache", "import", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(imported.status == 0, "\(imported)")
            #expect(imported.stdout.contains("imported from \(bundle)"), "\(imported)")
            let run = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "kubectl", "get", "configmap", "carried", "-n", "default",
                                          "-o", "jsonpath={.data.from}", environment: ["XDG_CACHE_HOME": second])
            #expect(run.status == 0, "\(run)")
            #expect((run.stdout + run.stderr).contains("(cache hit)"), "\(run)")
            #expect(!(run.stdout + run.stderr).contains("cache miss"), "\(run)")
            #expect(run.stdout.contains("bundle"), "\(run)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("import -f: a bundle of the config is imported; one of another kube-apiserver version, or with a key the config does not compute, is refused naming what was expected, and writes nothing")
    func importChecksTheConfig() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "bundles-f") { ws in
            try ws.write("seed.yaml", Self.seed)
            let first = ws.path + "/cache-a", second = ws.path + "/cache-b"
            let build = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "true", environment: ["XDG_CACHE_HOME": first])
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
            let otherVersion = try await ws.k8senv("cache", "import", "-f", "k8senv.yaml", "--apiserver-version", "v1.19.0", bundle,
                                                   environment: ["XDG_CACHE_HOME": second])
            #expect(otherVersion.status == 1, "\(otherVersion)")
            #expect(otherVersion.stderr.contains("refused: \(bundle): the snapshot of \"one\" was built by kube-apiserver \(local), but k8senv.yaml runs v1.19.0 here"), "\(otherVersion)")
            #expect(Self.entries(second).isEmpty, "\(Self.entries(second))")

            // The config changed (another seed): the bundle's key is not one of its keys.
            try ws.write("seed.yaml", Self.seed.replacingOccurrences(of: "from: bundle", with: "from: changed"))
            let changed = try await ws.k8senv("hash", "-e", "one", environment: ["XDG_CACHE_HOME": first])
            let newKey = changed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let foreign = try await ws.k8senv("cache", "import", "-f", "k8senv.yaml", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(foreign.status == 1, "\(foreign)")
            #expect(foreign.stderr.contains("refused: \(bundle): the snapshot of \"one\" has key \(key.prefix(12)), which is not one of the keys of k8senv.yaml here (one \(newKey.prefix(12)))"), "\(foreign)")
            #expect(Self.entries(second).isEmpty, "\(Self.entries(second))")

            // The config as it was: imported, and run there is a cache hit.
            try ws.write("seed.yaml", Self.seed)
            let imported = try await ws.k8senv("cache", "import", "-f", "k8senv.yaml", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(imported.status == 0, "\(imported)")
            #expect(imported.stdout.contains("imported from \(bundle)"), "\(imported)")
            let run = try await ws.k8senv("run", "--", "true", environment: ["XDG_CACHE_HOME": second])
            #expect(run.status == 0 && (run.stdout + run.stderr).contains("(cache hit)"), "\(run)")

            // --apiserver-version alone has nothing to key on: a usage error.
            let usage = try await ws.k8senv("cache", "import", "--apiserver-version", "v1.20.2", bundle, environment: ["XDG_CACHE_HOME": second])
            #expect(usage.status == 2 && usage.stderr.contains("--apiserver-version needs -f"), "\(usage)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
