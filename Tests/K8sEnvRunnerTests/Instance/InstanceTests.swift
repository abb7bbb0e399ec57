import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Synchronization
import Testing

@Suite(
    "Instances on the real kube-apiserver and the storage under test", .tags(.integration), .serialized,
    .timeLimit(Integration.timeLimit), .integrationSlot)
struct InstanceTests {
    func configuration(
        _ dir: TemporaryDirectory, binaries: ResolvedBinaries, startTimeout: Duration = .seconds(60),
        extraArgs: [String] = []
    ) -> InstanceConfiguration {
        InstanceConfiguration(
            name: "test-0", directory: dir.path + "/test-0", binaries: binaries,
            extraArgs: extraArgs, startTimeout: startTimeout, stopTimeout: .seconds(10))
    }

    @Test(
        "an instance serves kubectl and our client, with secrets 0600, kube-apiserver on 127.0.0.1 only and its store on a Unix socket only it can reach; stop leaves nothing"
    )
    func upUseDown() async throws {
        let binaries = try await TestBinaries.resolved()
        let dir = try TemporaryDirectory()
        let (instance, _) = try await Instance.start(configuration(dir, binaries: binaries))
        let apiPID = instance.apiServerProcess.pid
        let storagePID = instance.store.pid
        #expect(instance.store.url.hasPrefix("unix:///"), "\(instance.store.url)")
        let socket = String(instance.store.url.dropFirst("unix://".count))

        // Our client: server-side apply, then a read.
        let object =
            #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"from-swift","namespace":"default"},"data":{"k":"v"}}"#
        _ = try await instance.client.apply(
            "/api/v1/namespaces/default/configmaps/from-swift", object: Array(object.utf8))
        let read = try await instance.client.get("/api/v1/namespaces/default/configmaps/from-swift")
        #expect((read.json?["data"] as? [String: String])?["k"] == "v")

        // kubectl, an independent client, through the kubeconfig (CA data, no insecure skip).
        let kubectl = try #require(TestBinaries.kubectl, "kubectl is needed")
        let fetched = try runTool(
            kubectl,
            [
                "--kubeconfig", instance.kubeconfigPath, "--cache-dir", dir.path + "/kubectl-cache", "get", "configmap",
                "from-swift", "-o", "jsonpath={.data.k}",
            ])
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(fetched.output == "v")
        let create = try runTool(
            kubectl,
            [
                "--kubeconfig", instance.kubeconfigPath, "--cache-dir", dir.path + "/kubectl-cache", "create",
                "namespace", "from-kubectl",
            ])
        #expect(create.status == 0, "\(create.output)")
        #expect(try await instance.client.get("/api/v1/namespaces/from-kubectl").status == 200)
        let kubeconfig = try String(contentsOfFile: instance.kubeconfigPath, encoding: .utf8)
        #expect(kubeconfig.contains("certificate-authority-data:"))
        #expect(!kubeconfig.contains("insecure-skip-tls-verify"))

        // Secrets are 0600 in 0700 folders.
        for file in ["kubeconfig", "token", "pki/serving.key", "pki/service-account.key", "pki/tokens.csv"] {
            let mode =
                try FileManager.default.attributesOfItem(atPath: dir.path + "/test-0/" + file)[.posixPermissions]
                as? Int
            #expect(mode == 0o600, "\(file)")
        }
        for folder in ["", "/pki"] {
            let mode =
                try FileManager.default.attributesOfItem(atPath: dir.path + "/test-0" + folder)[.posixPermissions]
                as? Int
            #expect(mode == 0o700, "test-0\(folder)")
        }

        // kube-apiserver listens on 127.0.0.1 only; the store process (kine's metrics aside) on no
        // TCP port at all, and its socket's folder is 0700.
        #expect(!listeningAddresses(of: apiPID).isEmpty)
        #expect(
            listeningAddresses(of: apiPID).allSatisfy { $0.hasPrefix("127.0.0.1:") },
            "\(listeningAddresses(of: apiPID))")
        if instance.store.process != nil {
            let addresses = listeningAddresses(of: storagePID)
            #expect(addresses.allSatisfy { $0.hasPrefix("127.0.0.1:") }, "\(addresses)")
        }
        let folderMode =
            try FileManager.default.attributesOfItem(atPath: (socket as NSString).deletingLastPathComponent)[
                .posixPermissions] as? Int
        #expect(folderMode == 0o700)

