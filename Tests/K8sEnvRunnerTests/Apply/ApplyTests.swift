import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// Objects that server-side apply on older servers cannot take, and what the user sees when the
/// server fails on one (docs/explanation/apply.md).
@Suite(
    "Apply: what kubectl applies, k8senv applies", .tags(.integration), .serialized, .timeLimit(Integration.timeLimit),
    .integrationSlot)
struct ApplyTests {
    /// The lines every config of this suite starts with: the test binaries and storage.
    static let header = """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
        storage: "${K8SENV_STORAGE:-embedded}"
        """

    static let config = """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
        storage: "${K8SENV_STORAGE:-embedded}"
        environments:
          published:
            seeds:
              - name: published
                manifests: [seeds/published.yaml, seeds/apiservice.yaml]
              - name: later
                dependsOn: [published]
                manifests: [seeds/later.yaml]
          empty: {}
        """

    static let seeds = [
        // As the Kubernetes dashboard's recommended manifest writes them: no protocol in ports.
        "seeds/published.yaml": """
        apiVersion: v1
        kind: Service
        metadata: {name: dashboard, namespace: default}
        spec:
          ports:
            - port: 443
              targetPort: 8443
          selector: {k8s-app: dashboard}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {generateName: generated-, namespace: default}
        data: {made: once}
        """,
        // Its backend never comes up: the group stays unavailable.
        "seeds/apiservice.yaml": """
        apiVersion: apiregistration.k8s.io/v1
        kind: APIService
        metadata: {name: v1beta1.metrics.k8s.io}
        spec:
          service: {name: metrics-server, namespace: kube-system}
          group: metrics.k8s.io
          version: v1beta1
          insecureSkipTLSVerify: true
          groupPriorityMinimum: 100
          versionPriority: 100
        """,
        // A later set overrides the Service (an update through the fallback) and applies
        // objects of other groups while metrics.k8s.io is unavailable.
        "seeds/later.yaml": """
        apiVersion: v1
        kind: Service
        metadata: {name: dashboard, namespace: default, labels: {tier: ui}}
        spec:
          ports:
            - port: 443
              targetPort: 9443
          selector: {k8s-app: dashboard}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: reader, namespace: default}
        rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
        """,
    ]

