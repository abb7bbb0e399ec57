import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Finding the programs", .tags(.fast))
struct BinaryLocatorTests {
    @Test(
        "not on PATH: the message names the program's exact K8SENV_ variable and the install page's URL, not a script of k8senv's checkout",
        arguments: [
            ("binaries.kubeAPIServer", "K8SENV_KUBE_APISERVER", "kube-apiserver"),
            ("binaries.etcd", "K8SENV_ETCD", "etcd"),
            ("binaries.etcdctl", "K8SENV_ETCDCTL", "etcdctl"),
            ("binaries.kine", "K8SENV_KINE", "kine"),
            ("binaries.kubeControllerManager", "K8SENV_KUBE_CONTROLLER_MANAGER", "kube-controller-manager"),
        ])
    func missing(role: String, variable: String, program: String) {
        do throws(ProcessError) {
            _ = try BinaryLocator.locate("no-such-\(program)", role: role, relativeTo: ".", path: "/nowhere")
            Issue.record("found no-such-\(program)")
        } catch {
            #expect(
                error.message.contains(
                    "\(role): \"no-such-\(program)\" is not on PATH; install \(program) and put it on PATH, or set \(variable) to its path"
                ), "\(error.message)")
            #expect(
                error.message.contains("https://github.com/k8senv/k8senv/blob/main/docs/how-to/install.md"),
                "\(error.message)")
            #expect(!error.message.contains("scripts/") && !error.message.contains("K8SENV_*"), "\(error.message)")
        }
    }
}
