import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Pools", .tags(.integration), .serialized, .timeLimit(Integration.timeLimit), .integrationSlot)
struct PoolTests {
    @Test("basic use: acquire a ready instance with the environment's objects, use it, release it")
    func basicUse() async throws {
        try await PoolFixture.with { pool in
            let instance = try await pool.acquire()
            #expect(instance.endpoint.absoluteString.hasPrefix("https://127.0.0.1:"))
            #expect(FileManager.default.fileExists(atPath: instance.kubeconfigPath))
            #expect(instance.caCertificate.contains("BEGIN CERTIFICATE"))
            #expect(try await names(instance.client, "/api/v1/namespaces/team/configmaps").contains("settings"))
            try await create(
                instance.client, "/api/v1/namespaces/default/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mine"}}"#)
            try await instance.release()
            #expect(await pool.counts == (idle: 1, inUse: 0))
        }
    }

    @Test(
        "the first lease of a pool finds the environment's CRDs in kube-apiserver's OpenAPI document: the re-aggregation kube-apiserver does after it answers is done before the instance is lent"
    )
    func firstLeaseHasTheCRDsInOpenAPI() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let instance = try await pool.acquire()
            let crds =
                try await instance.client.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").json?["items"]
                as? [[String: Any]] ?? []
            let expected = crds.flatMap { crd -> [String] in
                let spec = crd["spec"] as? [String: Any] ?? [:]
                let group = (spec["group"] as? String ?? "").split(separator: ".").reversed().joined(separator: ".")
                let kind = (spec["names"] as? [String: Any])?["kind"] as? String ?? ""
                let versions = (spec["versions"] as? [[String: Any]] ?? []).filter { $0["served"] as? Bool ?? false }
                return versions.map { "\(group).\($0["name"] as? String ?? "").\(kind)" }
            }
            #expect(expected.contains("dev.k8senv.example.v1alpha1.Widget"))
            let definitions = try await instance.client.get("/openapi/v2").json?["definitions"] as? [String: Any] ?? [:]
            #expect(expected.filter { definitions[$0] == nil } == [])
            try await instance.release()
        }
    }

    @Test("a released instance is reused (last in, first out), clean")
    func reuse() async throws {
        try await PoolFixture.with { pool in
            let first = try await pool.acquire()
            try await create(
                first.client, "/api/v1/namespaces/default/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"left-behind"}}"#)
            let id = first.id
            try await first.release()
            let second = try await pool.acquire()
            #expect(second.id == id)
            #expect(try await !names(second.client, "/api/v1/namespaces/default/configmaps").contains("left-behind"))
            try await second.release()
        }
    }

    @Test("instances lent at the same time have unique IDs and endpoints")
    func uniqueIDs() async throws {
        try await PoolFixture.with(size: 3) { pool in
            async let a = pool.acquire()
            async let b = pool.acquire()
            async let c = pool.acquire()
            let all = try await [a, b, c]
            #expect(Set(all.map(\.id)).count == 3)
            #expect(Set(all.map(\.endpoint)).count == 3)
            for instance in all { try await instance.release() }
            #expect(await pool.counts == (idle: 3, inUse: 0))
        }
    }

    @Test("a second release of the same lease is an error, not a crash, and does not touch the next user's lease")
    func doubleRelease() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let first = try await pool.acquire()
            try await first.release()
            let second = try await pool.acquire()
            await #expect { try await first.release() } throws: { error in
                (error as? K8sEnvError)?.code == .notAcquired
            }
            #expect(await pool.counts == (idle: 0, inUse: 1), "the second lease is still out")
            try await second.release()
        }
    }

    @Test("10 concurrent acquirers on a pool of 2 wait their turn and all succeed")
    func tenOnTwo() async throws {
        try await PoolFixture.with(size: 2) { pool in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<10 {
                    group.addTask {
                        try await pool.withInstance { instance in
                            try await create(
                                instance.client, "/api/v1/namespaces/default/configmaps",
                                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c\#(i)"}}"#)
                            return instance.id
                        }
                    }
                }
                var ids: [String] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            #expect(ids.count == 10)
            #expect(Set(ids).count <= 2)
            #expect(await pool.counts.inUse == 0)
        }
    }

    @Test("acquire times out when every instance is lent out")
    func acquireTimeout() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let held = try await pool.acquire()
            await #expect { try await pool.acquire(timeout: .milliseconds(300)) } throws: { error in
                (error as? K8sEnvError)?.code == .acquireTimeout
            }
            try await held.release()
        }
    }

    @Test("a release hands the instance to a waiting acquirer")
    func releaseUnblocksWaiter() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let held = try await pool.acquire()
            let heldID = held.id
            async let waited = pool.acquire(timeout: .seconds(60))
            try await untilWaiting(pool)  // the acquire above is queued
            try await held.release()
            let instance = try await waited
            #expect(instance.id == heldID)
            try await instance.release()
        }
    }

    @Test("an acquire while a release resets the only instance waits for it: a pool never grows past its size")
    func acquireDuringReset() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let first = try await pool.acquire()
            let id = first.id
            _ = try await first.client.send(
                "POST", "/api/v1/namespaces", body: Array(#"{"metadata":{"name":"during-reset"}}"#.utf8))
            // A CRD makes the reset wait until kube-apiserver stops serving it: a reset long
            // enough to acquire during.
            let crd =
                #"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"slows.test.k8senv.dev"},"spec":{"group":"test.k8senv.dev","names":{"plural":"slows","singular":"slow","kind":"Slow"},"scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}"#
            _ = try await first.client.send(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: Array(crd.utf8))
            var served = false
            for _ in 0..<200 where !served {
                served = (try? await first.client.send("GET", "/apis/test.k8senv.dev/v1/slows"))?.status == 200
                if !served { try await Task.sleep(for: .milliseconds(50)) }
            }
            try #require(served)
            let releasing = Task { try await first.release() }
            while await !pool.states.resetting.contains(id) {
                // The reset already done: the check below still holds.
                if await pool.states.idle.contains(id) { break }
                try await Task.sleep(for: .milliseconds(1))
            }
            let second = try await pool.acquire(timeout: .seconds(60))
            try await releasing.value
            #expect(second.id == id, "the same instance, not a new one: \(second.id)")
            #expect(await pool.counts == (idle: 0, inUse: 1))
            #expect(try await second.client.send("GET", "/api/v1/namespaces/during-reset").status == 404)
            try await second.release()
        }
    }

    @Test("initialize is idempotent and concurrent calls share one")
    func initializeConcurrently() async throws {
        try await PoolFixture.with { pool in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await pool.initialize() } }
                for try await _ in group {}
            }
            try await pool.initialize()
            #expect(await pool.counts == (idle: 0, inUse: 0), "initialize warms the cache, it starts no instance")
        }
    }

    @Test("cancelling a waiting acquire ends it with .cancelled")
    func cancellation() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let held = try await pool.acquire()
            let waiting = Task { try await pool.acquire(timeout: .seconds(60)) }
            try await untilWaiting(pool)  // the acquire above is queued
            waiting.cancel()
            let result = await waiting.result
            #expect(throws: K8sEnvError.self) { try result.get() }
            if case .failure(let error as K8sEnvError) = result { #expect(error.code == .cancelled) }
            try await held.release()
            #expect(await pool.counts == (idle: 1, inUse: 0))
        }
    }

    @Test(
        "release removes user namespaces (also one with a finalizer) and cluster objects, keeps system and seeded ones")
    func cleanup() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let instance = try await pool.acquire()
            let client = instance.client
            let before = try await names(client, "/api/v1/namespaces")
            #expect(before.isSuperset(of: ["default", "kube-system", "kube-public", "team"]))
            try await create(
                client, "/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"scratch"}}"#)
            try await create(
                client, "/api/v1/namespaces/scratch/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#)
            try await create(
                client, "/api/v1/namespaces",
                #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"stuck","finalizers":["example.com/never"]}}"#
            )
            try await create(
                client, "/api/v1/namespaces/team/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"extra"}}"#)
            try await create(
                client, "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                #"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"made-by-test"}}"#
            )
            try await create(
                client, "/apis/example.k8senv.dev/v1alpha1/namespaces/team/widgets",
                #"{"apiVersion":"example.k8senv.dev/v1alpha1","kind":"Widget","metadata":{"name":"new","finalizers":["example.com/hold"]},"spec":{"color":"blue","size":1}}"#
            )
            let id = instance.id
            try await instance.release()
            let again = try await pool.acquire()
            #expect(again.id == id)
            let after = try await names(again.client, "/api/v1/namespaces")
            #expect(after == before, "namespaces are as seeded")
            #expect(try await names(again.client, "/api/v1/namespaces/team/configmaps") == ["settings"])
            #expect(
                try await !names(again.client, "/apis/rbac.authorization.k8s.io/v1/clusterroles").contains(
                    "made-by-test"))
            #expect(
                try await names(again.client, "/apis/example.k8senv.dev/v1alpha1/namespaces/team/widgets") == ["early"])
            // The namespace is really gone, not just hidden: creating it again gives an empty one.
            try await create(
                again.client, "/api/v1/namespaces",
                #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"scratch"}}"#)
            #expect(try await names(again.client, "/api/v1/namespaces/scratch/configmaps").isEmpty)
            try await again.release()
        }
    }

    @Test("a CRD created by a test is gone after release, with its custom resources")
    func crdCleanup() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let instance = try await pool.acquire()
            let crd = """
                {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"temps.test.k8senv.dev"},
                 "spec":{"group":"test.k8senv.dev","scope":"Cluster","names":{"plural":"temps","kind":"Temp"},
                 "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
                """
            try await create(instance.client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
            var served = false
            for _ in 0..<100 where !served {
                served = (try? await instance.client.send("GET", "/apis/test.k8senv.dev/v1/temps"))?.status == 200
                if !served { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(served)
            try await create(
                instance.client, "/apis/test.k8senv.dev/v1/temps",
                #"{"apiVersion":"test.k8senv.dev/v1","kind":"Temp","metadata":{"name":"t"}}"#)
            try await instance.release()
            let again = try await pool.acquire()
            #expect(
                try await !names(again.client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions").contains(
                    "temps.test.k8senv.dev"))
            #expect(
                try await names(again.client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions").contains(
                    "widgets.example.k8senv.dev"))
            try await again.release()
        }
    }

    @Test("an instance whose kube-apiserver died is replaced, not lent")
    func failedInstanceReplaced() async throws {
        try await PoolFixture.with(size: 1) { pool in
            let instance = try await pool.acquire()
            let id = instance.id
            try await instance.release()
            let pid = try #require(instance.instanceProcessIDForTests)
            kill(pid, SIGKILL)
            // Dead (a zombie or reaped), however loaded the machine: then the pool must see it.
            for _ in 0..<1_000 where isRunning(pid) { try await Task.sleep(for: .milliseconds(10)) }
            try #require(!isRunning(pid))
            let next = try await pool.acquire()
            #expect(next.id != id)
            #expect(try await next.client.get("/livez").status == 200)
            try await next.release()
        }
    }

    @Test(
        "stress: 100 short tests, six at a time, create random objects across a pool of 2, and every instance ends clean"
    )
    func stress() async throws {
        try await PoolFixture.with(size: 2) { pool in
            let kinds: [(String, String)] = [
                ("configmaps", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"},"data":{"a":"b"}}"#),
                ("secrets", #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"NAME"},"stringData":{"a":"b"}}"#),
                (
                    "services",
                    #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"NAME"},"spec":{"ports":[{"port":80}]}}"#
                ),
                (
                    "pods",
                    #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#
                ),
                ("serviceaccounts", #"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"NAME"}}"#),
            ]
            let baseline = try await pool.withInstance { try await names($0.client, "/api/v1/namespaces") }
            // Six at a time, as a test runner's workers would: each acquire waits for a release or
            // two, never for the whole queue (timeouts.acquire bounds one wait, not a suite).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for test in 0..<100 {
                    if test >= 6 { try await group.next() }
                    group.addTask {
                        try await pool.withInstance { instance in
                            let namespace = test % 3 == 0 ? "default" : "stress-\(test)"
                            if namespace != "default" {
                                try await create(
                                    instance.client, "/api/v1/namespaces",
                                    #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"\#(namespace)"}}"#)
                            }
                            for (resource, body) in kinds.shuffled().prefix(Int.random(in: 1...kinds.count)) {
                                try await create(
                                    instance.client, "/api/v1/namespaces/\(namespace)/\(resource)",
                                    body.replacingOccurrences(of: "NAME", with: "o\(test)"))
                            }
                        }
                    }
                }
                for try await _ in group {}
            }
            async let a = pool.acquire()
            async let b = pool.acquire()
            for instance in try await [a, b] {
                #expect(try await names(instance.client, "/api/v1/namespaces") == baseline)
                for (resource, _) in kinds {
                    let left = try await names(instance.client, "/api/v1/\(resource)")
                    #expect(left.allSatisfy { !$0.hasPrefix("o") || $0.count > 4 }, "\(resource): \(left)")
                }
                try await instance.release()
            }
        }
    }

    @Test(
        "a lease's credentials end with the lease: on the very first request after release, its token and its declared user's are refused (401, or 403 with k8senv's reason while kube-apiserver remembers them), asked by a client of their own; their kubeconfigs are gone, and the next lease's tokens work"
    )
    func leaseCredentialsEndWithTheLease() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                users:
                  - name: alice
                    groups: [dev]
                environments:
                  base:
                    pool: {size: 1}
                """)
        let pool = try K8sEnvConfiguration.load(project.path + "/k8senv.yaml")
            .pool(for: "base", options: PoolOptions(size: 1, cacheDirectory: project.cache))
        /// The status and message of a GET of the default namespace with `token`, from a client
        /// that shares nothing with the pool.
        func ask(_ lease: PooledInstance, _ token: String) async throws -> (status: Int, message: String) {
            let client = try KubeClient(
                server: lease.endpoint.absoluteString, caCertificate: lease.caCertificate, token: token)
            let response = try await client.send("GET", "/api/v1/namespaces/default")
            await client.shutdown()
            return (response.status, (response.json?["message"] as? String) ?? "")
        }
        /// Refused on the very next request: 401 when kube-apiserver asks who the token is, 403
        /// with k8senv's reason while it still remembers a success of the last 10 s (its own
        /// fixed cache) — the tokens were used just before the release, so that case is met.
        func refused(_ lease: PooledInstance, _ token: String) async throws -> Bool {
            let (status, message) = try await ask(lease, token)
            return status == 401 || (status == 403 && message.contains(TokenWebhook.endedReason))
        }
        do {
            let first = try await pool.acquire()
            let alice = try #require(first.users["alice"])
            // The lease admin's identity (allowed everything by k8senv's webhook) and alice's (RBAC refuses her by name).
            #expect(try await ask(first, first.token).status == 200)
            let asAlice = try await ask(first, alice.token)
            #expect(
                asAlice.status == 403 && asAlice.message.contains(#"User "alice" cannot get resource "namespaces""#),
                "\(asAlice)")
            #expect(
                FileManager.default.fileExists(atPath: first.kubeconfigPath)
                    && FileManager.default.fileExists(atPath: alice.kubeconfigPath))
            try await first.release()

            #expect(
                !FileManager.default.fileExists(atPath: first.kubeconfigPath)
                    && !FileManager.default.fileExists(atPath: alice.kubeconfigPath))
            #expect(try await refused(first, first.token), "the released lease's token still works")
            #expect(try await refused(first, alice.token), "the released lease's user token still works")

            let second = try await pool.acquire()
            #expect(second.id == first.id && second.token != first.token)
            #expect(try await ask(second, second.token).status == 200)
            #expect(try await ask(second, try #require(second.users["alice"]).token).status == 403)
            #expect(try await refused(second, first.token), "the first lease's token on the next holder's instance")
            try await second.release()
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
    }

    @Test("shutdown stops every instance and fails waiting acquirers")
    func shutdown() async throws {
        _ = try await TestBinaries.resolved()
        let pool = try PoolFixture.pool(size: 1)
        let held = try await pool.acquire()
        let pid = try #require(held.instanceProcessIDForTests)
        let waiting = Task { try await pool.acquire(timeout: .seconds(60)) }
        try await untilWaiting(pool)  // the acquire above is queued
        await pool.shutdown()
        if case .failure(let error as K8sEnvError) = await waiting.result {
            #expect(error.code == .shutDown)
        } else {
            Issue.record("the waiting acquire should fail with .shutDown")
        }
        #expect(!isRunning(pid))
        await #expect { try await pool.acquire() } throws: { ($0 as? K8sEnvError)?.code == .shutDown }
    }
}

/// Returns once `count` acquires wait on `pool`: the order a test needs, without a guessed sleep.
func untilWaiting(_ pool: EnvironmentPool, _ count: Int = 1) async throws {
    while await pool.states.waiting < count { try await Task.sleep(for: .milliseconds(2)) }
}
