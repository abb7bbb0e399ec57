import Foundation

/// kube-controller-manager for the tests of `controllers`: K8SENV_KUBE_CONTROLLER_MANAGER (what
/// scripts/setup.sh exports). Missing, its tests are skipped — unless K8SENV_REQUIRE_BINARIES=1
/// (scripts/test.sh, CI), where they run and fail saying how to get it.
public enum ControllerManagerBinary {
    /// The executable, if K8SENV_KUBE_CONTROLLER_MANAGER names one.
    public static var path: String? {
        guard let value = ProcessInfo.processInfo.environment["K8SENV_KUBE_CONTROLLER_MANAGER"], !value.isEmpty,
            FileManager.default.isExecutableFile(atPath: value)
        else { return nil }
        return value
    }

    /// Whether the tests that need it run: it is there, or it is required.
    public static var testsRun: Bool {
        path != nil || ProcessInfo.processInfo.environment["K8SENV_REQUIRE_BINARIES"] == "1"
    }

    /// The executable, or an error saying how to get it.
    public static func require() throws -> String {
        guard let path else {
            throw FixtureError(
                "K8SENV_KUBE_CONTROLLER_MANAGER is not set to an executable kube-controller-manager: run the tests with scripts/test.sh (or `eval \"$(scripts/install-binaries.sh)\"` first)"
            )
        }
        return path
    }

    /// The binaries section line of a test config that names it.
    public static let configLine = "kubeControllerManager: ${K8SENV_KUBE_CONTROLLER_MANAGER:-kube-controller-manager}"

    /// Processes running kube-controller-manager whose command line mentions `text` (a test's
    /// folder), as `pid: command line`.
    public static func processes(mentioning text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> String? in
            guard let pid = Int32(entry), isRunning(pid),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let command = String(decoding: data, as: UTF8.self).split(separator: "\0").joined(separator: " ")
            guard command.contains("kube-controller-manager"), command.contains(text) else { return nil }
            return "\(pid): \(command)"
        }
    }

    /// What a user does with kubectl: a namespace with a ConfigMap deleted (kubectl waits until
    /// it is gone), and a ConfigMap owned by another deleted with its owner. Prints `deleted` and
    /// `collected`; each wait is bounded.
    public static func kubectlScript(kubeconfig: String) -> String {
        "export KUBECONFIG='\(kubeconfig)'\n" + kubectlSteps
    }

    static let kubectlSteps = #"""
        set -u
        kubectl create namespace x >/dev/null || exit 11
        kubectl -n x create configmap inside >/dev/null || exit 12
        kubectl delete namespace x --timeout=90s >/dev/null || exit 13
        if kubectl get namespace x >/dev/null 2>&1; then echo "namespace x still there"; exit 14; fi
        echo deleted
        kubectl create configmap owner >/dev/null || exit 15
        uid="$(kubectl get configmap owner -o jsonpath='{.metadata.uid}')" || exit 16
        printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"child","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"%s"}]}}' "$uid" \
          | kubectl create -f - >/dev/null || exit 17
        kubectl delete configmap owner >/dev/null || exit 18
        for _ in $(seq 1 300); do
          if ! kubectl get configmap child >/dev/null 2>&1; then echo collected; exit 0; fi
          sleep 0.2
        done
        echo "configmap child still there 60 s after its owner was deleted"; exit 19
        """#
}
