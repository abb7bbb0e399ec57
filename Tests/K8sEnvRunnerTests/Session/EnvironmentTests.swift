import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

let layeredConfig = """
    apiVersion: k8senv.dev/v1alpha1
    kind: Config
    binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
    storage: "${K8SENV_STORAGE:-embedded}"
    timeouts: {crds: 30s}
    environments:
      base:
        crds: [crds/]
        seeds:
          - name: config
            dependsOn: [namespaces]
            manifests: [seeds/config.yaml]
          - name: namespaces
            manifests: [seeds/namespaces.yaml]
      child:
        extends: base
        seeds:
          - name: extra
            manifests: [seeds/extra.yaml]
    """

let layeredSeeds = [
    // A CR before its namespace in the file: kind order applies the Namespace first.
    "seeds/namespaces.yaml": """
    apiVersion: example.k8senv.dev/v1alpha1
    kind: Widget
    metadata: {name: early, namespace: team}
    spec: {color: red, size: 1}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {name: team}
    """,
    "seeds/config.yaml": """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings, namespace: team}
    data: {mode: seeded}
    """,
    "seeds/extra.yaml": """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: child-only, namespace: team}
    data: {from: child}
    """,
]

@Suite(
    "Environments: CRDs, seeds, snapshots", .tags(.integration), .serialized, .timeLimit(Integration.timeLimit),
    .integrationSlot)
