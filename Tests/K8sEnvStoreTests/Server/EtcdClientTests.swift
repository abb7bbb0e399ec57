import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Testing

/// The store served over gRPC, spoken to by independent etcd clients: etcdctl (Go, the etcd
/// v3.4 client kube-apiserver also uses) and Python's etcd3 (grpcio).
@Suite("etcd clients against the store", .tags(.integration), .timeLimit(.minutes(2)))
struct EtcdClientTests {
    /// etcdctl from Debian's etcd-client, or K8SENV_ETCDCTL. In CI a missing one fails the test.
    static var etcdctl: String? {
        let candidates = [ProcessInfo.processInfo.environment["K8SENV_ETCDCTL"], "/usr/bin/etcdctl"].compactMap { $0 }
        return candidates.first { !$0.isEmpty && FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Debian's python3 (python3-etcd3 is a Debian package; another python3 may be first on PATH).
    static let python = "/usr/bin/python3"

    func withServer<T>(_ body: (StoreServer, String) async throws -> T) async throws -> T {
        let t = try TemporaryStore()
        var options = StoreServer.Options()
        options.leaseCheckInterval = .milliseconds(100)
        options.progressInterval = .seconds(1)
        let server = try await StoreServer.start(store: t.store, options: options)
        do {
            let result = try await body(server, "127.0.0.1:\(server.port)")
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    func etcdctl(_ endpoint: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        guard let etcdctl = Self.etcdctl else {
            Issue.record("etcdctl not found: scripts/setup.sh installs Debian's etcd-client")
            throw CancellationError()
        }
        var environment = ProcessInfo.processInfo.environment
        environment["ETCDCTL_API"] = "3"
        return try await runToolAsync(
            etcdctl, ["--endpoints=\(endpoint)", "--dial-timeout=5s", "--command-timeout=10s"] + arguments,
            environment: environment)
    }

    @Test("etcdctl: put, get --prefix, txn, del, watch from a revision, compaction, endpoint status, member list")
    func etcdctlBasics() async throws {
        try await withServer { server, endpoint in
            #expect(try await etcdctl(endpoint, ["put", "/app/a", "1"]).output == "OK\n")
            #expect(try await etcdctl(endpoint, ["put", "/app/b", "2"]).output == "OK\n")
            #expect(try await etcdctl(endpoint, ["put", "/other", "3"]).output == "OK\n")
            #expect(try await etcdctl(endpoint, ["get", "--prefix", "/app/"]).output == "/app/a\n1\n/app/b\n2\n")
            let limited = try await etcdctl(endpoint, ["get", "--prefix", "/app/", "--limit=1", "-w", "json"]).output
            let page = try #require(
                try JSONSerialization.jsonObject(with: Data(limited.utf8)) as? [String: Any], "\(limited)")
            #expect(page["count"] as? Int == 2 && page["more"] as? Bool == true && (page["kvs"] as? [Any])?.count == 1)
            let script = "value(\"/app/a\") = \"1\"\n\nput /app/a 10\n\nput /app/a never\n\n"
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("txn-\(UUID().uuidString)").path
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let done = try await runToolAsync(
                "/bin/sh",
                ["-c", "ETCDCTL_API=3 '\(Self.etcdctl ?? "etcdctl")' --endpoints=\(endpoint) txn < '\(path)'"])
            #expect(done.output.hasPrefix("SUCCESS"), "\(done.output)")
            #expect(try await etcdctl(endpoint, ["get", "/app/a", "--print-value-only"]).output == "10\n")

            #expect(try await etcdctl(endpoint, ["del", "--prev-kv", "/app/b"]).output == "1\n/app/b\n2\n")
            // History from revision 2 replays every event of /app/ in order, then the watch
            // stays open until the timeout ends it.
            let watch = try await runToolAsync(
                "/usr/bin/timeout",
                ["3", Self.etcdctl!, "--endpoints=\(endpoint)", "watch", "--prefix", "/app/", "--rev=2"],
                environment: ["ETCDCTL_API": "3"])
            #expect(
                watch.output == "PUT\n/app/a\n1\nPUT\n/app/b\n2\nPUT\n/app/a\n10\nDELETE\n/app/b\n\n", "\(watch.output)"
            )

            let revision = server.store.revision
            #expect(
                try await etcdctl(endpoint, ["compaction", "\(revision)"]).output == "compacted revision \(revision)\n")
            let old = try await etcdctl(endpoint, ["get", "/app/a", "--rev=2"])
            #expect(old.status != 0)
            #expect(old.output.contains("etcdserver: mvcc: required revision has been compacted"))

            let status = try await etcdctl(endpoint, ["endpoint", "status", "-w", "json"]).output
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [[String: Any]])
            let reported = try #require(json.first?["Status"] as? [String: Any])
            #expect(reported["version"] as? String == KeyValueStore.etcdVersion)
            #expect((reported["dbSize"] as? Int ?? 0) > 0)
            #expect(try await etcdctl(endpoint, ["member", "list"]).output.contains("k8senv, http://\(endpoint)"))
        }
    }

