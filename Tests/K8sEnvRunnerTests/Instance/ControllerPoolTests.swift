import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite("Controllers: --help parsed, names checked", .tags(.fast))
struct ControllerNamesTests {
    static let help = """
        Controller flags:

              --concurrent-deployment-syncs int32        The number of deployment objects that are allowed to sync concurrently. (default 5)
              --controllers strings                      A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' enables the controller named 'foo', '-foo' disables the controller named 'foo'.
                                                         All controllers: attachdetach, bootstrapsigner, cloud-node-lifecycle, clusterrole-aggregation, cronjob, deployment, garbagecollector, namespace, podgc, serviceaccount
                                                         Disabled-by-default controllers: bootstrapsigner, tokencleaner (default [*])
              --external-cloud-volume-plugin string      The plugin to use when cloud provider is set to external.
        """

    @Test("the names of --controllers' \"All controllers:\" line, in order; none without the flag")
    func parse() {
        #expect(ControllerNames.parse(help: Self.help) == ["attachdetach", "bootstrapsigner", "cloud-node-lifecycle", "clusterrole-aggregation",
                                                           "cronjob", "deployment", "garbagecollector", "namespace", "podgc", "serviceaccount"])
        #expect(ControllerNames.parse(help: "Usage:\n      --v Level   number for the log level verbosity\n").isEmpty)
    }

    @Test("a name the binary lacks is an error at the name with the closest one; default is the documented set the binary has; an extending environment inherits, [] turns them off")
    func resolve() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("k8senv.yaml", """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            environments:
              base:
                controllers: [namespace, garbagecolector]
              child: {extends: base}
              quiet: {extends: base, controllers: []}
              all: {controllers: default}

            """)
        let config = try ConfigLoader(variables: [:]).load(file)
        let available = ControllerNames.parse(help: Self.help)
        let (controllers, errors) = ControllerNames.resolve(config, available: available, version: KubeVersion(major: 1, minor: 20, patch: 2))
        #expect(errors.map(\.description) == [
            "\(file):5:30: error: controllers: kube-controller-manager v1.20.2 has no controller \"garbagecolector\"; did you mean \"garbagecollector\"?",
        ], "said once, where it was written, though two environments use it")
        #expect(controllers["base"] == ["namespace", "garbagecolector"] && controllers["child"] == controllers["base"])
        #expect(controllers["quiet"] == nil)
        #expect(controllers["all"] == ["namespace", "garbagecollector", "serviceaccount", "clusterrole-aggregation", "deployment", "cronjob"])
        #expect(config.usesControllers)
    }

    @Test("the schema: controllers is default or a list of distinct lowercase names, each error at its place")
    func schema() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("k8senv.yaml", """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            environments:
              a: {controllers: all}
              b: {controllers: [Namespace, namespace, namespace]}

            """)
        do throws(Diagnostics) {
            _ = try ConfigLoader(variables: [:]).load(file)
            Issue.record("invalid controllers were accepted")
        } catch {
            #expect(error.items.map(\.description) == [
                "\(file):4:20: error: environments.a.controllers: must be \"default\", not \"all\"",
                "\(file):5:21: error: environments.b.controllers[0]: \"Namespace\" is not a controller name such as namespace or garbagecollector",
                "\(file):5:43: error: environments.b.controllers[2]: \"namespace\" is listed more than once",
            ])
        }
        let plain = try dir.write("plain.yaml", "apiVersion: k8senv.dev/v1alpha1\nkind: Config\nenvironments: {a: {}, b: {controllers: []}}\n")
        #expect(!(try ConfigLoader(variables: [:]).load(plain)).usesControllers, "no environment, or an empty list, runs none")
    }
}

