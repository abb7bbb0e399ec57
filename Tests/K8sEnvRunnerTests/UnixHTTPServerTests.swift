import Foundation
@testable import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("the pool API's HTTP server on a Unix socket", .tags(.fast))
struct UnixHTTPServerTests {
    @Test("answers a request with the handler's JSON and the peer's pid; the socket is 0600 from the start and gone after stop")
    func serves() async throws {
        let folder = try TemporaryFolder()
        let server = try UnixHTTPServer(path: folder("api.sock")) { request, peer, _ in
            .json(200, ["method": request.method, "path": request.path, "mode": request.query["mode"] ?? "", "body": String(decoding: request.body, as: UTF8.self), "pid": "\(peer.pid)"])
        }
        defer { server.stop() }
        var status = stat()
        #expect(stat(folder("api.sock"), &status) == 0 && status.st_mode & 0o777 == 0o600)
        let client = PoolClient(socketPath: folder("api.sock"))
        // On a thread of its own: the handler needs the cooperative pool this test runs on.
        let answer = try await client.sendDetached("DELETE", "/v1/leases/ab?mode=stop", body: Array("{}".utf8))
        #expect(answer.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: String])
        #expect(object == ["method": "DELETE", "path": "/v1/leases/ab", "mode": "stop", "body": "{}", "pid": "\(getpid())"])
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: folder("api.sock")), "stop removes the socket")
        await #expect { try await client.sendDetached("GET", "/v1/status") } throws: { ($0 as? K8sEnvError)?.code == .noService }
    }

    @Test("a peer of another uid is answered 403 (SO_PEERCRED), even when the socket's mode would let it in",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv to connect as nobody"))
    func refusesOtherUsers() async throws {
        let folder = try TemporaryFolder()
        chmod(folder.path, 0o711)
        let path = folder("open.sock")
        let server = try UnixHTTPServer(path: path) { _, _, _ in .json(200, ["granted": "yes"]) }
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
        let other = try await runToolAsync("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", script, path])
        #expect(other.output.hasPrefix("HTTP/1.1 403 Forbidden"), "\(other.output)")
        #expect(other.output.contains(#""code":"forbidden""#) && !other.output.contains("granted"), "\(other.output)")
    }
}
