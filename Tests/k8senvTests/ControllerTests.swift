import Foundation
import K8sEnvTestSupport
import Testing

/// `controllers:` end to end: kube-controller-manager beside each instance of `up`, seen
/// through kubectl, supervised like kube-apiserver, and nothing of it without the key.
@Suite(
    "Controllers (real kube-apiserver and kube-controller-manager)", .tags(.integration),
    .timeLimit(Workspace.integrationLimit),
    .enabled(
        if: ControllerManagerBinary.testsRun,
        "no kube-controller-manager (K8SENV_KUBE_CONTROLLER_MANAGER) and K8SENV_REQUIRE_BINARIES is not 1"))
struct ControllerTests {
    /// One environment of one instance, running the namespace and garbage-collector controllers.
    static func config(_ controllers: String = "[namespace, garbagecollector]") -> String {
        Workspace.smallConfig()
            .replacingOccurrences(
                of: "  kine: ${K8SENV_KINE:-kine}",
                with: "  kine: ${K8SENV_KINE:-kine}\n  \(ControllerManagerBinary.configLine)"
            )
            .replacingOccurrences(of: "pool: {size: 1}", with: "pool: {size: 1}\n    controllers: \(controllers)")
    }

    @Test(
        "with controllers: [namespace, garbagecollector], kubectl delete ns completes and an owned ConfigMap is collected; the run record names kube-controller-manager, bound to 127.0.0.1 only; killing it ends up with its log tail; nothing left"
    )
    func namespaceAndGarbageCollection() async throws {
        _ = try RealBinaries.require()
        _ = try ControllerManagerBinary.require()
        try await Workspace.with(config: Self.config(), name: "controllers") { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let started = up.stdout + up.stderr
            #expect(
                started.contains("one-0: kube-controller-manager v1.")
                    && started.contains("(namespace, garbagecollector)"), "\(started)")
            let instance = try #require((ws.runRecords().first?["instances"] as? [[String: Any]])?.first)
            let kubeconfig = try #require(instance["kubeconfig"] as? String)
            let used = try await ws.shell(ControllerManagerBinary.kubectlScript(kubeconfig: kubeconfig))
            #expect(used.status == 0 && used.stdout == "deleted\ncollected\n", "\(used)")

            let pid = try #require(instance["controllerManagerPID"] as? Int, "\(instance)")
            #expect(Procfs.isRunning(Int32(pid)))
            #expect(
                (instance["logs"] as? [String] ?? []).contains { $0.hasSuffix("/logs/kube-controller-manager.log") },
                "\(instance)")
            let addresses = Sockets.listeningAddresses(of: Int32(pid))
            #expect(!addresses.isEmpty && addresses.allSatisfy { $0.hasPrefix("127.0.0.1:") }, "\(addresses)")

            kill(Int32(pid), SIGKILL)
            let exit = try await up.wait(timeout: .seconds(60))
            #expect(exit == .exited(1), "\(exit)\n\(up.stdout)\n\(up.stderr)")
            let output = up.stdout + up.stderr
            #expect(output.contains("one-0: kube-controller-manager was killed by signal 9"), "\(output)")
            #expect(output.contains("last lines of the log"), "\(output)")
            #expect(output.contains("logs kept in"), "\(output)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("SIGKILL of up with controllers: kube-apiserver, storage and kube-controller-manager all die")
    func sigkillOfUp() async throws {
        _ = try RealBinaries.require()
        _ = try ControllerManagerBinary.require()
        try await Workspace.with(config: Self.config("default"), name: "controllers-sigkill") { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let instance = try #require((ws.runRecords().first?["instances"] as? [[String: Any]])?.first)
            let controllerManager = try #require(instance["controllerManagerPID"] as? Int, "\(instance)")
            let pids = ws.recordedPIDs() + [Int32(controllerManager)]
            #expect(!ControllerManagerBinary.processes(mentioning: ws.path).isEmpty)

            up.signal(SIGKILL)
            #expect(try await up.wait(timeout: .seconds(10)) == .signaled(SIGKILL))
            let gone = try await eventually(within: .seconds(5)) { !pids.contains(where: Procfs.isRunning) }
            #expect(gone, "still running after SIGKILL of k8senv: \(pids.filter(Procfs.isRunning)) \(ws.leftovers())")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "without controllers: no kube-controller-manager runs and the run record names none (a deleted namespace stays Terminating)"
    )
    func nothingWithoutTheKey() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(
            config: Self.config().replacingOccurrences(
                of: "\n    controllers: [namespace, garbagecollector]", with: ""),
            name: "no-controllers"
        ) { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            #expect(!(up.stdout + up.stderr).contains("kube-controller-manager"), "\(up.stdout)\(up.stderr)")
            let instance = try #require((ws.runRecords().first?["instances"] as? [[String: Any]])?.first)
            #expect(instance["controllerManagerPID"] == nil, "\(instance)")
            #expect(ControllerManagerBinary.processes(mentioning: ws.path).isEmpty)
            let kubeconfig = try #require(instance["kubeconfig"] as? String)
            let phase = try await ws.shell(
                "export KUBECONFIG='\(kubeconfig)'\n" + #"""
                    kubectl create namespace x >/dev/null && kubectl delete namespace x --wait=false >/dev/null \
                      && kubectl get namespace x -o jsonpath='{.status.phase}'
                    """#)
            #expect(phase.stdout == "Terminating", "\(phase)")
            up.signal(SIGTERM)
            _ = try await up.wait(timeout: .seconds(60))
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "validate: a misspelt controller is an error at its name with the real one; with no kube-controller-manager to ask the file is valid with a note at the key"
    )
    func validate() async throws {
        _ = try ControllerManagerBinary.require()
        let text = """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            binaries:
              kubeControllerManager: ${KCM:-kube-controller-manager}
            environments:
              base:
                controllers: [namespace, garbagecolector]

            """
        try await Workspace.with(config: text, apiServers: false) { ws in
            let outcome = try await ws.k8senv(
                "validate", "-f", "k8senv.yaml", environment: ["KCM": ControllerManagerBinary.path])
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stdout.contains(
                    """
                    k8senv.yaml:7:30: error: controllers: kube-controller-manager v1.20.2 has no controller "garbagecolector"; did you mean "garbagecollector"?
                    """), "\(outcome)")
            let missing = try await ws.k8senv(
                "validate", "-f", "k8senv.yaml", environment: ["KCM": "/nonexistent/kube-controller-manager"])
            #expect(missing.status == 0, "\(missing)")
            #expect(
                missing.stdout.contains(
                    "k8senv.yaml:7:18: note: controllers: not checked against kube-controller-manager's controllers:"),
                "\(missing)")
        }
    }
}
