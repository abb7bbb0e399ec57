import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite("Controllers: the command line, the run record", .tags(.fast))
struct ControllerManagerRecordTests {
    @Test(
        "the command line: only the named controllers, 127.0.0.1, no leader election, the instance's files; --port=0 up to 1.23 only"
    )
    func arguments() {
        let layout = ControllerManagerLayout(
            port: 40123, kubeconfig: "/i/controller-manager.kubeconfig", servingCertificate: "/i/pki/serving.crt",
            servingKey: "/i/pki/serving.key", serviceAccountKey: "/i/pki/service-account.key", rootCA: "/i/pki/ca.crt")
        let v120 = ControllerManagerArguments.make(
            version: KubeVersion(major: 1, minor: 20, patch: 2), layout: layout,
            controllers: ["namespace", "garbagecollector"])
        #expect(
            v120 == [
                "--kubeconfig=/i/controller-manager.kubeconfig", "--controllers=namespace,garbagecollector",
                "--leader-elect=false",
                "--bind-address=127.0.0.1", "--secure-port=40123", "--tls-cert-file=/i/pki/serving.crt",
                "--tls-private-key-file=/i/pki/serving.key",
                "--use-service-account-credentials=false",
                "--service-account-private-key-file=/i/pki/service-account.key",
                "--root-ca-file=/i/pki/ca.crt", "--profiling=false", "--port=0",
            ])
        let v124 = ControllerManagerArguments.make(
            version: KubeVersion(major: 1, minor: 24), layout: layout, controllers: ["namespace"])
        #expect(!v124.contains { $0.hasPrefix("--port=") } && v124.contains("--secure-port=40123"))
    }

    @Test(
        "a crashed run's record names its kube-controller-manager: the next cleanup kills it (pid, binary and start time all match)"
    )
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
