import Foundation
import K8sEnvSpec

/// Command lines of the storage processes.
package enum StorageArguments {
    /// The names of the stores' sockets in their folder. Each ends in `:0`: kube-apiserver (1.20)
    /// checks that its etcd is reachable before it starts by dialing the URL's host — empty for a
    /// `unix:///PATH` URL, so the check could never pass — and skips that check when the text
    /// after the last `:` of `--etcd-servers` is `0`. (etcd 3.4 needs the `NAME:PORT` form anyway:
    /// see ``etcd(dataDirectory:noFsync:)``.)
    package static let embeddedSocket = "store.sock:0"
    package static let kineSocket = "kine.sock:0"
    package static let etcdClientSocket = "etcd.sock:0"
    package static let etcdPeerSocket = "etcd-peer.sock:0"

    /// etcd: one member listening on Unix sockets only, in its working folder. etcd 3.4 takes a
    /// unix URL's HOST:PORT as the socket's path, so `unix://etcd.sock:0` is the file
    /// `etcd.sock:0` in the folder etcd runs in; clients dial `unix:///FOLDER/etcd.sock:0`.
    package static func etcd(dataDirectory: String, noFsync: Bool) -> [String] {
        let client = "unix://" + etcdClientSocket
        let peer = "unix://" + etcdPeerSocket
        var args = [
            "--name=k8senv",
            "--data-dir=\(dataDirectory)",
            "--listen-client-urls=\(client)",
            "--advertise-client-urls=\(client)",
            "--listen-peer-urls=\(peer)",
            "--initial-advertise-peer-urls=\(peer)",
            "--initial-cluster=k8senv=\(peer)",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
        ]
        if noFsync { args.append("--unsafe-no-fsync") }
        return args
    }

    /// kine: SQLite in the instance's folder, its etcd API on a Unix socket (its metrics on
    /// 127.0.0.1: they hold no data).
    package static func kine(databasePath: String, socket: String, metricsPort: Int) -> [String] {
        [
            "--endpoint=sqlite://\(databasePath)?_journal=WAL&cache=shared",
            "--listen-address=unix://\(socket)",
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
