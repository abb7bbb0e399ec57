import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Pool configuration", .tags(.fast))
struct PoolConfigurationTests {
    @Test("a pool of an environment the config lacks: .unknownEnvironment, naming the file and the closest name")
    func unknownEnvironment() throws {
        let configuration = try K8sEnvConfiguration.load(PoolFixture.project.path + "/k8senv.yaml")
        #expect {
            try configuration.pool(for: "bsae")
        } throws: { error in
            let e = error as! K8sEnvError
            return e.code == .unknownEnvironment
                && e.message.hasSuffix("k8senv.yaml: no environment \"bsae\"; did you mean \"base\"?")
        }
    }

    @Test("a program that does not exist: a .binary error naming the setting and the path, with the cause kept")
    func missingBinary() async throws {
        let folder = try TemporaryFolder()
        let path = try folder.write(
            "k8senv.yaml",
            "apiVersion: k8senv.dev/v1alpha1\nkind: Config\nenvironments: {base: {}}\nbinaries: {kubeAPIServer: \(folder.path)/no-such-kube-apiserver}\n"
        )
        let pool = try K8sEnvConfiguration.load(path).pool(
            for: "base", options: PoolOptions(cacheDirectory: folder.path + "/cache"))
        await #expect {
            try await pool.acquire()
        } throws: { error in
            guard let e = error as? K8sEnvError else { return false }
            return e.domain == .binary && e.code == .binaryNotFound && e.cause is ProcessError && e.exitStatus == 1
                && e.message.contains("binaries.kubeAPIServer")
                && e.message.contains(folder.path + "/no-such-kube-apiserver does not exist")
        }
        await pool.shutdown()
    }
}
