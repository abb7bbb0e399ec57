import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvStore
import K8sEnvTestSupport
import Synchronization
import Testing

@Suite(
    "Release by reset on the embedded store", .tags(.integration), .serialized, .timeLimit(Integration.timeLimit),
    .integrationSlot,
    .enabled(
        if: TestBinaries.storage == .embedded, "reset is the embedded store's; etcd and kine clean up through the API"))
struct ResetTests {
    @Test(
        "after release: a CRD made since is not served, a namespace made since is gone, an edited and a deleted seeded object are back — and a watch opened before saw it all as events"
    )
    func resetRestoresTheSnapshot() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let lease = try await pool.acquire()
            let client = lease.client
            let cache = PoolFixture.project.path + "/kubectl-cache-reset"
            let watch = try KubectlWatch(
                kubeconfig: lease.kubeconfigPath, cacheDirectory: cache,
                arguments: [
                    "configmaps", "-A", "-o",
                    "custom-columns=EVENT:.type,NS:.object.metadata.namespace,NAME:.object.metadata.name,MODE:.object.data.mode",
                ])
            #expect(
                try await watch.waitFor(["ADDED team settings seeded"]),
                "the watch lists what exists first: \(watch.lines)")
            // What a test does: edits and deletes seeded objects, makes a namespace and a CRD.
            _ = try await client.apply(
                "/api/v1/namespaces/team/configmaps/settings?fieldManager=test&force=true",
                object: Array(
                    #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"team"},"data":{"mode":"edited"}}"#
                        .utf8))
            try await create(
                client, "/api/v1/namespaces/team/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"doomed"},"data":{"mode":"seeded-by-test"}}"#
            )
            try await create(
                client, "/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"scratch"}}"#)
            try await create(
                client, "/api/v1/namespaces/scratch/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"temp"},"data":{"mode":"temp"}}"#)
            try await create(client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Self.gizmoCRD)
            #expect(try await waitUntil { try await client.send("GET", "/apis/reset.k8senv.dev/v1").status == 200 })
            _ = try await client.delete("/api/v1/namespaces/team/configmaps/settings")
            #expect(
                try await watch.waitFor(["DELETED team settings edited", "ADDED scratch temp temp"]),
                "\(watch.lines) \(watch.state)")

            try await lease.release()
            let again = try await pool.acquire()  // the same instance: a pool of one
            #expect(again.id == lease.id)
            let settings = try await again.client.get("/api/v1/namespaces/team/configmaps/settings")
            #expect((settings.json?["data"] as? [String: String])?["mode"] == "seeded")
            #expect(try await again.client.send("GET", "/api/v1/namespaces/scratch").status == 404)
            #expect(try await again.client.send("GET", "/api/v1/namespaces/team/configmaps/doomed").status == 404)
            #expect(try await again.client.send("GET", "/apis/reset.k8senv.dev/v1").status == 404)
            #expect(
                try await again.client.send(
                    "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.reset.k8senv.dev"
                ).status == 404)
            // The restored settings: a second ADDED (the first was the watch's initial list).
            #expect(
                try await watch.waitFor([
                    "ADDED team settings seeded", "ADDED team settings seeded",
                    "DELETED scratch temp temp", "DELETED team doomed seeded-by-test",
                ]),
                "\(watch.lines) \(watch.state)")
            await watch.stop()
            try await again.release()
        }
    }

    @Test(
        "a write that lands after a reset (a killed holder's request in flight) is undone by the next reset: every reset goes back to the state the instance was first handed out in, and diff since then shows nothing"
    )
    func lateWriteAfterResetIsUndone() async throws {
        try await PoolFixture.with(size: 1) { pool in
            var lease = try await pool.acquire()
            let instance = try #require(lease.instanceForTests)
            // k8senv's own client: as a request that was authenticated before the release, it
            // is not stopped by the end of the lease's token.
            let admin = instance.client
            // The store's revision now (a list's resourceVersion): what diff compares with.
            let handedOut = try #require(
                (try await admin.get("/api/v1/namespaces?limit=1").json?["metadata"] as? [String: Any])
                    .flatMap { $0["resourceVersion"] as? String }.flatMap { Int64($0) })
            let late = { (name: String) in
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"},"data":{"mode":"late"}}"#
            }

            // A write after the release's reset has finished.
            try await lease.release()
            try await create(admin, "/api/v1/namespaces/team/configmaps", late("after-reset"))
            lease = try await pool.acquire()
            try await lease.release()
            lease = try await pool.acquire()
            #expect(try await admin.send("GET", "/api/v1/namespaces/team/configmaps/after-reset").status == 404)

            // A write that lands in the store the moment the reset has written (a request
            // kube-apiserver had already accepted): while the reset still waits for the CRD the
            // holder made to stop being served. Written straight into the store, by a thread
            // that watches for the reset, so it lands there every time.
            let store = try #require(instance.store as? EmbeddedStore).server.store
            let early = try #require(try Self.value(store, "/registry/example.k8senv.dev/widgets/team/early"))
            var widget = try #require(try JSONSerialization.jsonObject(with: early) as? [String: Any])
            var metadata = try #require(widget["metadata"] as? [String: Any])
            metadata["name"] = "late"
            metadata["uid"] = UUID().uuidString.lowercased()
            widget["metadata"] = metadata
            let lateWidget = try JSONSerialization.data(withJSONObject: widget)
            try await create(lease.client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Self.gizmoCRD)
            #expect(
                try await waitUntil { try await lease.client.send("GET", "/apis/reset.k8senv.dev/v1").status == 200 })
            let crdKey = "/registry/apiextensions.k8s.io/customresourcedefinitions/gizmos.reset.k8senv.dev"
            let writer = Task.detached {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    Thread {
                        while (try? Self.value(store, crdKey)) != nil {}
                        var put = Etcdserverpb_PutRequest()
                        put.key = Data("/registry/example.k8senv.dev/widgets/team/late".utf8)
                        put.value = lateWidget
                        _ = try? store.put(put)
                        done.resume()
                    }.start()
                }
            }
            try await lease.release()
            await writer.value
            lease = try await pool.acquire()
            // Present now (it landed after the reset), gone after the next reset.
            #expect(
                try await admin.send("GET", "/apis/example.k8senv.dev/v1alpha1/namespaces/team/widgets/late").status
                    == 200)
            try await lease.release()
            lease = try await pool.acquire()
            #expect(
                try await admin.send("GET", "/apis/example.k8senv.dev/v1alpha1/namespaces/team/widgets/late").status
                    == 404,
                "a write that landed while the reset waited is still there after the next reset")
            try await lease.release()
            lease = try await pool.acquire()
            // Nothing of either stays: the instance is as it was handed out.
            let changes = try await StateDiff.diff(
                admin, since: handedOut, name: instance.name, filter: StateDiff.Filter())
            #expect(changes.isEmpty, "\(changes)")
            try await lease.release()
        }
    }

    @Test(
        "release(.clean): what the test created is deleted through the API (a watch sees each DELETED), a CRD with its custom resources; an edited seed keeps its edit; a later reset brings the seeds back"
    )
    func cleanDeletesThroughTheAPI() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let lease = try await pool.acquire()
            let client = lease.client
            let cache = PoolFixture.project.path + "/kubectl-cache-clean"
            let watch = try KubectlWatch(
                kubeconfig: lease.kubeconfigPath, cacheDirectory: cache,
                arguments: [
                    "configmaps", "-A", "-o",
                    "custom-columns=EVENT:.type,NS:.object.metadata.namespace,NAME:.object.metadata.name,MODE:.object.data.mode",
                ])
            #expect(try await watch.waitFor(["ADDED team settings seeded"]), "\(watch.lines)")
            _ = try await client.apply(
                "/api/v1/namespaces/team/configmaps/settings?fieldManager=test&force=true",
                object: Array(
                    #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"team"},"data":{"mode":"edited"}}"#
                        .utf8))
            try await create(
                client, "/api/v1/namespaces/team/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mine","finalizers":["example.com/keep"]},"data":{"mode":"created"}}"#
            )
            try await create(
                client, "/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"scratch"}}"#)
            try await create(
                client, "/api/v1/namespaces/scratch/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"temp"},"data":{"mode":"temp"}}"#)
            try await create(client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Self.gizmoCRD)
            #expect(try await waitUntil { try await client.send("GET", "/apis/reset.k8senv.dev/v1").status == 200 })
            #expect(
                try await waitUntil {
                    (try? await client.create(
                        "/apis/reset.k8senv.dev/v1/namespaces/team/gizmos",
                        object: Array(
                            #"{"apiVersion":"reset.k8senv.dev/v1","kind":"Gizmo","metadata":{"name":"g1"}}"#.utf8)))
                        != nil
                })
            #expect(
                try await watch.waitFor([
                    "MODIFIED team settings edited", "ADDED team mine created", "ADDED scratch temp temp",
                ]), "\(watch.lines)")

            try await lease.release(.clean)
            let again = try await pool.acquire()
            #expect(again.id == lease.id)
            // Deleted through the API: the watch (opened before) saw the deletions.
            #expect(
                try await watch.waitFor(["DELETED team mine created", "DELETED scratch temp temp"]),
                "\(watch.lines) \(watch.state)")
            #expect(try await again.client.send("GET", "/api/v1/namespaces/scratch").status == 404)
            #expect(
                try await again.client.send(
                    "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.reset.k8senv.dev"
                ).status == 404)
            #expect(
                try await again.client.send("GET", "/apis/reset.k8senv.dev/v1/namespaces/team/gizmos/g1").status == 404)
            // What existed keeps the test's change (a reset would have undone it).
            let edited = try await again.client.get("/api/v1/namespaces/team/configmaps/settings")
            #expect((edited.json?["data"] as? [String: String])?["mode"] == "edited")
            #expect(
                !watch.lines.contains("DELETED team settings edited"),
                "an object that existed is not deleted: \(watch.lines)")
            // Seeded objects that the test never touched are all still there.
            let seeded = try await again.client.get("/api/v1/namespaces/team/configmaps")
            let names = Set(
                (seeded.json?["items"] as? [[String: Any]] ?? []).compactMap {
                    ($0["metadata"] as? [String: Any])?["name"] as? String
                })
            #expect(names.contains("settings") && !names.contains("mine"), "\(names)")

            try await again.release()  // reset: back to the revision it was first lent at
            let third = try await pool.acquire()
            let restored = try await third.client.get("/api/v1/namespaces/team/configmaps/settings")
            #expect((restored.json?["data"] as? [String: String])?["mode"] == "seeded")
            await watch.stop()
            try await third.release()
        }
    }

    /// The value of `key` in `store`; nil when it holds none.
    static func value(_ store: KeyValueStore, _ key: String) throws -> Data? {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        return try store.range(request).kvs.first?.value
    }

    static let gizmoCRD = """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"gizmos.reset.k8senv.dev"},
         "spec":{"group":"reset.k8senv.dev","scope":"Namespaced","names":{"plural":"gizmos","singular":"gizmo","kind":"Gizmo"},
         "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
        """
}

/// Polls `condition` every 50 ms for up to 30 s.
/// Set once, read from any task.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}

func waitUntil(_ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<600 {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}
