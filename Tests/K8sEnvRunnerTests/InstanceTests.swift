import Foundation
import K8sEnvTestSupport
import K8sEnvRunner
import K8sEnvSpec
import Testing

@Suite("Instances on the real kube-apiserver and the storage under test", .tags(.integration), .serialized, .timeLimit(.minutes(3)))
struct InstanceTests {
    func configuration(_ dir: TemporaryDirectory, binaries: ResolvedBinaries, startTimeout: Duration = .seconds(60),
                       extraArgs: [String] = []) -> InstanceConfiguration {
        InstanceConfiguration(name: "test-0", directory: dir.path + "/test-0", binaries: binaries,
                              extraArgs: extraArgs, startTimeout: startTimeout, stopTimeout: .seconds(10))
    }

    @Test("an instance serves kubectl and our client, with secrets 0600 and listeners on 127.0.0.1 only; stop leaves nothing")
    func upUseDown() async throws {
        let binaries = try await TestBinaries.resolved()
        let dir = try TemporaryDirectory()
        let (instance, _) = try await Instance.start(configuration(dir, binaries: binaries))
        let apiPID = instance.apiServerProcess.pid, storagePID = instance.store.pid
        let storagePort = try #require(instance.store.url.split(separator: ":").last.flatMap { Int($0) })

        // Our client: server-side apply, then a read.
        let object = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"from-swift","namespace":"default"},"data":{"k":"v"}}"#
        _ = try await instance.client.apply("/api/v1/namespaces/default/configmaps/from-swift", object: Array(object.utf8))
        let read = try await instance.client.get("/api/v1/namespaces/default/configmaps/from-swift")
        #expect((read.json?["data"] as? [String: String])?["k"] == "v")

        // kubectl, an independent client, through the kubeconfig (CA data, no insecure skip).
        let kubectl = try #require(TestBinaries.kubectl, "kubectl is needed")
        let fetched = try runTool(kubectl, ["--kubeconfig", instance.kubeconfigPath, "--cache-dir", dir.path + "/kubectl-cache", "get", "configmap", "from-swift", "-o", "jsonpath={.data.k}"])
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(fetched.output == "v")
        let create = try runTool(kubectl, ["--kubeconfig", instance.kubeconfigPath, "--cache-dir", dir.path + "/kubectl-cache", "create", "namespace", "from-kubectl"])
        #expect(create.status == 0, "\(create.output)")
        #expect(try await instance.client.get("/api/v1/namespaces/from-kubectl").status == 200)
        let kubeconfig = try String(contentsOfFile: instance.kubeconfigPath, encoding: .utf8)
        #expect(kubeconfig.contains("certificate-authority-data:"))
        #expect(!kubeconfig.contains("insecure-skip-tls-verify"))

        // Secrets are 0600 in 0700 folders.
        for file in ["kubeconfig", "token", "pki/serving.key", "pki/service-account.key", "pki/tokens.csv"] {
            let mode = try FileManager.default.attributesOfItem(atPath: dir.path + "/test-0/" + file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }
        for folder in ["", "/pki"] {
            let mode = try FileManager.default.attributesOfItem(atPath: dir.path + "/test-0" + folder)[.posixPermissions] as? Int
            #expect(mode == 0o700, "test-0\(folder)")
        }

        // Every listener of both processes (for the embedded store: this one) is on 127.0.0.1.
        for pid in [apiPID, storagePID] {
            let addresses = listeningAddresses(of: pid)
            #expect(!addresses.isEmpty)
            #expect(addresses.allSatisfy { $0.hasPrefix("127.0.0.1:") }, "\(addresses)")
        }

        await instance.stop()
        #expect(!isRunning(apiPID))
        if instance.store.process != nil {
            #expect(!isRunning(storagePID))
        } else {
            // This process no longer listens on the store's port (another process may have
            // been given the port since: the kernel reuses them).
            let ours = listeningAddresses(of: getpid())
            #expect(!ours.contains("127.0.0.1:\(storagePort)"), "the embedded store stopped serving: \(ours)")
        }
    }

    @Test("a kube-apiserver that exits at once is reported with its log tail, and storage is stopped")
    func apiServerExits() async throws {
        var binaries = try await TestBinaries.resolved()
        let dir = try TemporaryDirectory()
        try dir.write("fake-apiserver", "#!/bin/sh\necho 'E0101 cannot start: no such flag' >&2\nexit 3\n")
        chmod(dir.path + "/fake-apiserver", 0o755)
        binaries.kubeAPIServer = dir.path + "/fake-apiserver"
        await #expect {
            try await Instance.start(configuration(dir, binaries: binaries))
        } throws: { error in
            let e = error as! ProcessError
            return e.code == .exited && e.description.contains("exited with status 3")
                && e.description.contains("cannot start: no such flag") && e.description.contains("fake-apiserver")
        }
        #expect(try runningProcesses(mentioning: dir.path).isEmpty)
    }

    @Test("a start past timeouts.start fails with the log tail and leaves nothing running")
    func startTimeout() async throws {
        let binaries = try await TestBinaries.resolved()
        let dir = try TemporaryDirectory()
        await #expect {
            try await Instance.start(configuration(dir, binaries: binaries, startTimeout: .milliseconds(800)))
        } throws: { error in
            let e = error as! ProcessError
            return e.code == .timeout && e.description.contains("timeouts.start")
        }
        #expect(try runningProcesses(mentioning: dir.path).isEmpty)
    }

    @Test("a port already taken is retried, and after three tries reported with the log tail")
    func portTaken() async throws {
        let binaries = try await TestBinaries.resolved()
        let dir = try TemporaryDirectory()
        let holder = try ListeningSocket()
        await #expect {
            try await Instance.start(configuration(dir, binaries: binaries, extraArgs: ["--secure-port=\(holder.port)"]))
        } throws: { error in
            (error as! ProcessError).description.contains("address already in use")
        }
        #expect(try runningProcesses(mentioning: dir.path).isEmpty)
    }
}