        // Another local user cannot reach the store; we, its owner, can (etcdctl, an independent
        // client of the etcd API).
        let etcdctl = try #require(TestBinaries.find("K8SENV_ETCDCTL", "etcdctl"), "etcdctl is needed")
        let get = [
            "--endpoints=unix://\(socket)", "--dial-timeout=3s", "--command-timeout=5s", "get",
            "/registry/namespaces/default", "--keys-only",
        ]
        let owner = try await runToolAsync(etcdctl, get, environment: ["ETCDCTL_API": "3"])
        #expect(owner.status == 0 && owner.output.contains("/registry/namespaces/default"), "\(owner.output)")
        for command in [
            get,
            [
                "--endpoints=unix://\(socket)", "--dial-timeout=3s", "--command-timeout=5s", "put",
                "/registry/intruder", "x",
            ],
        ] {
            let other = try await runToolAsync(
                "/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", etcdctl] + command,
                environment: ["ETCDCTL_API": "3"])
            #expect(other.status != 0, "as nobody: \(command[3]) \(other.output)")
            #expect(!other.output.contains("/registry/namespaces/default"), "\(other.output)")
        }
        // The put did not land.
        let intruder = try await runToolAsync(
            etcdctl, ["--endpoints=unix://\(socket)", "get", "/registry/intruder"], environment: ["ETCDCTL_API": "3"])
        #expect(intruder.status == 0 && !intruder.output.contains("intruder"), "\(intruder.output)")
        #expect(try await instance.client.get("/api/v1/namespaces/default").status == 200)

        await instance.stop()
        #expect(!isRunning(apiPID))
        if instance.store.process != nil { #expect(!isRunning(storagePID)) }
        #expect(!Ports.accepts(unixSocket: socket), "the store stopped serving")
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

    @Test(
        "a port the configuration pins (--secure-port in apiServer.extraArgs) that is taken is reported at once with the log tail, not retried"
    )
    func pinnedPortTaken() async throws {
        let binaries = try await TestBinaries.resolved()
        let dir = try TemporaryDirectory()
        let holder = try ListeningSocket()
        let config = configuration(dir, binaries: binaries, extraArgs: ["--secure-port=\(holder.port)"])
        await #expect {
            try await Instance.start(config)
        } throws: { error in
            // kube-apiserver's own bind failure (not a store's: a store left behind by a try
            // must not block the next one).
            let e = error as! ProcessError
            return e.code == .exited && e.description.contains("127.0.0.1:\(holder.port): bind: address already in use")
        }
        // One start: the port k8senv chose was free, so another would fail the same way.
        let log = try String(contentsOfFile: config.layout.apiServerLog, encoding: .utf8)
        #expect(log.components(separatedBy: "bind: address already in use").count - 1 == 1, "\(log)")
        #expect(try runningProcesses(mentioning: dir.path).isEmpty)
    }

    @Test("a port k8senv chose that another process took before kube-apiserver bound it is retried with a new one")
    func chosenPortTaken() async throws {
        let binaries = try await TestBinaries.resolved()
        let dir = try TemporaryDirectory()
        let holder = try ListeningSocket()
        let taken = holder.port
        let handedOut = Mutex(0)
        let (instance, _) = try await Instance.start(configuration(dir, binaries: binaries)) {
            () throws(ProcessError) -> Int in
            // The taken port first, as if another process had bound it after our choice.
            if handedOut.withLock({
                $0 += 1
                return $0
            }) == 1 {
                return taken
            }
            return try Ports.free()
        }
        let status = try? await instance.client.send("GET", "/api/v1/namespaces/default").status
        await instance.stop()
        #expect(instance.port != holder.port)
        #expect(handedOut.withLock { $0 } == 2)
        #expect(status == 200)
        #expect(try runningProcesses(mentioning: dir.path).isEmpty)
    }
}
