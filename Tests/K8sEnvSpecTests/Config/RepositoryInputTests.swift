import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// What a repository's files can make `validate` (and `hash`, which reads them the same way)
/// do: say one object twice in other words, hang it on a FIFO, print lines of files outside
/// it, or be refused for a byte-order mark kubectl accepts (issue 25).
@Suite("A repository's files", .tags(.fast))
struct RepositoryInputTests {
    static func object(
        _ apiVersion: String, _ kind: String, _ name: String, namespace: String? = nil, extra: String = ""
    ) -> String {
        "apiVersion: \(apiVersion)\nkind: \(kind)\nmetadata:\n  name: \(name)\n"
            + (namespace.map { "  namespace: \($0)\n" } ?? "") + extra
    }

    /// The errors of one seed set holding `first` then `second` (two files), with `crds` in the
    /// environment's crds when given.
    static func duplicates(_ first: String, _ second: String, crds: String? = nil) throws -> [Diagnostic] {
        try TemporaryFolder.with { folder in
            try folder.write("one.yaml", first)
            try folder.write("two.yaml", second)
            var environment = "environments:\n  base:\n"
            if let crds {
                try folder.write("crds.yaml", crds)
                environment += "    crds: [crds.yaml]\n"
            }
            let path = try folder.config(
                environment + "    seeds:\n      - {name: a, manifests: [one.yaml, two.yaml]}\n")
            return validationErrors(path)
        }
    }

    static func crd(kind: String, plural: String, group: String = "example.com", scope: String) -> String {
        crdText.replacingOccurrences(of: "widgets.example.com", with: "\(plural).\(group)")
            .replacingOccurrences(of: "group: example.com", with: "group: \(group)")
            .replacingOccurrences(of: "{kind: Widget, plural: widgets}", with: "{kind: \(kind), plural: \(plural)}")
            .replacingOccurrences(of: "scope: Namespaced", with: "scope: \(scope)")
    }

    // MARK: Item 6

