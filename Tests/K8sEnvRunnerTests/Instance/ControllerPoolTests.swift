import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite(
    "Controllers: kube-controller-manager beside pooled instances", .tags(.integration), .serialized,
    .timeLimit(Integration.timeLimit), .integrationSlot,
    .enabled(
        if: ControllerManagerBinary.testsRun,
        "no kube-controller-manager (K8SENV_KUBE_CONTROLLER_MANAGER) and K8SENV_REQUIRE_BINARIES is not 1"))
struct ControllerPoolTests {
    @Test(
        "kubectl delete ns completes and an owned ConfigMap is collected; after a release by reset, the same again on the reused instance, with the same kube-controller-manager"
    )
    func worksAcrossReleases() async throws {
        _ = try await TestBinaries.resolved()
        _ = try ControllerManagerBinary.require()
        let kubectl = try #require(TestBinaries.kubectl, "kubectl not found")
        let dir = try TemporaryDirectory()
        let config = try dir.write(
            "k8senv.yaml",
            """
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
        let pool = try configuration.pool(
            for: "ctl",
            options: PoolOptions(size: 1, cacheDirectory: dir.path + "/cache", workDirectory: dir.path + "/work"))
        /// The kubectl steps, on the lease's kubeconfig, with kubectl's own discovery cache.
        func use(_ lease: PooledInstance) async throws -> (status: Int32, output: String) {
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] =
                (kubectl as NSString).deletingLastPathComponent + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            environment["KUBECACHEDIR"] = dir.path + "/kubectl-cache"
            return try await runToolAsync(
                "/bin/sh", ["-c", ControllerManagerBinary.kubectlScript(kubeconfig: lease.kubeconfigPath)],
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
            #expect(
                ControllerManagerBinary.processes(mentioning: folder + "/") == running,
                "the same kube-controller-manager")
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
