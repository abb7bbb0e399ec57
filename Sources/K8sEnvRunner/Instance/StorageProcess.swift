import Foundation
import K8sEnvSpec

/// Command lines of the storage processes.
package enum StorageArguments {
    /// etcd: one member on 127.0.0.1, its own data folder, no metrics listener.
    package static func etcd(dataDirectory: String, clientPort: Int, peerPort: Int, noFsync: Bool) -> [String] {
        var args = [
            "--name=k8senv",
            "--data-dir=\(dataDirectory)",
            "--listen-client-urls=http://127.0.0.1:\(clientPort)",
            "--advertise-client-urls=http://127.0.0.1:\(clientPort)",
            "--listen-peer-urls=http://127.0.0.1:\(peerPort)",
            "--initial-advertise-peer-urls=http://127.0.0.1:\(peerPort)",
            "--initial-cluster=k8senv=http://127.0.0.1:\(peerPort)",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
        ]
        if noFsync { args.append("--unsafe-no-fsync") }
        return args
    }

    /// kine: SQLite in the instance's folder.
    package static func kine(databasePath: String, port: Int, metricsPort: Int) -> [String] {
        [
            "--endpoint=sqlite://\(databasePath)?_journal=WAL&cache=shared",
            "--listen-address=127.0.0.1:\(port)",
            "--metrics-bind-address=127.0.0.1:\(metricsPort)",
        ]
    }

    /// Whether this etcd takes `--unsafe-no-fsync`: added in 3.5 and backported to 3.4.10, and
    /// hidden from `--help`, so decided by `etcd --version`.
    package static func etcdSupportsNoFsync(_ executable: String) async -> Bool {
        guard let version = try? await BinaryVersion.read(executable) else { return false }
        return version >= KubeVersion(major: 3, minor: 4, patch: 10)
    }
}
