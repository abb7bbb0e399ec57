import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

/// ``PooledInstance/auditEvents(since:)`` on a real kube-apiserver: a lease's requests, in order,
/// with their codes, and none of the previous holder's.
@Suite(
    "Pools: a lease's audit events (real kube-apiserver)", .tags(.integration), .serialized,
    .timeLimit(Integration.timeLimit), .integrationSlot)
struct AuditPoolTests {
    static let project: Project = {
        // swiftlint:disable:next force_try
        try! Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                timeouts: {acquire: 60s}
                audit: {level: Metadata}
                environments:
                  base:
                    pool: {size: 1}
                """)
    }()

    @Test(
        "auditEvents lists the lease's create, get, 404 and delete in order with their codes; the next lease starts empty"
    )
    func leaseEvents() async throws {
        _ = try await TestBinaries.resolved()
        let configuration = try K8sEnvConfiguration.load(Self.project.path + "/k8senv.yaml")
        let pool = try configuration.pool(for: "base", options: PoolOptions(cacheDirectory: Self.project.cache))
        do {
            let first = try await pool.acquire()
            #expect(first.audits)
            try await create(
                first.client, "/api/v1/namespaces/default/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"audited"}}"#)
            let got = try await first.client.send("GET", "/api/v1/namespaces/default/configmaps/audited")
            let missing = try await first.client.send("GET", "/api/v1/namespaces/default/configmaps/nope")
            #expect(got.status == 200 && missing.status == 404)
            _ = try await first.client.send("DELETE", "/api/v1/namespaces/default/configmaps/audited")
            let events = first.auditEvents()
            let seen = events.map { "\($0.verb) \($0.resource) \($0.objectName) \($0.code ?? 0)" }
            #expect(
                seen == [
                    "create configmaps default/audited 201", "get configmaps default/audited 200",
                    "get configmaps default/nope 404", "delete configmaps default/audited 200",
                ], "\(events)")
            #expect(events.allSatisfy { $0.instance == first.id && $0.user == "k8senv-admin" })
            #expect(first.auditEvents(since: Date().addingTimeInterval(3600)).isEmpty, "since: a later time")
            try await first.release()

            let second = try await pool.acquire()
            #expect(second.id == first.id, "the same instance, lent again")
            #expect(
                second.auditEvents().filter(\.isMutating).isEmpty,
                "nothing of the first lease's: \(second.auditEvents())")
            try await second.release()
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
    }
}
