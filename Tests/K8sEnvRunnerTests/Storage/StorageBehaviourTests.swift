import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvStore
import K8sEnvTestSupport
import Synchronization
import Testing

@Suite(
    "kube-apiserver on the storage under test: watches and leases", .tags(.integration), .serialized,
    .timeLimit(Integration.timeLimit), .integrationSlot)
struct StorageBehaviourTests {
    @Test("kubectl get --watch sees creates, updates and deletes")
    func watchSeesChanges() async throws {
        try await PoolFixture.with(size: 1) { pool in
            try await pool.withInstance { instance in
                let cache = PoolFixture.project.path + "/kubectl-cache-watch"
                // Once kubectl shows an object that was there before, it is watching.
                try await create(
                    instance.client, "/api/v1/namespaces/default/configmaps",
                    #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"before"},"data":{"v":"0"}}"#)
                let watch = try KubectlWatch(
                    kubeconfig: instance.kubeconfigPath, cacheDirectory: cache,
                    arguments: [
                        "configmaps", "-n", "default", "-o",
                        "custom-columns=EVENT:.type,NAME:.object.metadata.name,V:.object.data.v",
                    ])
                #expect(try await watch.waitFor(["ADDED before 0"]), "\(watch.lines) \(watch.state)")
                try await create(
                    instance.client, "/api/v1/namespaces/default/configmaps",
                    #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"watched"},"data":{"v":"1"}}"#)
                _ = try await instance.client.apply(
                    "/api/v1/namespaces/default/configmaps/watched?fieldManager=test&force=true",
                    object: Array(
                        #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"watched","namespace":"default"},"data":{"v":"2"}}"#
                            .utf8))
                _ = try await instance.client.delete("/api/v1/namespaces/default/configmaps/watched")
                #expect(
                    try await watch.waitFor(["ADDED watched 1", "MODIFIED watched 2", "DELETED watched 2"]),
                    "\(watch.lines) \(watch.state)")
                await watch.stop()
            }
        }
    }

    @Test("an Event goes when its lease expires (--event-ttl)")
    func eventsExpire() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                apiServer: {extraArgs: ["--event-ttl=3s"]}
                environments:
                  short: {pool: {size: 1}}
                """, seeds: [:])
        try await project.withSession(["short"]) { (session: Session, record: RunRecord) async throws -> Void in
            let kubeconfig = record.instances[0].kubeconfig
            let event = """
                apiVersion: v1
                kind: Event
                metadata: {name: short-lived, namespace: default}
                involvedObject: {kind: Namespace, name: default}
                reason: Test
                message: gone in three seconds
                """
            let file = project.path + "/event.yaml"
            try event.write(toFile: file, atomically: true, encoding: .utf8)
            _ = try project.kubectl(kubeconfig, ["create", "-f", file])
            #expect(
                try project.kubectl(kubeconfig, ["get", "events", "-n", "default", "-o", "name"]).contains(
                    "short-lived"))
            var gone = false
            for _ in 0..<60 where !gone {
                try await Task.sleep(for: .milliseconds(500))
                gone =
                    !(try project.kubectl(kubeconfig, ["get", "events", "-n", "default", "-o", "name"]).contains(
                        "short-lived"))
            }
            #expect(gone, "the event outlived its 3 s TTL by 30 s")
        }
    }
}