@Suite("Controllers: the command line, the run record", .tags(.fast))
struct ControllerManagerRecordTests {
    @Test("the command line: only the named controllers, 127.0.0.1, no leader election, the instance's files; --port=0 up to 1.23 only")
    func arguments() {
        let layout = ControllerManagerLayout(port: 40123, kubeconfig: "/i/controller-manager.kubeconfig", servingCertificate: "/i/pki/serving.crt",
                                             servingKey: "/i/pki/serving.key", serviceAccountKey: "/i/pki/service-account.key", rootCA: "/i/pki/ca.crt")
        let v120 = ControllerManagerArguments.make(version: KubeVersion(major: 1, minor: 20, patch: 2), layout: layout,
                                                   controllers: ["namespace", "garbagecollector"])
        #expect(v120 == [
            "--kubeconfig=/i/controller-manager.kubeconfig", "--controllers=namespace,garbagecollector", "--leader-elect=false",
            "--bind-address=127.0.0.1", "--secure-port=40123", "--tls-cert-file=/i/pki/serving.crt", "--tls-private-key-file=/i/pki/serving.key",
            "--use-service-account-credentials=false", "--service-account-private-key-file=/i/pki/service-account.key",
            "--root-ca-file=/i/pki/ca.crt", "--profiling=false", "--port=0",
        ])
        let v124 = ControllerManagerArguments.make(version: KubeVersion(major: 1, minor: 24), layout: layout, controllers: ["namespace"])
        #expect(!v124.contains { $0.hasPrefix("--port=") } && v124.contains("--secure-port=40123"))
    }

    @Test("a crashed run's record names its kube-controller-manager: the next cleanup kills it (pid, binary and start time all match)")
    func staleRunCleanupKillsIt() throws {
        let dir = try TemporaryDirectory()
        let state = StateFolder(path: dir.path + "/.k8senv")
        let run = try state.makeRunDirectory()
        // A process that stands in for the recorded kube-controller-manager: what cleanup proves
        // is the record's pid, binary and start time, whatever the program.
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["120"]
        try sleeper.run()
        defer { if sleeper.isRunning { sleeper.terminate() } }
        let pid = sleeper.processIdentifier
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        let start = try #require(Ownership.startTime(of: pid))
        let record = """
            {"version": 1, "ownerPID": 0, "config": "\(dir.path)/k8senv.yaml", "detached": false, "runDirectory": "\(run)",
             "startedAt": "2026-12-01T00:00:00Z",
             "instances": [{"name": "one-0", "environment": "one", "server": "https://127.0.0.1:1", "kubeconfig": "\(run)/one-0/kubeconfig",
                            "apiServerPID": 0, "storagePID": 0, "apiServerBinary": "/nonexistent", "storageBinary": "/nonexistent", "logs": [],
                            "controllerManagerPID": \(pid), "controllerManagerBinary": "\(binary)", "controllerManagerStartTime": \(start)}]}
            """
        try PrivateFiles.write(record, to: run + "/run.json")
        let cleanup = state.cleanStaleRuns()
        #expect(cleanup.cleaned == [run], "\(cleanup)")
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal && sleeper.terminationStatus == SIGKILL)
    }
}

@Suite("Controllers: kube-controller-manager beside pooled instances", .tags(.integration), .serialized, .timeLimit(Integration.timeLimit), .integrationSlot,
       .enabled(if: ControllerManagerBinary.testsRun, "no kube-controller-manager (K8SENV_KUBE_CONTROLLER_MANAGER) and K8SENV_REQUIRE_BINARIES is not 1"))
struct ControllerPoolTests {
    @Test("kubectl delete ns completes and an owned ConfigMap is collected; after a release by reset, the same again on the reused instance, with the same kube-controller-manager")
    func worksAcrossReleases() async throws {
        _ = try await TestBinaries.resolved()
        _ = try ControllerManagerBinary.require()
        let kubectl = try #require(TestBinaries.kubectl, "kubectl not found")
        let dir = try TemporaryDirectory()
        let config = try dir.write("k8senv.yaml", """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            binaries:
              kubeAPIServer: ${K8SENV_KUBE_APISERVER:-kube-apiserver}
              etcd: ${K8SENV_ETCD:-etcd}
              kine: ${K8SENV_KINE:-kine}
              \(ControllerManagerBinary.configLine)
            storage: ${K8SENV_STORAGE:-embedded}
            environments:
              ctl:
                controllers: [namespace, garbagecollector]

            """)
        let configuration = try K8sEnvConfiguration.load(config)
        let pool = try configuration.pool(for: "ctl", options: PoolOptions(size: 1, cacheDirectory: dir.path + "/cache", workDirectory: dir.path + "/work"))
        /// The kubectl steps, on the lease's kubeconfig, with kubectl's own discovery cache.
        func use(_ lease: PooledInstance) async throws -> (status: Int32, output: String) {
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] = (kubectl as NSString).deletingLastPathComponent + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            environment["KUBECACHEDIR"] = dir.path + "/kubectl-cache"
            return try await runToolAsync("/bin/sh", ["-c", ControllerManagerBinary.kubectlScript(kubeconfig: lease.kubeconfigPath)],
                                          environment: environment)
        }
        do {
            let lease = try await pool.acquire()
            let folder = lease.directory
            let running = ControllerManagerBinary.processes(mentioning: folder + "/")
            #expect(running.count == 1, "\(running)")
            let first = try await use(lease)
            #expect(first.status == 0 && first.output == "deleted\ncollected\n", "\(first)")
            let id = lease.id
            try await lease.release(.reset)

            let again = try await pool.acquire()
            #expect(again.id == id, "the pool lends the instance it got back")
            #expect(ControllerManagerBinary.processes(mentioning: folder + "/") == running, "the same kube-controller-manager")
            let second = try await use(again)
            #expect(second.status == 0 && second.output == "deleted\ncollected\n", "\(second)")
            try await again.release()
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
        #expect(ControllerManagerBinary.processes(mentioning: dir.path).isEmpty)
    }
}
