import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Testing

@Suite("The in-process store and its callers' threads", .tags(.integration), .timeLimit(.minutes(1)))
struct StoreThreadTests {
    @Test(
        "the store answers while its caller blocks every cooperative thread (as a test calling a tool synchronously does)"
    )
    func answersWhileCallersBlock() async throws {
        let t = try TemporaryStore()
        let server = try await StoreServer.start(store: t.store)
        let etcdctl = try #require(EtcdClientTests.etcdctl, "etcdctl is needed")
        let endpoint = "--endpoints=127.0.0.1:\(server.port)"
        // More blocking callers than cooperative threads: each waits for etcdctl synchronously.
        let callers = ProcessInfo.processInfo.activeProcessorCount + 1
        let outputs = await withTaskGroup(of: String.self) { group in
            for i in 0..<callers {
                group.addTask {
                    let result = try? runTool(
                        etcdctl, [endpoint, "--command-timeout=20s", "put", "/blocked/\(i)", "v"],
                        environment: ["ETCDCTL_API": "3"])
                    return result?.output ?? "failed to run"
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        await server.stop()
        #expect(outputs == Array(repeating: "OK\n", count: callers))
    }
}
