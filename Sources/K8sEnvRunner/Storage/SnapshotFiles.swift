import Foundation
import K8sEnvSpec

/// How storage state goes into and out of the cache: etcd through `etcdctl snapshot save` and
/// `snapshot restore` (a compact, self-checking bbolt file; a data folder would carry a 64 MB
/// preallocated WAL); kine and the embedded store as one SQLite file (`VACUUM INTO`, while they serve:
/// see ``RunningStore/saveSnapshot(into:)``), copied into place by ``copySQLite(from:toDatabase:)``.
package enum SnapshotFiles {
    /// Saves a running etcd's state into `folder/etcd.db`.
    package static func saveEtcd(endpoint: String, into folder: String, etcdctl: String?, log: String)
        async throws(ProcessError)
    {
        guard let etcdctl else {
            throw ProcessError(
                .notFound,
                "binaries.etcdctl: etcdctl is needed to save snapshots of etcd; install it (Debian: etcd-client) or run with --no-cache"
            )
        }
        try await runToCompletion(
            etcdctl, ["--endpoints=\(endpoint)", "snapshot", "save", folder + "/etcd.db"],
            what: "etcdctl snapshot save", log: log, timeout: .seconds(60))
    }

    /// Restores `etcd.db` into a new data folder for the member k8senv runs (its peer URL, as in
    /// ``StorageArguments/etcd(dataDirectory:noFsync:)``).
    package static func restoreEtcd(
        _ database: String, into dataDirectory: String, etcdctl: String?,
        log: String, deadline: ContinuousClock.Instant
    ) async throws(ProcessError) {
        guard let etcdctl else {
            throw ProcessError(
                .notFound,
                "binaries.etcdctl: etcdctl is needed to restore snapshots of etcd; install it (Debian: etcd-client) or run with --no-cache"
            )
        }
        try await runToCompletion(
            etcdctl,
            [
                "snapshot", "restore", database, "--data-dir=\(dataDirectory)", "--name=k8senv",
                "--initial-cluster=k8senv=unix://\(StorageArguments.etcdPeerSocket)",
                "--initial-advertise-peer-urls=unix://\(StorageArguments.etcdPeerSocket)",
            ], what: "etcdctl snapshot restore", log: log, timeout: max(deadline - ContinuousClock.now, .seconds(5)))
        chmod(dataDirectory, 0o700)
    }

    /// Copies a snapshot's SQLite files (kine's or the embedded store's) into place as `database`.
    package static func copySQLite(from folder: String, toDatabase database: String) throws(ProcessError) {
        try copyMatching(
            prefix: folder + "/state.db", into: (database as NSString).deletingLastPathComponent,
            renamingTo: (database as NSString).lastPathComponent)
    }

    static func copyMatching(prefix: String, into folder: String, renamingTo base: String) throws(ProcessError) {
        let directory = (prefix as NSString).deletingLastPathComponent
        let name = (prefix as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let matching = names.filter { $0 == name || $0.hasPrefix(name + "-") }
        guard matching.contains(name) else {
            throw ProcessError(.files, "the SQLite database \(prefix) does not exist")
        }
        for file in matching {
            let target = folder + "/" + base + file.dropFirst(name.count)
            do {
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: directory + "/" + file, toPath: target)
            } catch {
                throw ProcessError(.files, "cannot copy \(directory)/\(file): \(error.localizedDescription)")
            }
        }
    }

    static func runToCompletion(
        _ executable: String, _ arguments: [String], what: String, log: String,
        timeout: Duration
    ) async throws(ProcessError) {
        var environment = ProcessInfo.processInfo.environment
        environment["ETCDCTL_API"] = "3"
        let process = try ChildProcess.launch(
            executable: executable, arguments: arguments, environment: environment, logPath: log)
        guard let termination = await process.waitForExit(timeout: timeout) else {
            await process.stop(grace: .milliseconds(500))
            throw process.error(.timeout, "\(what) did not finish")
        }
        guard termination == .exited(0) else {
            throw process.error(.exited, "\(what) \(termination)")
        }
    }
}
