import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// The real binaries the integration tests run: from K8SENV_KUBE_APISERVER / K8SENV_ETCD (what
/// scripts/setup.sh exports) or PATH. A missing binary fails the test; it is never skipped.
enum TestBinaries {
    static var kubeAPIServer: String? { find("K8SENV_KUBE_APISERVER", "kube-apiserver") }
    static var etcd: String? { find("K8SENV_ETCD", "etcd") }
    static var kubectl: String? { find("K8SENV_KUBECTL", "kubectl") }
    /// The storage the integration tests run on: K8SENV_STORAGE (scripts/test.sh runs the suites
    /// on embedded, then on etcd), default embedded. kine means the k8senv-kine executable.
    static var storage: StorageKind {
        ProcessInfo.processInfo.environment["K8SENV_STORAGE"].flatMap { StorageKind(rawValue: $0) } ?? .embedded
    }

    static func find(_ variable: String, _ name: String) -> String? {
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty {
            return try? BinaryLocator.locate(value, role: variable, relativeTo: ".")
        }
        return try? BinaryLocator.locate(name, role: name, relativeTo: ".")
    }

    /// Both binaries resolved, or a recorded failure saying how to get them.
    static func resolved() async throws -> ResolvedBinaries {
        guard let apiServer = kubeAPIServer, let etcd else {
            Issue.record(
                "kube-apiserver or etcd not found: run the tests with scripts/test.sh (it installs them), or set K8SENV_KUBE_APISERVER and K8SENV_ETCD"
            )
            throw CancellationError()
        }
        let version = try await BinaryVersion.read(apiServer)
        let backend: any StorageBackend
        switch storage {
        case .etcd: backend = EtcdBackend(program: etcd, noFsync: await StorageArguments.etcdSupportsNoFsync(etcd))
        case .kine: backend = KineBackend(program: PackageLocations.builtProduct("k8senv-kine"))
        case .embedded: backend = EmbeddedBackend()
        }
        return ResolvedBinaries(kubeAPIServer: apiServer, kubeAPIServerVersion: version, storage: backend)
    }
}

/// The runner tests' name for the shared fixture.
typealias TemporaryDirectory = TemporaryFolder

/// The TCP listening addresses of a process.
func listeningAddresses(of pid: Int32) -> [String] {
    Sockets.listeningAddresses(of: pid)
}