@Suite("kine storage (a kine-shaped executable)", .tags(.fast), .timeLimit(.minutes(1)))
struct KineTests {
    /// A stand-in that records its arguments and listens where --listen-address says: it checks
    /// our command line and readiness handling; the real kine is used where its binary exists.
    static let fakeKine = """
        #!/usr/bin/env python3
        import socket, sys, time
        open(sys.argv[0] + ".args", "w").write("\\n".join(sys.argv[1:]))
        if "--exit" in open(sys.argv[0]).read().split("#MODE:")[-1]:
            print("level=fatal msg=\\"cannot open database\\"", file=sys.stderr); sys.exit(1)
        address = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--listen-address=")][0]
        host, port = address.rsplit(":", 1)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port))); s.listen(1)
        time.sleep(60)
        #MODE:
        """

    func configuration(_ dir: TemporaryDirectory, mode: String) throws -> InstanceConfiguration {
        try dir.write("kine", Self.fakeKine + mode + "\n")
        chmod(dir.path + "/kine", 0o755)
        let binaries = ResolvedBinaries(kubeAPIServer: "/bin/false", kubeAPIServerVersion: KubeVersion(major: 1, minor: 20),
                                        storage: KineBackend(program: dir.path + "/kine"))
        try FileManager.default.createDirectory(atPath: dir.path + "/i/logs", withIntermediateDirectories: true)
        return InstanceConfiguration(name: "k-0", directory: dir.path + "/i", binaries: binaries,
                                     extraArgs: [], startTimeout: .seconds(20), stopTimeout: .seconds(2))
    }

    @Test("kine gets a SQLite endpoint in the instance's folder and 127.0.0.1 listeners, and is ready when its port answers")
    func commandLineAndReadiness() async throws {
        let dir = try TemporaryDirectory()
        let config = try configuration(dir, mode: "--listen")
        let store = try await Instance.startStorage(config, deadline: ContinuousClock.now + .seconds(20))
        let process = try #require(store.process), url = store.url
        let args = try String(contentsOfFile: dir.path + "/kine.args", encoding: .utf8).split(separator: "\n").map(String.init)
        let port = try #require(url.split(separator: ":").last.flatMap { Int($0) })
        #expect(url == "http://127.0.0.1:\(port)")
        #expect(args.count == 3)
        #expect(args[0] == "--endpoint=sqlite://\(dir.path)/i/kine/state.db?_journal=WAL&cache=shared")
        #expect(args[1] == "--listen-address=127.0.0.1:\(port)")
        #expect(args[2].hasPrefix("--metrics-bind-address=127.0.0.1:"))
        #expect(Ports.isOpen(port))
        await process.stop(grace: .seconds(2))
        #expect(!isRunning(process.pid))
    }

    @Test("a kine that exits before it is ready is reported with its log tail")
    func exitsEarly() async throws {
        let dir = try TemporaryDirectory()
        let config = try configuration(dir, mode: "--exit")
        await #expect {
            try await Instance.startStorage(config, deadline: ContinuousClock.now + .seconds(20))
        } throws: { error in
            let e = error as! ProcessError
            return e.code == .exited && e.description.contains("kine exited with status 1") && e.description.contains("cannot open database")
        }
    }
}

/// A socket listening on 127.0.0.1, held open until deinit.
final class ListeningSocket {
    let fd: Int32
    let port: Int

    init() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socketFD, 1) == 0 else {
            close(socketFD)
            throw CancellationError()
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        fd = socketFD
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// Live processes whose command line mentions `text`.
func runningProcesses(mentioning text: String) throws -> [Int32] {
    try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { Int32($0) }.filter { pid in
        guard pid != getpid(), isRunning(pid),
              let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }
}
