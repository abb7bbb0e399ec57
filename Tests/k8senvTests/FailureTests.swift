import Foundation
import K8sEnvTestSupport
import Testing

/// Starts that fail: each is a clear error on stderr, exit 1, and nothing left running.
@Suite(
    "Failed starts (real etcd; a real or a broken kube-apiserver)", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct FailureTests {
    @Test("a kube-apiserver path that does not exist: exit 1 naming binaries.kubeAPIServer")
    func badBinaryPath() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true, name: "bad-path", apiServers: false) { ws in
            let outcome = try await ws.k8senv(
                "up", "-f", "k8senv.yaml", environment: ["K8SENV_KUBE_APISERVER": "/nonexistent"])
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("binaries.kubeAPIServer: /nonexistent does not exist"), "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")

            let run = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "true", environment: ["K8SENV_KUBE_APISERVER": "/nonexistent"])
            #expect(run.status == 1, "\(run)")
            #expect(run.stderr.contains("binaries.kubeAPIServer"), "\(run)")
        }
    }

    @Test("a kube-apiserver that exits at once: exit 1 with the tail of its log; storage is stopped")
    func exitsAtOnce() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "exits", apiServers: false) { ws in
            let fake = try ws.write(
                "fake-kube-apiserver",
                """
                #!/bin/sh
                if [ "$1" = "--version" ]; then echo "Kubernetes v1.20.2"; exit 0; fi
                echo boom >&2; exit 3

                """, mode: 0o755)
            let outcome = try await ws.k8senv("up", "-f", "k8senv.yaml", environment: ["K8SENV_KUBE_APISERVER": fake])
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("kube-apiserver exited with status 3"), "\(outcome)")
            #expect(outcome.stderr.contains("| boom"), "the log tail: \(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("a start past timeouts.start: exit 1 naming timeouts.start, nothing left running")
    func startTimeout() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(start: "1s"), name: "timeout") { ws in
            let outcome = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "true")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("not ready within the start timeout (timeouts.start)"), "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "a --secure-port someone else holds: one try (a pinned port a retry would not change), then exit 1 with \"address already in use\"; nothing left running"
    )
    func portTaken() async throws {
        _ = try RealBinaries.require()
        let listener = try Listener()
        defer { listener.close() }
        let config = Workspace.smallConfig(
            """
            apiServer:
              extraArgs: ["--secure-port=\(listener.port)"]
            """)
        try await Workspace.with(config: config, name: "port") { ws in
            let outcome = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("127.0.0.1:\(listener.port): bind: address already in use"), "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(ws.recordedPIDs().isEmpty)
            // The failed run keeps its logs: one bind failure, the port being pinned (no retry).
            let logs = ws.runFolders().map { $0 + "/one-0/logs/kube-apiserver.log" }
            let text = try logs.map { String(decoding: try Repository.read($0), as: UTF8.self) }.joined()
            #expect(text.ranges(of: "bind: address already in use").count == 1, "\(text)")
            let status = try await ws.k8senv("status", "-f", "k8senv.yaml")
            #expect(status.stdout == "not running\n", "\(status)")
        }
    }
}

/// A TCP socket listening on 127.0.0.1 (a port "someone else" holds).
final class Listener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            throw FixtureError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(fd) }
}
