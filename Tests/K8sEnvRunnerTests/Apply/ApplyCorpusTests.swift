import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// The YAML manifests of Kubernetes' own e2e tests (`test/e2e/testing-manifests` of the source
/// scripts/install-binaries.sh unpacks), applied by k8senv as seed sets and by kubectl, compared.
///
/// Skipped files, and why: templates (`{{ … }}`, filled in by the e2e framework; `.yaml.in`
/// files are not picked up at all) and files without an object (comments only). Files that
/// name the same object (the same StatefulSet `mysql` in two examples, with immutable fields
/// that differ) cannot go in one environment, for kubectl either: each file goes to the first
/// group that has none of its objects (so the order within a group is the path order). Files
/// kubectl refuses (they leave out what the e2e framework fills in) are left out of k8senv's
/// side. Each group: `kubectl apply -f` on an empty instance, then an environment with one seed
/// set per file (each depending on the one before), and `kubectl get -f` on both.
@Suite(
    "Apply corpus: Kubernetes' e2e testing manifests, k8senv against kubectl", .tags(.integration), .serialized,
    .timeLimit(Integration.timeLimit), .integrationSlot)
struct ApplyCorpusTests {
    struct Group {
        var files: [String] = []
        var identities: Set<String> = []
    }

    static func corpus() throws -> (root: String, groups: [Group])? {
        guard let source = ProcessInfo.processInfo.environment["K8SENV_KUBERNETES_SRC"], !source.isEmpty else {
            return nil
        }
        let root = source + "/test/e2e/testing-manifests"
        let names = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".yaml") }.sorted()
        var groups: [Group] = []
        for name in names {
            let text = try String(contentsOfFile: root + "/" + name, encoding: .utf8)
            if text.contains("{{") { continue }
            let identities = try Self.identities(root, name)
            if identities.isEmpty { continue }
            if let index = groups.firstIndex(where: { $0.identities.isDisjoint(with: identities) }) {
                groups[index].files.append(name)
                groups[index].identities.formUnion(identities)
            } else {
                groups.append(Group(files: [name], identities: identities))
            }
        }
        return (root, groups)
    }

    /// group/kind/namespace/name of each object (read with k8senv's manifest reader: only the
    /// grouping uses it; what lands is checked by kubectl).
    static func identities(_ root: String, _ name: String) throws -> Set<String> {
        let file = ManifestFile(relativePath: name, displayPath: name, path: root + "/" + name)
        return Set(
            try Manifests.read(file, files: SourceFiles()).map { object in
                let group = object.apiVersion.contains("/") ? String(object.apiVersion.split(separator: "/")[0]) : ""
                return "\(group)/\(object.kind)/\(object.namespace ?? "default")/\(object.name)"
            })
    }

    /// A config with an empty `kubectl` environment (the reference instance) and, for each
    /// entry, an environment with one seed set per file, each depending on the one before.
    static func config(root: String, environments: [String: [String]]) -> String {
        var config = """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
            storage: "${K8SENV_STORAGE:-embedded}"
            environments:
              kubectl: {}

            """
        for (name, files) in environments.sorted(by: { $0.key < $1.key }) {
            config += "  \(name):\n    seeds:\n"
            for (n, file) in files.enumerated() {
                config += "      - name: f\(n)\n"
                if n > 0 { config += "        dependsOn: [f\(n - 1)]\n" }
                config += "        manifests: [\"\(root)/\(file)\"]\n"
            }
        }
        return config
    }

    static func flags(_ root: String, _ files: [String]) -> [String] { files.flatMap { ["-f", root + "/" + $0] } }

    static let jsonpath =
        #"jsonpath={range .items[*]}{.apiVersion} {.kind} {.metadata.namespace} {.metadata.name}{"\n"}{end}"#

    /// The jsonpath's lines (four fields); kubectl's warnings share the output.
    static func objects(_ text: String) -> Set<Substring> {
        Set(
            text.split(separator: "\n").filter {
                $0.split(separator: " ", omittingEmptySubsequences: false).count == 4 && !$0.hasPrefix("Warning")
            })
    }

    static func kubectl(_ kubectl: String, _ kubeconfig: String, _ folder: String)
        -> @Sendable ([String]) async throws -> (status: Int32, output: String)
    {
        { arguments in
            try await runToolAsync(
                kubectl, ["--kubeconfig", kubeconfig, "--cache-dir", folder + "/kubectl-cache"] + arguments)
        }
    }

    @Test(
        "every file kubectl applies, k8senv applies: kubectl get -f finds every object, the same set as kubectl apply -f gives on a second instance"
    )
    func corpus() async throws {
        _ = try await TestBinaries.resolved()
        let kubectl = try #require(TestBinaries.kubectl, "kubectl is needed")
        guard let (root, groups) = try Self.corpus() else {
            if ProcessInfo.processInfo.environment["K8SENV_REQUIRE_BINARIES"] == "1" {
                Issue.record(
                    "K8SENV_KUBERNETES_SRC is not set: scripts/install-binaries.sh exports it when it unpacks the Kubernetes source"
                )
            }
            return
        }
        try #require(
            groups.count > 1 && groups.map(\.files.count).reduce(0, +) > 80, "the corpus: \(groups.map(\.files))")
        let project = try Project(config: Self.config(root: root, environments: [:]))
        let reference = try K8sEnvConfiguration.load(project.path + "/k8senv.yaml")
            .pool(for: "kubectl", options: PoolOptions(size: 1, cacheDirectory: project.cache))
        var applied = 0
        do {
            for (index, group) in groups.enumerated() {
                // kubectl first: the files it refuses (the e2e framework fills in what they leave
                // out, e.g. a ClusterRoleBinding subject's namespace) are not k8senv's to apply.
                let (theirs, refused) = try await reference.withInstance { instance in
                    let kubectl = Self.kubectl(kubectl, instance.kubeconfigPath, project.path)
                    let output = try await kubectl(["apply"] + Self.flags(root, group.files))
                    let refused = Set(group.files.filter { output.output.contains("\"\(root)/\($0)\"") })
                    #expect(
                        output.status == 0 || !refused.isEmpty, "kubectl apply -f (corpus-\(index)): \(output.output)")
                    let got = try await kubectl(
                        ["get", "-o", Self.jsonpath] + Self.flags(root, group.files.filter { !refused.contains($0) }))
                    #expect(got.status == 0, "kubectl get -f after kubectl apply (corpus-\(index)): \(got.output)")
                    return (Self.objects(got.output), refused)
                }
                let files = group.files.filter { !refused.contains($0) }
                applied += files.count
                let name = "corpus-\(index)"
                try project.dir.write(name + ".yaml", Self.config(root: root, environments: [name: files]))
                let pool = try K8sEnvConfiguration.load(project.path + "/\(name).yaml")
                    .pool(for: name, options: PoolOptions(size: 1, cacheDirectory: project.cache))
                do {
                    let ours = try await pool.withInstance { instance in
                        let got = try await Self.kubectl(kubectl, instance.kubeconfigPath, project.path)(
                            ["get", "-o", Self.jsonpath] + Self.flags(root, files))
                        #expect(got.status == 0, "kubectl get -f on k8senv's instance (\(name)): \(got.output)")
                        return Self.objects(got.output)
                    }
                    #expect(
                        ours == theirs,
                        "\(name): only k8senv's: \(ours.subtracting(theirs)); only kubectl's: \(theirs.subtracting(ours))"
                    )
                    #expect(!ours.isEmpty)
                } catch {
                    Issue.record("\(name) (\(files.joined(separator: ", "))): \(error)")
                }
                await pool.shutdown()
            }
        } catch {
            await reference.shutdown()
            throw error
        }
        await reference.shutdown()
        // Nearly every file is kubectl's to apply: the comparison is not an empty one.
        #expect(applied > 80, "\(applied) files applied by kubectl")
    }
}
