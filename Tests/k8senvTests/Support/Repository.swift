import Foundation
import K8sEnvTestSupport
import Testing

/// Where the package's files and the built k8senv are (from K8sEnvTestSupport).
enum Repository {
    static let root = PackageLocations.root

    static let examples = root + "/examples"
    static let crds = root + "/crds"
    static let schema = root + "/schemas/k8senv.schema.json"

    static let binary = PackageLocations.k8senvBinary

    /// The built k8senv, or a failure that says how to get it.
    static func requireBinary() throws -> String { try PackageLocations.requireK8senvBinary() }

    static func read(_ path: String) throws -> [UInt8] { try PackageLocations.read(path) }
}

/// The real kube-apiserver and etcd the example config names through K8SENV_KUBE_APISERVER and
/// K8SENV_ETCD. Missing ones fail the test (never a skip): scripts/test.sh exports them.
enum RealBinaries {
    /// The storage the tests' configs use: K8SENV_STORAGE (their `storage: ${K8SENV_STORAGE:-embedded}`).
    static var storage: String {
        let value = ProcessInfo.processInfo.environment["K8SENV_STORAGE"] ?? ""
        return value.isEmpty ? "embedded" : value
    }

    static func require() throws -> (kubeAPIServer: String, etcd: String) {
        let environment = ProcessInfo.processInfo.environment
        var found: [String] = []
        for name in ["K8SENV_KUBE_APISERVER", "K8SENV_ETCD"] {
            guard let value = environment[name], !value.isEmpty, FileManager.default.isExecutableFile(atPath: value)
            else {
                throw FixtureError(
                    "\(name) is not set to an executable kube-apiserver/etcd: run the tests with scripts/test.sh (or `eval \"$(scripts/install-binaries.sh)\"` first)"
                )
            }
            found.append(value)
        }
        return (found[0], found[1])
    }
}
