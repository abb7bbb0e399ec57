import Foundation
import K8sEnvSpec
import Synchronization

/// The identity kube-controller-manager authenticates as: a token of the instance's token file.
///
/// The user is the one bootstrap RBAC names (`system:kube-controller-manager`), in
/// `system:masters`: without `--use-service-account-credentials` (whose per-controller service
/// accounts would need the token controller to run first) every controller acts as this one
/// user, and bootstrap RBAC's role for it lets it list and watch, not delete namespaces' objects
/// or garbage.
package enum ControllerManagerIdentity {
    package static let user = UserIdentity(name: "system:kube-controller-manager", groups: ["system:masters"])
}

/// The files and port one kube-controller-manager is started with.
package struct ControllerManagerLayout: Sendable {
    package var port: Int
    package var kubeconfig: String
    package var servingCertificate: String
    package var servingKey: String
    package var serviceAccountKey: String
    package var rootCA: String

    package init(
        port: Int, kubeconfig: String, servingCertificate: String, servingKey: String, serviceAccountKey: String,
        rootCA: String
    ) {
        self.port = port
        self.kubeconfig = kubeconfig
        self.servingCertificate = servingCertificate
        self.servingKey = servingKey
        self.serviceAccountKey = serviceAccountKey
        self.rootCA = rootCA
    }
}

/// kube-controller-manager's command line, chosen by its version. See
/// docs/reference/apiserver-flags.md.
package enum ControllerManagerArguments {
    /// `--port` (the insecure port, 10252 on every interface by default) was removed in 1.24.
    package static let insecurePortRemovedIn = APIServerArguments.insecurePortRemovedIn

    /// Only `controllers` run, serving `/healthz` on 127.0.0.1 with the instance's serving
    /// certificate, without leader election, as the instance's controller-manager user; the
    /// instance's service-account key signs the tokens `serviceaccount-token` makes.
    package static func make(version: KubeVersion, layout: ControllerManagerLayout, controllers: [String]) -> [String] {
        var args = [
            "--kubeconfig=\(layout.kubeconfig)",
            "--controllers=\(controllers.joined(separator: ","))",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=\(layout.port)",
            "--tls-cert-file=\(layout.servingCertificate)",
            "--tls-private-key-file=\(layout.servingKey)",
            "--use-service-account-credentials=false",
            "--service-account-private-key-file=\(layout.serviceAccountKey)",
            "--root-ca-file=\(layout.rootCA)",
            "--profiling=false",
        ]
        if version < insecurePortRemovedIn {
            args.append("--port=0")
        }
        return args
    }
}

extension Instance {
    /// The kube-controller-manager running beside this instance, if it runs one.
    package var controllerManager: ChildProcess? { controllerManagerSlot.withLock { $0 } }

    /// Starts kube-controller-manager with the instance's `controllers` and waits until its
    /// `/healthz` answers 200. Called once kube-apiserver is ready (1.20 gives up on an
    /// apiserver that is not healthy within 10 s), and never for an instance that builds a
    /// snapshot. A port another process took between our choice and its bind is retried with a
    /// new one (3 tries; ``Ports/isTaken(_:)``).
    /// - Throws: ``ProcessError`` with its command line and log tail; nothing of it is left
    ///   running (the instance itself is the caller's to stop).
    package func startControllerManager(deadline: ContinuousClock.Instant) async throws(ProcessError) {
        let configuration = self.configuration
        guard !configuration.controllers.isEmpty, let token = controllerManagerToken else { return }
        guard let binary = configuration.binaries.kubeControllerManager else {
            throw ProcessError(
                .notFound, "\(name): controllers need binaries.kubeControllerManager, which was not resolved")
        }
        let files = configuration.layout
        let kubeconfig = files.controllerManagerKubeconfig
        try PrivateFiles.write(
            Kubeconfig.render(
                name: "k8senv-\(name)", user: "kube-controller-manager", server: server,
                caCertificate: caCertificate, token: token),
            to: kubeconfig)
        var lastError: ProcessError?
        for _ in 0..<3 {
            let port = try Ports.free()
            let layout = ControllerManagerLayout(
                port: port, kubeconfig: kubeconfig, servingCertificate: files.servingCertificate,
                servingKey: files.servingKey, serviceAccountKey: files.serviceAccountKey,
                rootCA: files.caCertificate)
            let arguments = ControllerManagerArguments.make(
                version: binary.version, layout: layout, controllers: configuration.controllers)
            let process = try ChildProcess.launch(
                executable: binary.path, arguments: arguments,
                environment: Self.childEnvironment(), logPath: files.controllerManagerLog)
            controllerManagerSlot.withLock { $0 = process }
            // A stop that began meanwhile did not see it: it is ours to kill.
            if isStopping {
                await process.stop(grace: .zero)
                return
            }
            let client: KubeClient
            do {
                client = try KubeClient(server: "https://127.0.0.1:\(port)", caCertificate: caCertificate, token: token)
            } catch {
                await process.stop(grace: .zero)
                throw ProcessError(.launchFailed, "cannot load our own CA certificate: \(error)")
            }
            do {
                try await Self.poll(process, what: "kube-controller-manager", deadline: deadline) {
                    let response = try? await client.send("GET", "/healthz", timeout: .seconds(2))
                    return response?.status == 200
                }
                await client.shutdown()
                return
            } catch {
                await client.shutdown()
                await process.stop(grace: .zero)
                controllerManagerSlot.withLock { $0 = nil }
                let error = error.asPortConflict(ports: [port])
                if error.code == .portTaken {
                    lastError = error
                    continue
                }
                throw error
            }
        }
        throw lastError
            ?? ProcessError(.launchFailed, "\(name): could not find a free port for kube-controller-manager")
    }
}