    @Test(
        "a Service without protocol, an unavailable APIService and a generateName object are applied and seen by kubectl; a later set updates the Service; a cache hit has the same generated name"
    )
    func publishedManifests() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(config: Self.config, seeds: Self.seeds)
        let first = try await project.withSession(["published"]) { _, record in
            let kubeconfig = try #require(record.instances.first?.kubeconfig)
            let service = try project.kubectl(
                kubeconfig,
                [
                    "get", "service", "dashboard", "-n", "default",
                    "-o", "jsonpath={.spec.ports[0].protocol} {.spec.ports[0].targetPort} {.metadata.labels.tier}",
                ])
            #expect(service.hasSuffix("TCP 9443 ui"), "\(service)")
            let apiService = try project.kubectl(
                kubeconfig, ["get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "jsonpath={.spec.service.name}"])
            #expect(apiService.hasSuffix("metrics-server"), "\(apiService)")
            _ = try project.kubectl(kubeconfig, ["get", "role", "reader", "-n", "default"])
            let generated = try project.kubectl(kubeconfig, ["get", "configmaps", "-n", "default", "-o", "name"])
                .split(separator: "\n").filter { $0.hasPrefix("configmap/generated-") }
            #expect(generated.count == 1, "\(generated)")
            return generated
        }
        // From the cache: the same object, not a second one.
        let second = try await project.withSession(["published"]) { _, record in
            let kubeconfig = try #require(record.instances.first?.kubeconfig)
            return try project.kubectl(kubeconfig, ["get", "configmaps", "-n", "default", "-o", "name"])
                .split(separator: "\n").filter { $0.hasPrefix("configmap/generated-") }
        }
        #expect(first == second)
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }

    @Test(
        "server-side apply alone: the APIService panics inside v1.20's kube-apiserver, and the error names the object and quotes the panic from the log"
    )
    func serverFailureQuotesLog() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(config: Self.config, seeds: Self.seeds)
        try await project.withSession(["empty"]) { session, _ in
            let instance = try #require(await session.instances.first?.instance)
            var applier = Applier(
                client: instance.client, files: session.builder.files,
                serverVersion: session.builder.binaries.kubeAPIServerVersion,
                serverLog: instance.apiServerProcess.logPath.map(ServerLog.init(path:)))
            applier.serverSideApplyOnly = true
            let file = ManifestFile(
                relativePath: "seeds/apiservice.yaml", displayPath: "seeds/apiservice.yaml",
                path: project.path + "/seeds/apiservice.yaml")
            do throws(Diagnostics) {
                try await applier.applySeedSet([file])
                Issue.record("the APIService should fail with server-side apply alone on this server")
            } catch {
                let message = error.items.map(\.message).joined(separator: "\n")
                #expect(
                    message.contains("kube-apiserver failed on APIService \"v1beta1.metrics.k8s.io\""), "\(message)")
                #expect(message.contains("FieldManager must be installed to run apply"), "\(message)")
                #expect(!message.contains("cannot reach"), "\(message)")
                #expect(error.items.allSatisfy { $0.location.file == "seeds/apiservice.yaml" }, "\(message)")
            }
        }
    }

    @Test(
        "a seed set of many more objects than requests in flight lands every one, each kind only after the kind before it is in"
    )
    func manyObjectsInKindOrder() async throws {
        _ = try await TestBinaries.resolved()
        // Written last kind first: the Widgets and ConfigMaps live in the Namespace at the end
        // of the file, so a request of a later kind started early would meet "namespace not found".
        var documents: [String] = []
        for i in 0..<120 {
            documents.append(
                "apiVersion: example.k8senv.dev/v1alpha1\nkind: Widget\nmetadata: {name: w\(i), namespace: many}\nspec: {color: blue}\n"
            )
        }
        for i in 0..<300 {
            documents.append(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c\(i), namespace: many}\ndata: {index: \"\(i)\"}\n")
        }
        documents.append("apiVersion: v1\nkind: Namespace\nmetadata: {name: many}\n")
        let project = try Project(
            config: """
                \(Self.header)
                environments:
                  e:
                    crds: [crds/widgets.example.k8senv.dev.yaml]
                    seeds: [{name: many, manifests: [seeds/many.yaml]}]
                """, seeds: ["seeds/many.yaml": documents.joined(separator: "---\n")])
        let transcript = Transcript()
        try await project.withSession(["e"], transcript: transcript) { _, record in
            let kubeconfig = try #require(record.instances.first?.kubeconfig)
            let configMaps = try project.kubectl(kubeconfig, ["get", "configmaps", "-n", "many", "-o", "name"])
                .split(separator: "\n").filter { $0.hasPrefix("configmap/c") }
            #expect(configMaps.count == 300)
            let widgets = try project.kubectl(kubeconfig, ["get", "widgets", "-n", "many", "-o", "name"])
                .split(separator: "\n").filter { $0.contains("/w") }
            #expect(widgets.count == 120)
        }
        #expect(transcript.text.contains("seed set e/many: 421 objects applied"), "\(transcript.text)")
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }

    @Test(
        "seed objects are created when new; a later seed set, or an environment extending this one, that leaves out a field removes it as a second server-side apply does, and the fields stay k8senv's applied fields"
    )
    func laterSetRemovesWhatItLeavesOut() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(
            config: """
                \(Self.header)
                environments:
                  base:
                    seeds:
                      - {name: first, manifests: [seeds/first.yaml]}
                      - {name: second, dependsOn: [first], manifests: [seeds/second.yaml]}
                  child:
                    extends: base
                    seeds: [{name: third, manifests: [seeds/third.yaml]}]
                """,
            seeds: [
                "seeds/first.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: kept, namespace: default}
                data: {a: "1", b: "2"}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: inherited, namespace: default}
                data: {one: "1", two: "2"}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: token, namespace: default}
                stringData: {token: abc}
                """,
                "seeds/second.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: kept, namespace: default}
                data: {a: "1"}
                """,
                "seeds/third.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: inherited, namespace: default}
                data: {one: "1"}
                """,
            ])
        let managers = "{range .metadata.managedFields[*]}{.manager}/{.operation} {end}"
        try await project.withSession(["base"]) { _, record in
            let kubeconfig = try #require(record.instances.first?.kubeconfig)
            let kept = try project.kubectl(
                kubeconfig, ["get", "configmap", "kept", "-n", "default", "-o", "jsonpath={.data} \(managers)"])
            #expect(kept.hasPrefix(#"{"a":"1"} "#), "\(kept)")
            #expect(kept.hasSuffix("k8senv/Apply "), "\(kept)")
            let inherited = try project.kubectl(
                kubeconfig, ["get", "configmap", "inherited", "-n", "default", "-o", "jsonpath={.data}"])
            #expect(inherited == #"{"one":"1","two":"2"}"#, "\(inherited)")
            let token = try project.kubectl(
                kubeconfig, ["get", "secret", "token", "-n", "default", "-o", "jsonpath={.data.token}"])
            #expect(token == "YWJj", "\(token)")
        }
        try await project.withSession(["child"]) { _, record in
            let kubeconfig = try #require(record.instances.first?.kubeconfig)
            let inherited = try project.kubectl(
                kubeconfig, ["get", "configmap", "inherited", "-n", "default", "-o", "jsonpath={.data} \(managers)"])
            #expect(inherited.hasPrefix(#"{"one":"1"} "#), "\(inherited)")
            #expect(inherited.hasSuffix("k8senv/Apply "), "\(inherited)")
        }
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }

    @Test(
        "a CRD in a seed set with a field this server is too old for is reported, not created without the field"
    )
    func seedCreateDropsNothing() async throws {
        let binaries = try await TestBinaries.resolved()
        guard binaries.kubeAPIServerVersion < KubeVersion(major: 1, minor: 25) else { return }
        let crd =
            Project.repository + "/Tests/Fixtures/crds/cluster-api-v1.14.0-rc.0/cluster.x-k8s.io_machinedrainrules.yaml"
        let project = try Project(
            config: """
                \(Self.header)
                environments:
                  e:
                    seeds: [{name: s, manifests: [seeds/crd.yaml]}]
                """,
            seeds: ["seeds/crd.yaml": try String(contentsOfFile: crd, encoding: .utf8)])
        let message = try await project.startFailure()
        #expect(message.contains("seeds/crd.yaml:"), "\(message)")
        #expect(message.contains("the field x-kubernetes-validations at .spec.versions"), "\(message)")
        #expect(message.contains("needs Kubernetes v1.25 or newer"), "\(message)")
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }

    @Test("a field the server rejects is pointed at, not the object's first line")
    func fieldErrorLocation() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(
            config: """
                \(Self.header)
                environments:
                  e:
                    seeds: [{name: s, manifests: [seeds/svc.yaml]}]
                """,
            seeds: [
                "seeds/svc.yaml": """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: default}
                spec:
                  ports:
                    - {name: http, port: 80, protocol: TCP}
                    - name: big
                      port: 70000
                      protocol: TCP
                """
            ])
        let message = try await project.startFailure()
        #expect(
            message.contains("seeds/svc.yaml:8:13: error: Service \"web\" was rejected by the server"), "\(message)")
        #expect(message.contains("spec.ports[1].port"), "\(message)")
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }
}
