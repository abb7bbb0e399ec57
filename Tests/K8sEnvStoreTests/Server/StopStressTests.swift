import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Synchronization
import Testing

/// The store stops while clients keep connecting: the shape that crashed test runs with
/// "Deinited NIOAsyncWriter without calling finish()" (a connection accepted as the server
/// stopped was dropped unfinished). This test process would die of it; surviving is the check,
/// with what a stopped store must also be: no listener, no connection held.
@Suite("Store stop under connections", .tags(.integration), .serialized, .timeLimit(.minutes(10)))
struct StopStressTests {
    @Test("300 start/stop cycles while clients open HTTP/2 connections during each stop; some stops with a watch open")
    func stopWhileConnecting() async throws {
        let t = try TemporaryStore()
        let hammer = ConnectionHammer(threads: 2)
        defer { hammer.finish() }
        let etcdctl = try #require(
            EtcdClientTests.etcdctl, "etcdctl is needed: scripts/setup.sh installs Debian's etcd-client")
        var watchersStopped = 0
        for cycle in 1...300 {
            let server = try await StoreServer.start(store: t.store)
            hammer.target(port: server.port)
            // Let connections arrive while the server serves, then stop it under them.
            while hammer.opened(on: server.port) < 3 { try await Task.sleep(for: .milliseconds(1)) }
            var watcher: Process?
            if cycle % 30 == 0 {
                // A watch never ends by itself: stop must close its connection after the grace.
                let process = Process()
                process.executableURL = URL(fileURLWithPath: etcdctl)
                process.arguments = ["--endpoints=127.0.0.1:\(server.port)", "watch", "/stress"]
                process.environment = ["ETCDCTL_API": "3"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                watcher = process
                while server.connections.held < 4 { try await Task.sleep(for: .milliseconds(5)) }
            }
            hammer.stopping(true)
            await server.stop(grace: .milliseconds(300))
            hammer.stopping(false)
            #expect(server.connections.held == 0, "cycle \(cycle): connections still held after stop")
            #expect(server.connections.unfinishable == 0, "cycle \(cycle)")
            if let watcher {
                watcher.terminate()
                watcher.waitUntilExit()
                watchersStopped += 1
            }
        }
        let counts = hammer.finish()
        #expect(watchersStopped == 10)
        #expect(counts.total >= 900, "the clients opened \(counts.total) connections")
        #expect(counts.duringStop > 0, "no connection was opened while a server stopped: the test tested nothing")
    }
}
