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

    /// Whether this etcd takes `--unsafe-no-fsync` (asked once per binary from its --help).
    package static func etcdSupportsNoFsync(_ executable: String) async -> Bool {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("k8senv-etcd-help-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        guard let process = try? ChildProcess.launch(executable: executable, arguments: ["--help"],
                                                     environment: ProcessInfo.processInfo.environment, logPath: log)
        else { return false }
        _ = await process.waitForExit(timeout: .seconds(10))
        await process.stop(grace: .milliseconds(10))
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.contains("--unsafe-no-fsync")
    }
}
