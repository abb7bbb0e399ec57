import Foundation
import K8sEnvRunner
import K8sEnvSystem
import K8sEnvTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A connected socket to `path`, with a 10 s receive timeout, for requests written by hand.
private func rawConnect(_ path: String) throws -> Int32 {
    guard case .success(let fd) = UnixSocket.connect(to: path) else { throw FixtureError("cannot connect to \(path)") }
    var limit = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

private func sendAll(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
}

/// Everything the server sends until it closes (or 10 s pass), read on a thread of its own: a
/// blocking read on the cooperative pool (two threads on two cores) would starve the handlers'
/// tasks it waits for.
private func readAll(_ fd: Int32) async -> String {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: readAllBlocking(fd)) }.start()
    }
}

private func readAllBlocking(_ fd: Int32) -> String {
    var answer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 { break }
        answer += chunk[0..<n]
    }
    return String(decoding: answer, as: UTF8.self)
}

/// The number of threads of this process.
private func threadCount() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    return status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
        .flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
}

@Suite("the pool API's HTTP server and client on a Unix socket", .tags(.fast))
struct PoolHTTPServerTests {
    @Test(
        "answers a request with the handler's JSON and the peer's pid; the socket is 0600 from the start and gone after stop"
    )
    func serves() async throws {
        let folder = try TemporaryFolder()
        let server = try PoolHTTPServer(path: folder("api.sock")) { request, peer, _ in
            .json(
                200,
                [
                    "method": request.method, "path": request.path, "mode": request.query["mode"] ?? "",
                    "body": String(decoding: request.body, as: UTF8.self), "pid": "\(peer.pid)",
                ])
        }
        defer { server.stop() }
        var status = stat()
        #expect(stat(folder("api.sock"), &status) == 0 && status.st_mode & 0o777 == 0o600)
        let client = PoolClient(socketPath: folder("api.sock"))
        let answer = try await client.send("DELETE", "/v1/leases/ab?mode=stop", body: Array("{}".utf8))
        #expect(answer.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: String])
        #expect(
            object == ["method": "DELETE", "path": "/v1/leases/ab", "mode": "stop", "body": "{}", "pid": "\(getpid())"])
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: folder("api.sock")), "stop removes the socket")
        await #expect { try await client.send("GET", "/v1/status") } throws: {
            ($0 as? K8sEnvError)?.code == .noService
        }
    }

    @Test("routes: the four of the API, 405 for another method on them, 404 elsewhere, each with its code")
    func routes() {
        #expect(matched("GET", "/v1/status") == .status)
        #expect(matched("POST", "/v1/leases") == .acquire)
        #expect(matched("DELETE", "/v1/leases/abc") == .release(lease: "abc"))
        #expect(matched("GET", "/v1/leases/abc/audit") == .audit(lease: "abc"))
        for (method, path, status, code) in [
            ("PUT", "/v1/status", 405, "method-not-allowed"), ("GET", "/v1/leases", 405, "method-not-allowed"),
            ("POST", "/v1/leases/abc", 405, "method-not-allowed"), ("GET", "/v2/status", 404, "not-found"),
            ("DELETE", "/v1/leases/", 404, "not-found"), ("GET", "/", 404, "not-found"),
        ] {
            guard case .refused(let response) = PoolRoute.match(method: method, path: path) else {
                Issue.record("\(method) \(path) was routed")
                continue
            }
            #expect(response.status == status, "\(method) \(path)")
            #expect(
                PoolClient.Answer(status: response.status, body: response.body).error?.code == code, "\(method) \(path)"
            )
        }
    }

    private func matched(_ method: String, _ path: String) -> PoolRoute? {
        if case .route(let route) = PoolRoute.match(method: method, path: path) { return route }
        return nil
    }

    @Test(
        "a peer of another uid is answered 403 (SO_PEERCRED), even when the socket's mode would let it in",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
            "needs root and setpriv to connect as nobody"))
    func refusesOtherUsers() async throws {
        let folder = try TemporaryFolder()
        chmod(folder.path, 0o711)
        let path = folder("open.sock")
        let server = try PoolHTTPServer(path: path) { _, _, _ in .json(200, ["granted": "yes"]) }
        defer { server.stop() }
        chmod(path, 0o666)  // only the uid check is left between another user and the handler
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            s.sendall(b"GET /v1/status HTTP/1.1\\r\\nContent-Length: 0\\r\\n\\r\\n")
            data = b""
            while chunk := s.recv(4096): data += chunk
            print(data.decode())
            """
        let other = try await runToolAsync(
            "/usr/bin/setpriv",
            ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", script, path])
        #expect(other.output.hasPrefix("HTTP/1.1 403 Forbidden"), "\(other.output)")
        #expect(other.output.contains(#""code":"forbidden""#) && !other.output.contains("granted"), "\(other.output)")
    }

    @Test(
        "the client refuses a socket another user planted (its file, its folder, a symlink to either) and sends it nothing",
        .enabled(if: getuid() == 0, "needs root to give files to another user"))
    func clientRefusesPlantedSockets() async throws {
        let folder = try TemporaryFolder()
        let requests = Counter()
        let plantedFolder = folder("planted")
        mkdir(plantedFolder, 0o755)
        let server = try PoolHTTPServer(path: plantedFolder + "/pool.sock") { _, _, _ in
            requests.add()
            return .json(200, ["granted": "yes"])
        }
        defer { server.stop() }
        // The socket file belongs to another user.
        chown(plantedFolder + "/pool.sock", 65534, 65534)
        await expectUntrusted(plantedFolder + "/pool.sock", because: "belongs to uid 65534")
        chown(plantedFolder + "/pool.sock", 0, 0)
        // Its folder belongs to another user.
        chown(plantedFolder, 65534, 65534)
        await expectUntrusted(plantedFolder + "/pool.sock", because: "its folder \(plantedFolder) belongs to uid 65534")
        chown(plantedFolder, 0, 0)
        // Its folder can be written by others (a shared folder: anyone may have put it there).
        chmod(plantedFolder, 0o1777)
        await expectUntrusted(plantedFolder + "/pool.sock", because: "can be written by other users")
        chmod(plantedFolder, 0o755)
        // A symlinked folder (as a committed `.k8senv -> /tmp/shared` would be) and a symlinked socket.
        symlink(plantedFolder, folder(".k8senv"))
        await expectUntrusted(folder(".k8senv/pool.sock"), because: "is a symlink")
        symlink(plantedFolder + "/pool.sock", folder("link.sock"))
        await expectUntrusted(folder("link.sock"), because: "is a symlink")
        #expect(requests.value == 0, "nothing reached the planted service")
        // The same service, now the user's own in every respect, is used.
        #expect(try await PoolClient(socketPath: plantedFolder + "/pool.sock").send("GET", "/v1/status").status == 200)
    }

    private func expectUntrusted(
        _ path: String, because reason: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        await #expect(sourceLocation: sourceLocation) {
            try await PoolClient(socketPath: path).send("GET", "/v1/status")
        } throws: { error in
            guard let error = error as? K8sEnvError, error.code == .untrustedSocket else { return false }
            return error.message.contains(reason) && error.message.contains("only to a pool service of your own user")
        }
    }

    @Test(
        "the client refuses a service whose process runs as another user (SO_PEERCRED), though the socket file is its own",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
            "needs root to drop to another user"))
    func clientRefusesAnotherUsersProcess() async throws {
        let folder = try TemporaryFolder()
        let path = folder("pool.sock")
        // Bound as root (the file is root's), then listening and accepting as nobody: the peer
        // credentials are those of the process that called listen().
        let script = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o600)
            os.setgid(65534); os.setuid(65534)
            s.listen(1); s.settimeout(20)
            print("listening", flush=True)
            c, _ = s.accept(); c.settimeout(5)
            try: data = c.recv(4096)
            except Exception: data = b""
            if data: c.sendall(b'HTTP/1.1 201 Created\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}')
            print("received", len(data), flush=True)
            """
        async let served = runToolAsync("/usr/bin/python3", ["-c", script, path])
        // Until it listens, the socket is missing or refuses connections (no-service).
        var refusal: K8sEnvError?
        let deadline = ContinuousClock.now + .seconds(10)
        while refusal == nil || (refusal?.code == .noService && ContinuousClock.now < deadline) {
            do {
                _ = try await PoolClient(socketPath: path).send("POST", "/v1/leases", body: Array("{}".utf8))
                Issue.record("the client used a service of uid 65534")
                break
            } catch {
                refusal = error
                if error.code == .noService { try await Task.sleep(for: .milliseconds(50)) }
            }
        }
        #expect(refusal?.code == .untrustedSocket, "\(String(describing: refusal))")
        #expect(refusal?.message.contains("runs as uid 65534") == true, "\(String(describing: refusal))")
        let output = try await served.output
        #expect(output.contains("received 0"), "the client sent nothing to it: \(output)")
    }

    @Test(
        "a client that half-closes its end after sending the request is still there for its answer (as an acquire asks before granting)"
    )
    func halfClose() async throws {
        let folder = try TemporaryFolder()
        let server = try PoolHTTPServer(path: folder("api.sock")) { _, _, connection in
            try? await Task.sleep(for: .milliseconds(300))
            return connection.isClosed ? .error(503, .shutDown, "the client left") : .json(201, ["lease": "x"])
        }
        defer { server.stop() }
        let fd = try rawConnect(folder("api.sock"))
        defer { close(fd) }
        sendAll(fd, "POST /v1/leases HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        shutdown(fd, Int32(SHUT_WR))
        let answer = await readAll(fd)
        #expect(answer.hasPrefix("HTTP/1.1 201 Created"), "\(answer)")
        #expect(answer.contains(#"{"lease":"x"}"#), "\(answer)")
    }

    @Test(
        "bytes after a whole request (junk, a second request) do not take the handler's answer away: an acquire's grant reaches its client"
    )
    func bytesAfterTheRequest() async throws {
        let folder = try TemporaryFolder()
        let server = try PoolHTTPServer(path: folder("api.sock")) { _, _, _ in
            try? await Task.sleep(for: .milliseconds(200))
            return .json(201, ["lease": "granted"])
        }
        defer { server.stop() }
        let fd = try rawConnect(folder("api.sock"))
        defer { close(fd) }
        sendAll(fd, "POST /v1/leases HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\u{01}\u{02} not HTTP at all\r\n\r\n")
        let answer = await readAll(fd)
        #expect(answer.hasPrefix("HTTP/1.1 201"), "\(answer)")
        #expect(answer.contains(#"{"lease":"granted"}"#), "\(answer)")
    }

    @Test("a client that closes its connection while the handler waits is seen by the handler")
    func closedWhileWaiting() async throws {
        let folder = try TemporaryFolder()
        let saw = Counter()
        let server = try PoolHTTPServer(path: folder("api.sock")) { _, _, connection in
            for _ in 0..<200 where !connection.isClosed { try? await Task.sleep(for: .milliseconds(50)) }
            if connection.isClosed { saw.add() }
            return .json(201, ["lease": "x"])
        }
        defer { server.stop() }
        let fd = try rawConnect(folder("api.sock"))
        sendAll(fd, "POST /v1/leases HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        try await Task.sleep(for: .milliseconds(200))
        close(fd)
        #expect(try await eventuallyTrue { saw.value == 1 })
    }

    @Test(
        "a request that does not arrive whole within the deadline is answered 408 and closed, however slowly it trickles"
    )
    func slowRequest() async throws {
        let folder = try TemporaryFolder()
        var limits = PoolHTTPServer.Limits()
        limits.requestDeadline = .seconds(1)
        let server = try PoolHTTPServer(path: folder("api.sock"), limits: limits) { _, _, _ in
            .json(200, ["handled": "yes"])
        }
        defer { server.stop() }
        let fd = try rawConnect(folder("api.sock"))
        defer { close(fd) }
        // One byte every 300 ms: each alone is well within any per-read timeout.
        for byte in "GET /v1/st" {
            sendAll(fd, String(byte))
            try await Task.sleep(for: .milliseconds(300))
        }
        let answer = await readAll(fd)
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(answer.contains(#""code":"request-timeout""#) && !answer.contains("handled"), "\(answer)")
    }

    @Test(
        "connections over the limits (in all, from one process) are answered 503 too-many-connections at once; a place freed is taken again"
    )
    func connectionLimits() async throws {
        for (total, perProcess) in [(3, 100), (100, 3)] {
            let folder = try TemporaryFolder()
            var limits = PoolHTTPServer.Limits()
            limits.connections = total
            limits.connectionsPerProcess = perProcess
            let server = try PoolHTTPServer(path: folder("api.sock"), limits: limits) { _, _, _ in
                .json(200, ["ok": "yes"])
            }
            defer { server.stop() }
            let idle = try (0..<3).map { _ in try rawConnect(folder("api.sock")) }
            // The idle ones are admitted (as seen by the server) before the fourth comes.
            try await Task.sleep(for: .milliseconds(200))
            let fourth = try rawConnect(folder("api.sock"))
            let refused = await readAll(fourth)
            close(fourth)
            #expect(refused.hasPrefix("HTTP/1.1 503"), "limits \(total)/\(perProcess): \(refused)")
            #expect(refused.contains(#""code":"too-many-connections""#), "\(refused)")
            close(idle[0])
            #expect(
                try await eventuallyTrue {
                    (try? await PoolClient(socketPath: folder("api.sock")).send("GET", "/v1/status").status) == 200
                })
            for fd in idle.dropFirst() { close(fd) }
        }
    }

    @Test(
        "hundreds of idle connections hold neither a thread each nor a connection past the limit: those over it are answered and closed at once"
    )
    func slowloris() async throws {
        let folder = try TemporaryFolder()
        var limits = PoolHTTPServer.Limits()
        limits.connections = 64
        let server = try PoolHTTPServer(path: folder("api.sock"), limits: limits) { _, _, _ in .json(200, ["ok": "yes"])
        }
        defer { server.stop() }
        _ = try await PoolClient(socketPath: folder("api.sock")).send("GET", "/v1/status")
        let threadsBefore = threadCount()
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }
        for _ in 0..<400 {
            guard case .success(let fd) = UnixSocket.connect(to: folder("api.sock")) else { continue }
            sendAll(fd, "G")
            clients.append(fd)
        }
        #expect(clients.count == 400)
        // Seen from the clients: the server closed every connection over its limit (after its
        // 503), and holds at most its limit open.
        var held = clients.count
        let deadline = ContinuousClock.now + .seconds(10)
        while held > limits.connections, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            held =
                clients.filter { fd in
                    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    return poll(&entry, 1, 0) == 0  // nothing to read: the server neither answered nor closed it
                }.count
        }
        #expect(held <= limits.connections, "connections the server still holds: \(held)")
        // A thread per connection would have added hundreds (other suites' threads come and go).
        #expect(threadCount() - threadsBefore < 100, "threads grew from \(threadsBefore) to \(threadCount())")
    }
}

/// A count shared with a handler.
private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}

private func eventuallyTrue(within timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws
    -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(50))
    }
}