    @Test(
        "duplicate objects are found however they are spelt: an omitted namespace is default, a cluster-scoped object has none, and one resource served under two groups is one object"
    )
    func duplicateObjectsBySpelling() throws {
        let same: [(String, String, String)] = [
            (
                "namespace omitted vs default",
                Self.object("v1", "ConfigMap", "settings"),
                Self.object("v1", "ConfigMap", "settings", namespace: "default")
            ),
            (
                "a cluster-scoped kind with and without a namespace",
                Self.object("v1", "Namespace", "team-a"), Self.object("v1", "Namespace", "team-a", namespace: "team-a")
            ),
            (
                "ClusterRole with a namespace",
                Self.object("rbac.authorization.k8s.io/v1", "ClusterRole", "reader", namespace: "x"),
                Self.object("rbac.authorization.k8s.io/v1beta1", "ClusterRole", "reader")
            ),
            (
                "Ingress under extensions and networking.k8s.io",
                Self.object("extensions/v1beta1", "Ingress", "web", namespace: "demo"),
                Self.object("networking.k8s.io/v1", "Ingress", "web", namespace: "demo")
            ),
            (
                "NetworkPolicy under extensions and networking.k8s.io",
                Self.object("extensions/v1beta1", "NetworkPolicy", "deny"),
                Self.object("networking.k8s.io/v1", "NetworkPolicy", "deny", namespace: "default")
            ),
            (
                "Deployment under extensions and apps",
                Self.object("extensions/v1beta1", "Deployment", "api", namespace: "demo"),
                Self.object("apps/v1", "Deployment", "api", namespace: "demo")
            ),
            (
                "DaemonSet under apps/v1beta2 and apps/v1",
                Self.object("apps/v1beta2", "DaemonSet", "agent", namespace: "demo"),
                Self.object("apps/v1", "DaemonSet", "agent", namespace: "demo")
            ),
            (
                "Event under events.k8s.io and the core group",
                Self.object("events.k8s.io/v1", "Event", "e1"), Self.object("v1", "Event", "e1", namespace: "default")
            ),
        ]
        for (what, first, second) in same {
            let errors = try Self.duplicates(first, second)
            #expect(errors.map(\.code) == [.duplicate], "\(what): \(errors)")
            // At the second place, naming the first.
            #expect(errors.first?.location.file.hasSuffix("/two.yaml") == true, "\(what)")
            #expect(errors.first?.location.mark == Mark(line: 4, column: 9), "\(what)")
            #expect(errors.first?.message.contains("/one.yaml:4:9") == true, "\(what): \(errors)")
        }
        let named = try Self.duplicates(
            Self.object("v1", "ConfigMap", "settings"), Self.object("v1", "ConfigMap", "settings", namespace: "default")
        )
        #expect(
            named.first?.message.hasPrefix(
                #"environments.base.seeds: ConfigMap default/settings is twice in seed set "a""#) == true, "\(named)")
        let cluster = try Self.duplicates(
            Self.object("v1", "Namespace", "team-a"), Self.object("v1", "Namespace", "team-a", namespace: "team-a"))
        #expect(
            cluster.first?.message.hasPrefix(#"environments.base.seeds: Namespace team-a is twice"#) == true,
            "\(cluster)")

        // Still other objects: other namespaces, and a kind of the same name in another group.
        #expect(
            try Self.duplicates(
                Self.object("v1", "ConfigMap", "settings"),
                Self.object("v1", "ConfigMap", "settings", namespace: "other")
            ).isEmpty)
        #expect(
            try Self.duplicates(
                Self.object("apps/v1", "Deployment", "api"), Self.object("example.com/v1", "Deployment", "api")
            ).isEmpty)
        #expect(
            try Self.duplicates(
                Self.object("extensions/v1beta1", "Widget", "w"), Self.object("networking.k8s.io/v1", "Widget", "w")
            ).isEmpty)
    }

    @Test(
        "the scope of a custom kind comes from its CRD: a Cluster kind's namespace is ignored, a Namespaced kind defaults to default"
    )
    func duplicateObjectsScopeFromCRDs() throws {
        let clusterCRD = Self.crd(kind: "Gadget", plural: "gadgets", scope: "Cluster")
        let gadget = try Self.duplicates(
            Self.object("example.com/v1", "Gadget", "g"),
            Self.object("example.com/v1", "Gadget", "g", namespace: "demo"), crds: clusterCRD)
        #expect(gadget.map(\.code) == [.duplicate], "\(gadget)")
        #expect(gadget.first?.message.contains("Gadget g is twice") == true, "\(gadget)")

        // Namespaced (its own CRD, or no CRD known): other namespaces are other objects.
        let namespacedCRD = Self.crd(kind: "Gadget", plural: "gadgets", scope: "Namespaced")
        #expect(
            try Self.duplicates(
                Self.object("example.com/v1", "Gadget", "g"),
                Self.object("example.com/v1", "Gadget", "g", namespace: "demo"), crds: namespacedCRD
            ).isEmpty)
        let defaulted = try Self.duplicates(
            Self.object("example.com/v1", "Gadget", "g"),
            Self.object("example.com/v1alpha1", "Gadget", "g", namespace: "default"), crds: namespacedCRD)
        #expect(defaulted.map(\.code) == [.duplicate], "\(defaulted)")

        // A CRD among the parent's seeds counts too.
        try TemporaryFolder.with { folder in
            try folder.write("crd.yaml", clusterCRD)
            try folder.write("one.yaml", Self.object("example.com/v1", "Gadget", "g"))
            try folder.write("two.yaml", Self.object("example.com/v1", "Gadget", "g", namespace: "x"))
            let path = try folder.config(
                "environments:\n  base:\n    seeds: [{name: crds, manifests: [crd.yaml]}]\n  child:\n    extends: base\n    seeds:\n      - {name: a, manifests: [one.yaml, two.yaml]}\n"
            )
            let errors = validationErrors(path)
            #expect(errors.map(\.code) == [.duplicate], "\(errors)")
        }
    }

    // MARK: Item 11: non-regular files

    /// Watches a FIFO from its writing side: whenever someone has opened it for reading, opens
    /// and closes it (so a reader blocked in open gets end of file instead of hanging the test)
    /// and remembers that it happened.
    final class FIFOWatch: @unchecked Sendable {
        // @unchecked: `stopped` and `opened` are only touched under `lock`.
        private let lock = NSLock()
        private var stopped = false
        private var opened = false
        private let done = DispatchSemaphore(value: 0)

        init(_ path: String) {
            let thread = Thread { [self] in
                while !lock.withLock({ stopped }) {
                    let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                    if fd >= 0 {
                        lock.withLock { opened = true }
                        close(fd)
                    }
                    usleep(10_000)
                }
                done.signal()
            }
            thread.start()
        }

        /// Stops watching; whether anyone opened the FIFO for reading meanwhile.
        func stop() -> Bool {
            lock.withLock { stopped = true }
            done.wait()
            return lock.withLock { opened }
        }
    }

    @Test("a config file that is a FIFO is refused without being opened (validate and hash read it the same way)")
    func configFileFIFO() throws {
        try TemporaryFolder.with { folder in
            let path = folder("k8senv.yaml")
            #expect(mkfifo(path, 0o644) == 0)
            let watch = FIFOWatch(path)
            let errors = validationErrors(path)
            #expect(throws: Diagnostics.self) { try ConfigLoader(variables: [:]).load(path) }
            #expect(!watch.stop(), "the FIFO was opened for reading")
            #expect(
                errors.map(\.message) == ["cannot read \(path): it is a FIFO (named pipe), not a regular file"],
                "\(errors)")
        }
    }

    @Test("an audit policy that is a FIFO or a device is an error at its key, never opened")
    func auditPolicyNotRegular() throws {
        try TemporaryFolder.with { folder in
            let fifo = folder("policy.yaml")
            #expect(mkfifo(fifo, 0o644) == 0)
            #expect(symlink("/dev/null", folder("null.yaml")) == 0)
            let watch = FIFOWatch(fifo)
            let path = try folder.config(
                "audit: {policy: policy.yaml}\nenvironments:\n  base: {}\n  other:\n    audit: {policy: null.yaml}\n  dev:\n    audit: {policy: /dev/zero}\n"
            )
            let errors = validationErrors(path)
            #expect(!watch.stop(), "the FIFO was opened for reading")
            #expect(
                errors.map(\.message) == [
                    "audit.policy: policy.yaml is a FIFO (named pipe), not a regular file; an audit policy must be a regular file",
                    "environments.other.audit.policy: null.yaml is a character device, not a regular file; an audit policy must be a regular file",
                    "environments.dev.audit.policy: /dev/zero is a character device, not a regular file; an audit policy must be a regular file",
                ], "\(errors)")
            #expect(errors.first?.location.mark == Mark(line: 3, column: 17))
        }
    }

    // MARK: Item 11: snippets

    @Test(
        "error snippets show lines only of files inside the repository (the config's folder, symlinks resolved); outside, the path and position alone"
    )
    func snippetsOnlyInsideRepository() throws {
        try TemporaryFolder.with { folder in
            try folder.write("secret/credentials", "aws_secret_access_key: SECRETVALUE\n")
            try folder.write(
                "secret/k8senv.yaml",
                configHeader + "environments:\n  base: {crds: [credentials]}\nleaked: SECRETCONFIG\n")
            try folder.write("repo/inside.yaml", "insidekey: INSIDEVALUE\n")
            #expect(symlink("../secret/credentials", folder("repo/link.yaml")) == 0)
            #expect(symlink("../secret/k8senv.yaml", folder("repo/linked-config.yaml")) == 0)
            let path = try folder.write(
                "repo/k8senv.yaml",
                configHeader + """
                    environments:
                      base:
                        crds: [../secret/credentials, link.yaml, inside.yaml]

                    """)
            let report = ConfigLoader(variables: [:]).validate(path, profile: nil)
            let text = report.text
            #expect(!text.contains("SECRETVALUE"), "\(text)")
            #expect(text.contains("\(folder.path)/secret/credentials:1:1: error: "), "\(text)")
            #expect(text.contains("\(folder.path)/repo/link.yaml:1:1: error: "), "\(text)")
            // Inside: the line and its caret, as before.
            #expect(
                text.contains(
                    "inside.yaml:1:1: error: the object has no apiVersion\n    insidekey: INSIDEVALUE\n    ^"),
                "\(text)")

            // The config itself, reached through a symlink that leaves the folder.
            let linked = ConfigLoader(variables: [:]).validate(folder("repo/linked-config.yaml"), profile: nil)
            #expect(!linked.isValid)
            #expect(!linked.text.contains("SECRETCONFIG"), "\(linked.text)")
            #expect(linked.text.contains("linked-config.yaml:5:1: error: "), "\(linked.text)")
        }
    }

    // MARK: Item 11: byte-order mark

    @Test(
        "a UTF-8 byte-order mark is accepted at the start of a config and of a manifest (as kubectl does), and positions stay right"
    )
    func byteOrderMarkAccepted() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        try TemporaryFolder.with { folder in
            try folder.write(
                "seeds.yaml", bytes: bom + Array(Self.object("v1", "ConfigMap", "settings", namespace: "demo").utf8))
            try folder.write(
                "seeds.json",
                bytes: bom + Array(#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json"}}"#.utf8))
            try folder.write("crds.yaml", bytes: bom + Array(crdText.utf8))
            let path = try folder.write(
                "k8senv.yaml",
                bytes: bom
                    + Array(
                        (configHeader
                            + "environments:\n  base:\n    crds: [crds.yaml]\n    seeds: [{name: a, manifests: [seeds.yaml, seeds.json]}]\n")
                            .utf8))
            let errors = validationErrors(path)
            #expect(errors.isEmpty, "\(errors)")

            // An error on the first line is at the column an editor shows (the mark not counted),
            // in a config and in a manifest, with the caret under it.
            let schemaError = try folder.write(
                "schema-error.yaml",
                bytes: bom + Array("apiVersion: k8senv.dev/v1\nkind: Config\nenvironments: {base: {}}\n".utf8))
            let schema = ConfigLoader(variables: [:]).validate(schemaError, profile: nil)
            #expect(schema.diagnostics.first?.location.mark == Mark(line: 1, column: 13), "\(schema.diagnostics)")
            #expect(schema.text.contains("\n    apiVersion: k8senv.dev/v1\n                ^"), "\(schema.text)")
            try folder.write(
                "bad.yaml", bytes: bom + Array("apiVersion: \"\"\nkind: ConfigMap\nmetadata: {name: x}\n".utf8))
            let manifest = try folder.config(
                "environments:\n  base:\n    seeds: [{name: a, manifests: [bad.yaml]}]\n", name: "bad-manifest.yaml")
            let bad = ConfigLoader(variables: [:]).validate(manifest, profile: nil)
            #expect(bad.diagnostics.map(\.message) == ["apiVersion must be a non-empty string"], "\(bad.diagnostics)")
            #expect(bad.diagnostics.first?.location.mark == Mark(line: 1, column: 13), "\(bad.diagnostics)")
            #expect(bad.text.contains("\n    apiVersion: \"\"\n                ^"), "\(bad.text)")
        }
    }

    // MARK: Item 11: many environments

    @Test("a config of 20,000 environments (chains of extends, seeds) validates", .timeLimit(.minutes(1)))
    func manyEnvironmentsValidate() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            var text = configHeader + "environments:\n"
            for i in 0..<20_000 {
                text += "  e\(i):\n"
                if i % 10 != 0 { text += "    extends: e\(i - 1)\n" }
                text += "    seeds: [{name: s\(i), manifests: [ns.yaml]}]\n"
            }
            let path = try folder.write("k8senv.yaml", text)
            let report = ConfigLoader(variables: [:]).validate(path, profile: nil)
            #expect(report.isValid, "\(report.diagnostics.prefix(3))")
            #expect(report.configs.first?.environments.count == 20_000)
        }
    }
}