    @Test(
        "etcdctl: lease grant, keys attached, keep-alive answers with the TTL; a lease that runs out takes its keys; revoke deletes them"
    )
    func etcdctlLeases() async throws {
        try await withServer { _, endpoint in
            func grant(_ ttl: Int) async throws -> String {
                let granted = try await etcdctl(endpoint, ["lease", "grant", "\(ttl)"]).output
                return try #require(granted.split(separator: " ").dropFirst().first.map(String.init), "\(granted)")
            }
            let long = try await grant(600)
            #expect(try await etcdctl(endpoint, ["put", "--lease=\(long)", "/events/a", "e"]).output == "OK\n")
            let ttl = try await etcdctl(endpoint, ["lease", "timetolive", long, "--keys"]).output
            #expect(ttl.contains("granted with TTL(600s)") && ttl.contains("attached keys([/events/a])"), "\(ttl)")
            let kept = try await etcdctl(endpoint, ["lease", "keep-alive", "--once", long]).output
            #expect(kept.contains("keepalived with TTL(600)"), "\(kept)")

            // A lease of 2 s (etcd's minimum here) with no keep-alive: its key goes.
            let short = try await grant(2)
            #expect(try await etcdctl(endpoint, ["put", "--lease=\(short)", "/events/b", "e"]).output == "OK\n")
            var gone = false
            for _ in 0..<100 where !gone {
                try await Task.sleep(for: .milliseconds(200))
                gone = try await etcdctl(endpoint, ["get", "/events/b"]).output.isEmpty
            }
            #expect(gone)
            #expect(try await etcdctl(endpoint, ["get", "/events/a", "--print-value-only"]).output == "e\n")

            #expect(try await etcdctl(endpoint, ["lease", "revoke", long]).output.contains("revoked"))
            #expect(try await etcdctl(endpoint, ["get", "/events/a"]).output.isEmpty)
            #expect(try await etcdctl(endpoint, ["lease", "list"]).output.contains("found 0 leases"))
            let missing = try await etcdctl(endpoint, ["lease", "revoke", long])
            #expect(missing.output.contains("etcdserver: requested lease not found"))
        }
    }

    @Test("Python's etcd3 client: put, get_prefix, transaction, watch, lease, status")
    func pythonEtcd3() async throws {
        guard (try? await runToolAsync(Self.python, ["-c", "import etcd3"]))?.status == 0 else {
            Issue.record("\(Self.python) cannot import etcd3: scripts/setup.sh installs Debian's python3-etcd3")
            return
        }
        try await withServer { _, endpoint in
            let port = endpoint.split(separator: ":").last!
            let script = """
                import etcd3, threading
                c = etcd3.client(host="127.0.0.1", port=\(port))
                c.put("/py/a", "1"); c.put("/py/b", "2")
                print("prefix", sorted((m.key.decode(), v.decode()) for v, m in c.get_prefix("/py/")))
                events, cancel = c.watch_prefix("/py/")
                ok, _ = c.transaction(compare=[c.transactions.value("/py/a") == "1"],
                                      success=[c.transactions.put("/py/a", "11")], failure=[])
                print("txn", ok)
                ok, _ = c.transaction(compare=[c.transactions.value("/py/a") == "1"],
                                      success=[c.transactions.put("/py/a", "never")], failure=[])
                print("txn", ok)
                c.delete("/py/b")
                seen = []
                for e in events:
                    seen.append((type(e).__name__, e.key.decode(), e.value.decode()))
                    if len(seen) == 2: break
                cancel()
                print("watch", seen)
                lease = c.lease(30)
                c.put("/py/leased", "x", lease=lease)
                print("lease", lease.granted_ttl, [k.decode() for k in lease.keys])
                lease.revoke()
                print("after revoke", c.get("/py/leased")[0])
                print("status", c.status().version)
                """
            let run = try await runToolAsync(Self.python, ["-c", script])
            #expect(run.status == 0, "\(run.output)")
            #expect(
                run.output == """
                    prefix [('/py/a', '1'), ('/py/b', '2')]
                    txn True
                    txn False
                    watch [('PutEvent', '/py/a', '11'), ('DeleteEvent', '/py/b', '')]
                    lease 30 ['/py/leased']
                    after revoke None
                    status \(KeyValueStore.etcdVersion)

                    """)
        }
    }

    @Test("k8senv-kine takes kine's command line, serves etcdctl, stops cleanly on SIGTERM and keeps its data")
    func kineExecutable() async throws {
        let t = try TemporaryStore()
        let binary = PackageLocations.builtProduct("k8senv-kine")
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build it: swift build --product k8senv-kine")
        let port = try freePort()
        let database = t.folder + "/kine/state.db"
        let arguments = [
            "--endpoint=sqlite://\(database)?_journal=WAL&cache=shared", "--listen-address=127.0.0.1:\(port)",
            "--metrics-bind-address=127.0.0.1:0",
        ]
        for round in 1...2 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            var answered = false
            for _ in 0..<100 where !answered {
                answered = (try? await etcdctl("127.0.0.1:\(port)", ["endpoint", "health"]))?.status == 0
                if !answered { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(answered)
            if round == 1 {
                #expect(try await etcdctl("127.0.0.1:\(port)", ["put", "/kept", "across restarts"]).output == "OK\n")
            } else {
                #expect(
                    try await etcdctl("127.0.0.1:\(port)", ["get", "/kept", "--print-value-only"]).output
                        == "across restarts\n")
            }
            process.terminate()
            let exited = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
                Thread {
                    process.waitUntilExit()
                    continuation.resume(returning: process.terminationStatus)
                }.start()
            }
            #expect(exited == 0)
        }
    }
}

/// A TCP port nobody listens on now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}
