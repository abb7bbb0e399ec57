import Foundation
import K8sEnvRunner
import Testing

/// The lease `k8senv run` holds on its own pools (``PoolService/lendOwn(_:timeout:purpose:)``),
/// against fake instances: counted by the service like any lease, and named to a test whose
/// acquire times out. The same end to end: RunTests and PoolServiceTests.
@Suite("the pool service and run's own lease (fake instances)", .tags(.fast), .timeLimit(.minutes(1)))
struct PoolServiceLeaseTests {
    @Test(
        "issue 28: run's own lease of a pool of 1: status shows it leased by k8senv; a test's acquire times out naming it as `k8senv run`'s KUBECONFIG and what the pool leaves; once it ends, the test's acquire gets the instance"
    )
    func ownLeaseNamedOnTimeout() async throws {
        let (pool, _) = FakeFactory.pool(size: 1)
        let service = PoolService(
            pools: ["base": pool], order: ["base"], socketPath: "/nonexistent/pool.sock", folder: nil, log: { _ in })
        let own = try #require(
            try await service.lendOwn("base", timeout: .seconds(5), purpose: "`k8senv run` as its command's KUBECONFIG")
        )
        #expect(own.instance.id == "base-0")
        // The test's process: a live process of this user that is not the service's own.
        let test = try ChildProcess.launch(
            executable: "/bin/sh", arguments: ["-c", "exec sleep 60"], environment: [:], logPath: nil)
        defer { test.signalGroup(SIGKILL) }
        let peer = Peer(pid: test.pid, uid: getuid())
        let acquire = HTTPRequest(
            method: "POST", path: "/v1/leases",
            body: Array(#"{"environment": "base", "timeoutSeconds": 0.05, "holder": \#(test.pid)}"#.utf8))

        let status = await service.handle(
            HTTPRequest(method: "GET", path: "/v1/status"), peer: peer, connection: PoolConnection())
        let text = String(decoding: status.body, as: UTF8.self)
        #expect(
            status.status == 200 && text.contains(#""holder":\#(getpid())"#) && text.contains(#""state":"leased""#),
            "\(text)")

        let refused = PoolClient.Answer(
            status: 0, body: await service.handle(acquire, peer: peer, connection: PoolConnection()).body)
        #expect(refused.errorCode == .acquireTimeout, "\(String(decoding: refused.body, as: UTF8.self))")
        #expect(
            refused.error?.message.hasSuffix(
                "; base-0 is held by `k8senv run` as its command's KUBECONFIG (pid \(getpid())): a pool of 1 lends the command's tests none while it runs (raise pool.size of base in k8senv.yaml, or --pool-size)"
            ) == true,
            "\(String(describing: refused.error))")

        #expect(await service.endOwn(own.id) == nil, "its instance was reset")
        let granted = await service.handle(acquire, peer: peer, connection: PoolConnection())
        #expect(granted.status == 201, "\(String(decoding: granted.body, as: UTF8.self))")
        #expect(LeaseGrant.decode(granted.body)?.instance == "base-0")
        await service.shutdown()
    }
}
