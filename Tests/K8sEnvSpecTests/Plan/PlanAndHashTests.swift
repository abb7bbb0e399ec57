import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// Loads `path` and computes every environment's cache key.
func cacheKeys(_ path: String, profile: String? = nil, version: String = "v1.20.2") throws -> [String: String] {
    let loader = ConfigLoader(variables: [:])
    let plan = try Plan(try loader.load(path, profile: profile))
    return try CacheKey.compute(plan, apiServerVersion: version, files: loader.files)
}

func manifest(_ kind: String, _ name: String) -> String {
    "apiVersion: v1\nkind: \(kind)\nmetadata: {name: \(name)}\n"
}

@Suite("Plan and cache key")
struct PlanAndHashTests {
    // MARK: Plan

    @Test("environments come parents first; otherwise in file order", .tags(.fast))
    func environmentOrder() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                "environments:\n  child: {extends: mid}\n  mid: {extends: base}\n  other: {}\n  base: {}\n  sibling: {extends: base}\n"
            )
            let plan = try Plan(try ConfigLoader(variables: [:]).load(path))
            #expect(plan.environments.map(\.name) == ["other", "base", "mid", "child", "sibling"])
            #expect(plan.environments.map(\.parent) == [nil, nil, "base", "mid", "base"])
            #expect(plan.lineage(of: "child").map(\.name) == ["base", "mid", "child"])
        }
    }

    @Test("seed sets come in dependsOn order, ties in file order", .tags(.fast))
    func seedOrder() throws {
        try TemporaryFolder.with { folder in
            for set in ["a", "b", "c", "d", "e"] {
                try folder.write("\(set).yaml", manifest("Namespace", "team-\(set)"))
            }
            let path = try folder.config(
                """
                environments:
                  base:
                    seeds:
                      - {name: c, manifests: [c.yaml], dependsOn: [a]}
                      - {name: a, manifests: [a.yaml]}
                      - {name: d, manifests: [d.yaml], dependsOn: [c, b]}
                      - {name: b, manifests: [b.yaml]}
                      - {name: e, manifests: [e.yaml]}

                """)
            let plan = try Plan(try ConfigLoader(variables: [:]).load(path))
            #expect(plan.environments.first?.seedSets.map(\.name) == ["a", "c", "b", "d", "e"])
            #expect(plan.environments.first?.seedSets.map(\.dependsOn) == [[], ["a"], [], ["c", "b"], []])
        }
    }

    @Test("folders expand recursively, sorted by path bytes, .yaml/.yml/.json only, dotfiles skipped", .tags(.fast))
    func folderExpansion() throws {
        try TemporaryFolder.with { folder in
            for name in [
                "b.yaml", "a.yml", "a10.yaml", "a2.yaml", "Z.YAML", "sub/c.json", "sub/deeper/d.yaml",
                "sub/.hidden.yaml", ".dot/x.yaml", "readme.md", "yaml", "notes.yaml.txt",
            ] {
                try folder.write(
                    "crds/" + name,
                    name.hasSuffix(".json")
                        ? #"{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "j.example.com"}}"#
                        : crdText)
            }
            let path = try folder.config("environments:\n  base: {crds: [crds/, crds/b.yaml]}\n")
            let plan = try Plan(try ConfigLoader(variables: [:]).load(path))
            #expect(
                plan.environments.first?.crdFiles.map(\.relativePath) == [
                    "crds/Z.YAML", "crds/a.yml", "crds/a10.yaml", "crds/a2.yaml", "crds/b.yaml", "crds/sub/c.json",
                    "crds/sub/deeper/d.yaml", "crds/b.yaml",
                ])
        }
    }

    @Test(
        "objects of a seed set apply in Helm's kind order, unknown kinds last alphabetically, stable within a kind",
        .tags(.fast))
    func applyOrder() throws {
        try TemporaryFolder.with { folder in
            let objects = [
                ("Deployment", "d1"), ("ConfigMap", "c1"), ("Widget", "w1"), ("Namespace", "n1"), ("Zebra", "z1"),
                ("ConfigMap", "c2"), ("Apple", "a1"), ("Deployment", "d2"), ("Widget", "w2"), ("ServiceAccount", "s1"),
                ("PriorityClass", "p1"), ("ValidatingWebhookConfiguration", "v1"),
            ]
            try folder.write("seeds/all.yaml", objects.map { manifest($0.0, $0.1) }.joined(separator: "---\n"))
            let loader = ConfigLoader(variables: [:])
            let path = try folder.config("environments:\n  base:\n    seeds: [{name: s, manifests: [seeds/]}]\n")
            let plan = try Plan(try loader.load(path))
            let file = try #require(plan.environments.first?.seedSets.first?.files.first)
            let sorted = ApplyOrder.sorted(try Manifests.read(file, files: loader.files))
            #expect(sorted.map(\.name) == ["p1", "n1", "s1", "c1", "c2", "d1", "d2", "v1", "a1", "w1", "w2", "z1"])
        }
    }

    @Test("Helm's order as DESIGN.md lists it", .tags(.fast))
    func kindList() {
        #expect(ApplyOrder.kinds.first == "PriorityClass")
        #expect(ApplyOrder.kinds.firstIndex(of: "Namespace")! < ApplyOrder.kinds.firstIndex(of: "ConfigMap")!)
        #expect(ApplyOrder.kinds.firstIndex(of: "ConfigMap")! < ApplyOrder.kinds.firstIndex(of: "Deployment")!)
        #expect(
            ApplyOrder.kinds.firstIndex(of: "CustomResourceDefinition")! < ApplyOrder.kinds.firstIndex(
                of: "ClusterRole")!)
        #expect(ApplyOrder.kinds.last == "ValidatingWebhookConfiguration")
        #expect(Set(ApplyOrder.kinds).count == ApplyOrder.kinds.count)
    }

    // MARK: Cache key

    /// A config with a parent and a child, each with a CRD and a seed set.
    static let baseConfig = """
        storage: etcd
        timeouts: {start: 60s}
        apiServer: {extraArgs: [--v=2]}
        environments:
          base:
            pool: {size: 4}
            crds: [crds/]
            seeds: [{name: ns, manifests: [seeds/ns.yaml]}]
          child:
            extends: base
            crds: [child-crds/w.yaml]
            seeds: [{name: more, dependsOn: [ns], manifests: [seeds/cm.yaml]}]

        """

    static func writeFiles(_ folder: TemporaryFolder) throws {
        try folder.write("crds/widgets.yaml", crdText)
        try folder.write(
            "child-crds/w.yaml",
            crdText.replacingOccurrences(of: "widgets", with: "gadgets").replacingOccurrences(
                of: "Widget", with: "Gadget"))
        try folder.write("seeds/ns.yaml", namespaceText)
        try folder.write("seeds/cm.yaml", manifest("ConfigMap", "settings"))
    }

    @Test("the key is SHA-256 over the documented canonical form (checked with Python's hashlib)", .tags(.python))
    func independentHash() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let keys = try cacheKeys(try folder.config(Self.baseConfig))
            func file(_ tag: String, _ relative: String) throws -> [UInt8] {
                let bytes = try Repository.read(folder(relative))
                return Array("\(tag) \(relative) \(bytes.count)\n".utf8) + bytes + Array("\n".utf8)
            }
            let baseForm =
                Array("k8senv-cache-key/v1\nstorage etcd\nkube-apiserver v1.20.2\narg --v=2\nparent -\n".utf8)
                + (try file("crd", "crds/widgets.yaml"))
                + Array("seed-set ns \n".utf8) + (try file("manifest", "seeds/ns.yaml"))
            let baseKey = try Self.pythonSHA256(baseForm, in: folder)
            #expect(SHA256Hasher.hex(baseForm) == baseKey)
            #expect(keys["base"] == baseKey)
            let childForm =
                Array("k8senv-cache-key/v1\nstorage etcd\nkube-apiserver v1.20.2\narg --v=2\nparent \(baseKey)\n".utf8)
                + (try file("crd", "child-crds/w.yaml"))
                + Array("seed-set more ns\n".utf8) + (try file("manifest", "seeds/cm.yaml"))
            #expect(keys["child"] == (try Self.pythonSHA256(childForm, in: folder)))
        }
    }

    static func pythonSHA256(_ bytes: [UInt8], in folder: TemporaryFolder) throws -> String {
        let path = try folder.write("canonical-\(UUID().uuidString)", bytes: bytes)
        let result = try run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())", path,
            ])
        try #require(result.status == 0, "python3 failed: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("SHA-256 known answers", .tags(.fast))
    func knownAnswers() {
        #expect(SHA256Hasher.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256Hasher.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let hasher = SHA256Hasher()
        hasher.update("a")
        hasher.update(Array("bc".utf8))
        #expect(hasher.finalize() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test(
        "comments, key order, pool size, timeouts and binaries do not change the key", .tags(.fast),
        arguments: [
            "# a comment\n"
                + baseConfig.replacingOccurrences(of: "storage: etcd", with: "storage: etcd  # stored data"),
            baseConfig.replacingOccurrences(
                of: "storage: etcd\ntimeouts: {start: 60s}\n", with: "timeouts: {start: 60s}\nstorage: etcd\n"
            )
            .replacingOccurrences(
                of: "{name: ns, manifests: [seeds/ns.yaml]}", with: "{manifests: [seeds/ns.yaml], name: ns}"),
            baseConfig.replacingOccurrences(of: "size: 4", with: "size: 9"),
            baseConfig.replacingOccurrences(of: "{start: 60s}", with: "{start: 5m, stop: 1s, crds: 10m}"),
            "binaries: {kubeAPIServer: /opt/kas, etcd: /opt/etcd}\n" + baseConfig,
            baseConfig.replacingOccurrences(of: "crds: [crds/]", with: "crds: [./crds]"),
            baseConfig + "profiles:\n  slow: {timeouts: {start: 10m}}\n",
        ])
    func stableKey(variant: String) throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let original = try cacheKeys(try folder.config(Self.baseConfig))
            #expect(try cacheKeys(try folder.config(variant, name: "variant.yaml")) == original)
        }
    }

    @Test("a profile that changes only timeouts or pool sizes keeps the key", .tags(.fast))
    func profileTimeoutsKeepKey() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let path = try folder.config(
                Self.baseConfig
                    + "profiles:\n  ci: {timeouts: {start: 10m, seeds: 1h}, environments: {base: {pool: {size: 1}}}}\n")
            #expect(try cacheKeys(path, profile: "ci") == (try cacheKeys(path)))
        }
    }

    @Test("storage, the apiserver version and extraArgs change every key", .tags(.fast))
    func settingsChangeKey() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let original = try cacheKeys(try folder.config(Self.baseConfig))
            let variants = [
                try cacheKeys(
                    try folder.config(
                        Self.baseConfig.replacingOccurrences(of: "storage: etcd", with: "storage: kine"),
                        name: "kine.yaml")),
                try cacheKeys(try folder.config(Self.baseConfig), version: "v1.20.3"),
                try cacheKeys(
                    try folder.config(
                        Self.baseConfig.replacingOccurrences(of: "[--v=2]", with: "[--v=3]"), name: "args.yaml")),
                try cacheKeys(
                    try folder.config(
                        Self.baseConfig.replacingOccurrences(of: "[--v=2]", with: "[--v=2, --a]"), name: "more.yaml")),
                try cacheKeys(
                    try folder.config(Self.baseConfig + "profiles:\n  k: {storage: kine}\n", name: "p.yaml"),
                    profile: "k"),
            ]
            for keys in variants {
                #expect(keys["base"] != original["base"])
                #expect(keys["child"] != original["child"])
            }
        }
    }

    @Test("one byte of a CRD changes the key; the parent's change reaches the child", .tags(.fast))
    func contentChangesKey() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let path = try folder.config(Self.baseConfig)
            let original = try cacheKeys(path)
            #expect(original["base"] != original["child"])
            var bytes = try Repository.read(folder("crds/widgets.yaml"))
            bytes[bytes.count - 1] = UInt8(ascii: " ")
            try folder.write("crds/widgets.yaml", bytes: bytes)
            let changed = try cacheKeys(path)
            #expect(changed["base"] != original["base"])
            #expect(changed["child"] != original["child"])
        }
    }

    @Test("a child's own content changes its key, not its parent's", .tags(.fast))
    func childChange() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let path = try folder.config(Self.baseConfig)
            let original = try cacheKeys(path)
            try folder.write("seeds/cm.yaml", manifest("ConfigMap", "settings2"))
            let changed = try cacheKeys(path)
            #expect(changed["base"] == original["base"])
            #expect(changed["child"] != original["child"])
        }
    }

    @Test("a new file in a listed folder, or a renamed one, changes the key", .tags(.fast))
    func folderContentChanges() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let path = try folder.config(Self.baseConfig)
            let original = try cacheKeys(path)
            try folder.write("crds/zz.yaml", crdText)
            let added = try cacheKeys(path)
            #expect(added["base"] != original["base"])
            try FileManager.default.removeItem(atPath: folder("crds/zz.yaml"))
            try FileManager.default.moveItem(atPath: folder("crds/widgets.yaml"), toPath: folder("crds/widget.yaml"))
            #expect(try cacheKeys(path)["base"] != original["base"])
        }
    }

    @Test("seed set names and dependencies are part of the key", .tags(.fast))
    func seedNamesInKey() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let original = try cacheKeys(try folder.config(Self.baseConfig))
            let renamed = try cacheKeys(
                try folder.config(
                    Self.baseConfig.replacingOccurrences(of: "name: more", with: "name: extra"), name: "r.yaml"))
            #expect(renamed["child"] != original["child"])
            #expect(renamed["base"] == original["base"])
        }
    }

    @Test("the key is the same when the config is named by another path", .tags(.fast))
    func pathIndependent() throws {
        try TemporaryFolder.with { folder in
            try Self.writeFiles(folder)
            let path = try folder.config(Self.baseConfig)
            #expect(try cacheKeys(path) == (try cacheKeys(folder.relativeToCurrentDirectory("k8senv.yaml"))))
        }
    }
}