struct EnvironmentTests {
    @Test("CRDs, then seed sets in dependsOn order, then a second up from the cache shows the same objects")
    func buildThenHit() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(config: layeredConfig, seeds: layeredSeeds)
        let first = Transcript()
        let seeded = try await project.withSession(["base"], transcript: first) {
            (_: Session, record: RunRecord) async throws -> String in
            let kubeconfig = record.instances[0].kubeconfig
            #expect(
                try project.kubectl(
                    kubeconfig, ["get", "widget", "early", "-n", "team", "-o", "jsonpath={.spec.color}"]) == "red")
            #expect(
                try project.kubectl(
                    kubeconfig, ["get", "configmap", "settings", "-n", "team", "-o", "jsonpath={.data.mode}"])
                    == "seeded")
            return try project.kubectl(kubeconfig, Self.settingsIdentity)
        }
        #expect(seeded.hasSuffix(" k8senv/Update"), "created by k8senv, not applied: \(seeded)")
        #expect(first.text.contains("cache miss"))
        let order = ["CRDs of base established", "seed set base/namespaces", "seed set base/config"].map {
            first.text.range(of: $0)?.lowerBound
        }
        #expect(order.allSatisfy { $0 != nil } && order[0]! < order[1]! && order[1]! < order[2]!, "\(first.text)")

        let second = Transcript()
        try await project.withSession(["base"], transcript: second) {
            (_: Session, record: RunRecord) async throws -> Void in
            let kubeconfig = record.instances[0].kubeconfig
            #expect(
                try project.kubectl(
                    kubeconfig, ["get", "widget", "early", "-n", "team", "-o", "jsonpath={.spec.color}"]) == "red")
            #expect(
                try project.kubectl(
                    kubeconfig, ["get", "configmap", "settings", "-n", "team", "-o", "jsonpath={.data.mode}"])
                    == "seeded")
            // The object as the first up seeded it, not applied again: same uid, same
            // resourceVersion, k8senv's create its only manager (docs/explanation/apply.md).
            #expect(try project.kubectl(kubeconfig, Self.settingsIdentity) == seeded)
        }
        #expect(second.text.contains("(cache hit)"))
        #expect(!second.text.contains("CRDs of base established"), "a hit applies nothing")

        // One byte of one CRD changes the key.
        let crd = project.path + "/crds/widgets.example.k8senv.dev.yaml"
        try (try String(contentsOfFile: crd, encoding: .utf8) + "\n# changed\n").write(
            toFile: crd, atomically: true, encoding: .utf8)
        let third = Transcript()
        try await project.withSession(["base"], transcript: third) { _, _ in }
        #expect(third.text.contains("cache miss"))
    }

    /// The seeded ConfigMap's uid, resourceVersion and field managers.
    static let settingsIdentity = [
        "get", "configmap", "settings", "-n", "team", "-o",
        "jsonpath={.metadata.uid} {.metadata.resourceVersion}"
            + " {.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}",
    ]

    @Test("a layered environment starts from its parent's snapshot and adds its own seeds")
    func layered() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(config: layeredConfig, seeds: layeredSeeds)
        let transcript = Transcript()
        try await project.withSession(["child"], transcript: transcript) {
            (_: Session, record: RunRecord) async throws -> Void in
            let kubeconfig = record.instances[0].kubeconfig
            #expect(
                try project.kubectl(
                    kubeconfig, ["get", "configmap", "settings", "-n", "team", "-o", "jsonpath={.data.mode}"])
                    == "seeded")
            #expect(
                try project.kubectl(
                    kubeconfig, ["get", "configmap", "child-only", "-n", "team", "-o", "jsonpath={.data.from}"])
                    == "child")
        }
        // The parent was built (and cached) first; the child applied only its own set.
        #expect(transcript.text.contains("base: snapshot"))
        #expect(transcript.text.contains("seed set child/extra"))
        #expect(!transcript.text.contains("child: 3 CRDs"))
        let store = SnapshotStore(root: project.cache)
        let entries = store.list()
        #expect(Set(entries.map(\.metadata.environment)) == ["base", "child"])
        let base = try #require(entries.first { $0.metadata.environment == "base" })
        #expect(entries.first { $0.metadata.environment == "child" }?.metadata.parentKey == base.metadata.key)
    }

    @Test("a truncated snapshot is detected and rebuilt, never used")
    func truncatedSnapshot() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(config: layeredConfig, seeds: layeredSeeds)
        try await project.withSession(["base"]) { _, _ in }
        let entry = try #require(SnapshotStore(root: project.cache).list().first)
        let database = entry.dataPath + (TestBinaries.storage == .etcd ? "/etcd.db" : "/state.db")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: database)[.size] as? Int)
        #expect(truncate(database, off_t(size / 2)) == 0)
        let transcript = Transcript()
        try await project.withSession(["base"], transcript: transcript) {
            (_: Session, record: RunRecord) async throws -> Void in
            #expect(
                try project.kubectl(
                    record.instances[0].kubeconfig, ["get", "widget", "early", "-n", "team", "-o", "name"]
                )
                .contains("widget"))
        }
        #expect(transcript.text.contains("unusable (checksum mismatch); rebuilding"), "\(transcript.text)")
    }

    @Test("a namespaced object whose namespace does not exist names the file and line")
    func missingNamespace() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                environments:
                  e:
                    seeds:
                      - name: s
                        manifests: [seeds/cm.yaml]
                """,
            seeds: [
                "seeds/cm.yaml":
                    "# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: nowhere}\n"
            ])
        let error = try #require(try await project.startError())
        #expect(
            error.report.contains("seeds/cm.yaml:2:1: error: ConfigMap \"c\": namespace \"nowhere\" does not exist"),
            "\(error.report)")
        // One error type: the domain says what part failed, the cause is kept, the logs too.
        #expect(error.domain == .apply && error.code == .manifests && error.exitStatus == 1)
        #expect(error.cause is Diagnostics)
        let kept = try #require(error.keptFolder)
        #expect(error.report.hasSuffix("(logs kept in \(kept))") && FileManager.default.fileExists(atPath: kept))
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }

    @Test("a CRD the server cannot establish is named with its conditions when timeouts.crds passes")
    func neverEstablished() async throws {
        _ = try await TestBinaries.resolved()
        // Two CRDs of one group claiming the same kind: the second is never accepted.
        let conflicting = """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: clones.example.k8senv.dev}
            spec:
              group: example.k8senv.dev
              scope: Namespaced
              names: {plural: clones, singular: clone, kind: Widget, listKind: WidgetList}
              versions:
                - name: v1alpha1
                  served: true
                  storage: true
                  schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
            """
        let project = try Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                timeouts: {crds: 3s}
                environments:
                  base:
                    crds: [crds/widgets.example.k8senv.dev.yaml]
                  e:
                    extends: base
                    crds: [extra/clones.yaml]
                """, seeds: ["extra/clones.yaml": conflicting])
        // The conflicting CRD comes in a layer on top, so the first one always wins the names.
        let message = try await project.startFailure(["e"])
        #expect(
            message.contains(
                "CustomResourceDefinition \"clones.example.k8senv.dev\" was not Established within timeouts.crds"),
            "\(message)")
        #expect(message.contains("NamesAccepted=False"), "\(message)")
        #expect(!message.contains("widgets.example.k8senv.dev\" was not"), "\(message)")
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }

    @Test(
        "Cluster API v0.4.8 CRDs apply and establish on this kube-apiserver; v1.14 ones fail naming the field and the version"
    )
    func realWorldCRDs() async throws {
        let binaries = try await TestBinaries.resolved()
        let testdata = Project.repository + "/Tests/Fixtures/crds"
        guard binaries.kubeAPIServerVersion < KubeVersion(major: 1, minor: 25) else { return }
        let config = """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
            storage: "${K8SENV_STORAGE:-embedded}"
            environments:
              capi:
                crds: [\(testdata)/cluster-api-v0.4.8/]
              capi14:
                crds: [\(testdata)/cluster-api-v1.14.0-rc.0/]
            """
        let project = try Project(config: config)
        try await project.withSession(["capi"], noCache: true) { (_: Session, record: RunRecord) async throws -> Void in
            let names = try project.kubectl(record.instances[0].kubeconfig, ["get", "crd", "-o", "name"])
            #expect(names.split(separator: "\n").count == 20, "\(names)")
        }
        let message = try await project.startFailure(["capi14"])
        #expect(message.contains("the field x-kubernetes-validations at .spec.versions"), "\(message)")
        #expect(message.contains("needs Kubernetes v1.25 or newer"), "\(message)")
        #expect(message.contains("this kube-apiserver is v1.20.2"), "\(message)")
    }
}
