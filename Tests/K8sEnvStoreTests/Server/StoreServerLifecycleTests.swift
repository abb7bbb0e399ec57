import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Testing

@Suite("Store server lifecycle", .tags(.integration))
struct StoreServerLifecycleTests {
    @Test(
        "a database file removed or replaced under a serving store is its failure, and ended() returns it; a stop is not a failure"
    )
    func fileGoneIsFailure() async throws {
        for replace in [false, true] {
            let t = try TemporaryStore()
            var options = StoreServer.Options()
            options.leaseCheckInterval = .milliseconds(50)
            let server = try await StoreServer.start(store: t.store, options: options)
            #expect(server.failure == nil)
            try FileManager.default.removeItem(atPath: t.folder + "/state.db")
            if replace { try Data("not a database".utf8).write(to: URL(fileURLWithPath: t.folder + "/state.db")) }
            let error = await server.ended()
            let expected =
                "its database file \(t.folder)/state.db was \(replace ? "replaced" : "removed") while it served"
            #expect("\(error.map { "\($0)" } ?? "nil")".contains(expected))
            #expect("\(server.failure.map { "\($0)" } ?? "nil")".contains(expected))
            await server.stop()
        }
        // Stopped, not failed: no failure, and a supervisor's wait ends when it is cancelled.
        let t = try TemporaryStore()
        let server = try await StoreServer.start(store: t.store)
        let waiter = Task { await server.ended() }
        waiter.cancel()
        #expect(await waiter.value == nil)
        await server.stop()
        #expect(server.failure == nil)
    }

    @Test("stop closes the listening socket before it returns")
    func stopClosesPort() async throws {
        let t = try TemporaryStore()
        let server = try await StoreServer.start(store: t.store)
        let port = server.port
        #expect(canConnect(port))
        let listener = try #require(listeningInode(port: port), "the store listens on 127.0.0.1:\(port)")
        await server.stop()
        // That socket is gone (the kernel may already have given the port to someone else, whose
        // socket is another one).
        #expect(listeningInode(port: port) != listener, "held by: \(holders(of: listener))")
    }
}

func canConnect(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
