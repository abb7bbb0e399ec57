import Foundation
import K8sEnvSpec
import K8sEnvStore

/// One way of keeping an instance's state: the embedded store, etcd or kine. A backend is
/// resolved once per config (its program found, its version asked); it starts a store for each
/// instance. Nothing outside ``StorageBackends`` asks which backend it is, and nothing outside
/// this folder imports K8sEnvStore (`StorageBoundaryTests`).
/// (docs/explanation/architecture.md, "Storage backends")
package protocol StorageBackend: Sendable {
    var kind: StorageKind { get }
    /// The program that serves the store, as the run record keeps it: etcd, kine, or k8senv
    /// itself for the embedded store.
    var program: String { get }
    /// Starts a store for the instance `name` in its folder `directory` — fresh, or from the
    /// snapshot folder `snapshot` — without waiting until it serves.
    func spawn(
        name: String, directory: String, snapshot: String?,
        deadline: ContinuousClock.Instant
    ) async throws(ProcessError) -> any RunningStore
}

/// The store of one running instance.
package protocol RunningStore: Sendable {
    /// What kube-apiserver's `--etcd-servers` names.
    var url: String { get }
    /// The pid the run record keeps: the store's process, or this process for the embedded store.
    var pid: Int32 { get }
    var logPath: String? { get }
    /// The child process that serves the store; nil when it is served in this process.
    var process: ChildProcess? { get }
    /// What a pool's releases put the instance back to, taken now (``RestorePoint``): called once,
    /// when the instance is first handed out; `client` is the instance's admin client.
    func restorePoint(client: KubeClient) async throws -> any RestorePoint
    /// The revision `k8senv diff` compares the instance with (``DiffBaseline``): the store's
    /// revision now, kept readable as long as the store can keep it. Nil when it cannot be read.
    func diffBaseline(client: KubeClient) async -> Int64?
    /// Keeps `revision` readable as a diff baseline for as long as the store can (`k8senv open`:
    /// the baseline a post-mortem bundle recorded): the embedded store keeps its history from it;
    /// etcd and kine keep it while nothing compacts it (open starts them without compaction).
    func keepDiffBaseline(_ revision: Int64)
    /// Returns once the store answers; throws if it ends first or the deadline passes.
    func waitUntilServing(deadline: ContinuousClock.Instant) async throws(ProcessError)
    /// Nil while the store serves; otherwise why it stopped.
    func failure() -> ProcessError?
    /// Returns when the store has stopped serving, with why; returns nil at once if the calling
    /// task is cancelled. Supervision awaits this instead of polling ``failure()``.
    func ended() async -> ProcessError?
    /// Stops at once, keeping nothing (an instance's store is thrown away: its snapshot was saved
    /// before): a store process is killed (SIGKILL to its group) and awaited; the embedded store
    /// closes its connections without letting calls finish, and waits up to `grace` for them to
    /// have closed. Returns once everything is closed. Runs to its end even in a cancelled task.
    func stop(grace: Duration) async
    /// Writes a consistent copy of the store's state into the snapshot folder `folder`, while it
    /// serves (the snapshot cache's, and a copy to look at later: the files ``SnapshotFormat``
    /// names, checked by it, started from by ``StorageBackend/spawn(name:directory:snapshot:deadline:)``).
    func saveSnapshot(into folder: String) async throws(ProcessError)
}

/// The only place that picks a backend by the config's `storage`.
package enum StorageBackends {
    /// Finds the program the config's storage needs and what it supports.
    /// - Throws: ``ProcessError`` naming the config key and where it looked.
    package static func make(_ config: Config) async throws(ProcessError) -> any StorageBackend {
        switch config.storage {
        case .embedded:
            return EmbeddedBackend()
        case .kine:
            return KineBackend(
                program: try BinaryLocator.locate(
                    config.binaries.kine, role: "binaries.kine", relativeTo: config.directory))
        case .etcd:
            let etcd = try BinaryLocator.locate(
                config.binaries.etcd, role: "binaries.etcd", relativeTo: config.directory)
            var etcdctl = try? BinaryLocator.locate(
                config.binaries.etcdctl, role: "binaries.etcdctl", relativeTo: config.directory)
            if etcdctl == nil, !config.binaries.etcdctl.contains("/") {
                // Beside etcd, as release archives and packages ship it.
                let sibling = (etcd as NSString).deletingLastPathComponent + "/etcdctl"
                if FileManager.default.isExecutableFile(atPath: sibling) { etcdctl = sibling }
            }
            return EtcdBackend(
                program: etcd, noFsync: await StorageArguments.etcdSupportsNoFsync(etcd), etcdctl: etcdctl)
        }
    }

    /// What a snapshot of `storage` is made of (a bundle's storage, read from its header).
    package static func snapshotFormat(of storage: StorageKind) -> SnapshotFormat {
        switch storage {
        case .embedded: EmbeddedBackend.snapshotFormat
        case .kine: KineBackend.snapshotFormat
        case .etcd: EtcdBackend.snapshotFormat
        }
    }

    /// The `binaries` keys of the programs the config's storage runs, with their values (none for
    /// the embedded store: it is k8senv itself).
    package static func programs(of config: Config) -> [String: String] {
        switch config.storage {
        case .embedded: [:]
        case .kine: ["kine": config.binaries.kine]
        case .etcd: ["etcd": config.binaries.etcd]
        }
    }
}

// MARK: - Stores in a child process

/// A store served by a child process on a Unix socket: etcd or kine.
package struct StoreProcess: Sendable {
    let name: String
    /// "etcd" or "kine", as errors name it.
    let what: String
    let process: ChildProcess
    /// The path of the socket it serves on, and the folder that holds it.
    let socket: String
    let sockets: SocketFolder
    /// The TCP ports on 127.0.0.1 it was given to bind (kine's metrics), if any.
    var ports: [Int] = []

    var url: String { "unix://" + socket }

    /// Polls the socket; an end before it serves is a port conflict when one of ``ports`` is
    /// taken (``ProcessError/asPortConflict(ports:)``), which a start retries.
    func waitUntilServing(deadline: ContinuousClock.Instant) async throws(ProcessError) {
        let socket = self.socket
        do {
            try await Instance.poll(process, what: what, deadline: deadline) { Ports.accepts(unixSocket: socket) }
        } catch {
            throw error.asPortConflict(ports: ports).within(.storage)
        }
    }

    func failure() -> ProcessError? {
        process.termination.map { process.error(.exited, "\(name): \(what) \($0)").within(.storage) }
    }

    func ended() async -> ProcessError? { await process.exitError("\(name): \(what)")?.within(.storage) }

    func stop(grace: Duration) async {
        await process.stop(grace: .zero)
        sockets.remove()
    }
}

/// The stores served by a ``StoreProcess``.
package protocol ChildProcessStore: RunningStore {
    var child: StoreProcess { get }
}

extension ChildProcessStore {
    package var url: String { child.url }
    package var pid: Int32 { child.process.pid }
    package var logPath: String? { child.process.logPath }
    package var process: ChildProcess? { child.process }
    package func restorePoint(client: KubeClient) async throws -> any RestorePoint {
        ObjectBaseline(baseline: try await Cleanup.baseline(client))
    }
    /// One list request: its `resourceVersion` is the store's revision. It stays readable until
    /// kube-apiserver (or kine) compacts it.
    package func diffBaseline(client: KubeClient) async -> Int64? {
        guard let response = try? await client.send("GET", "/api/v1/namespaces?limit=1", timeout: .seconds(10)),
            response.status == 200
        else { return nil }
        return (JSONValue.parse(response.body)?["metadata"]?["resourceVersion"]?.string).flatMap { Int64($0) }
    }
    package func keepDiffBaseline(_ revision: Int64) {}
    package func waitUntilServing(deadline: ContinuousClock.Instant) async throws(ProcessError) {
        try await child.waitUntilServing(deadline: deadline)
    }
    package func failure() -> ProcessError? { child.failure() }
    package func ended() async -> ProcessError? { await child.ended() }
    package func stop(grace: Duration) async { await child.stop(grace: grace) }
}

// MARK: - kine

/// kine (or k8senv-kine) on SQLite in the instance folder, on a Unix socket.
package struct KineBackend: StorageBackend {
    package let program: String
    package var kind: StorageKind { .kine }
    static let snapshotFormat = SnapshotFormat.sqlite([.store, .kine])

    package init(program: String) { self.program = program }

    package func spawn(
        name: String, directory: String, snapshot: String?,
        deadline: ContinuousClock.Instant
    ) async throws(ProcessError) -> any RunningStore {
        let files = InstanceLayout(directory)
        let database = files.kineDatabase
        try SQLiteFiles.prepare(database, from: snapshot)
        let sockets = try SocketFolder.make(for: directory)
        sockets.removeStaleSocket(StorageArguments.kineSocket)
        let socket = sockets.path + "/" + StorageArguments.kineSocket
        let process: ChildProcess
        let metricsPort: Int
        do {
            metricsPort = try Ports.free()
            process = try ChildProcess.launch(
                executable: program,
                arguments: StorageArguments.kine(databasePath: database, socket: socket, metricsPort: metricsPort),
                environment: Instance.childEnvironment(), logPath: files.log("kine"))
        } catch {
            sockets.remove()
            throw error
        }
        return KineStore(
            child: StoreProcess(
                name: name, what: "kine", process: process, socket: socket, sockets: sockets,
                ports: [metricsPort]),
            database: database)
    }
}

package struct KineStore: ChildProcessStore {
    package let child: StoreProcess
    let database: String

    /// SQLite's VACUUM INTO from a second connection to kine's file while kine serves (WAL: one
    /// read transaction, a consistent copy).
    package func saveSnapshot(into folder: String) async throws(ProcessError) {
        let target = try SQLiteFiles.snapshotTarget(in: folder)
        do throws(StoreError) { try SQLiteCopy.copy(database: database, to: target) } catch {
            throw SQLiteFiles.saveError(child.name, target, error)
        }
    }
}

// MARK: - etcd

/// etcd: one member on Unix sockets with its own data folder; snapshots through etcdctl.
package struct EtcdBackend: StorageBackend {
    package let program: String
    /// Whether this etcd takes --unsafe-no-fsync.
    package let noFsync: Bool
    /// etcdctl, which saves and restores snapshots (nil when not found).
    package let etcdctl: String?
    package var kind: StorageKind { .etcd }
    static let snapshotFormat = SnapshotFormat.etcd

    package init(program: String, noFsync: Bool, etcdctl: String? = nil) {
        self.program = program
        self.noFsync = noFsync
        self.etcdctl = etcdctl
    }

    package func spawn(
        name: String, directory: String, snapshot: String?,
        deadline: ContinuousClock.Instant
    ) async throws(ProcessError) -> any RunningStore {
        let files = InstanceLayout(directory)
        let dataDirectory = files.etcdData
        try? FileManager.default.removeItem(atPath: dataDirectory)  // a retry starts clean
        let log = files.log("etcdctl")
        if let snapshot {
            try await SnapshotFiles.restoreEtcd(
                snapshot + "/etcd.db", into: dataDirectory, etcdctl: etcdctl, log: log,
                deadline: deadline)
        } else {
            try PrivateFiles.makeDirectory(dataDirectory)
        }
        let sockets = try SocketFolder.make(for: directory)
        sockets.removeStaleSocket(StorageArguments.etcdClientSocket)
        sockets.removeStaleSocket(StorageArguments.etcdPeerSocket)
        let process: ChildProcess
        do {
            // etcd makes its sockets in the folder it runs in (see StorageArguments.etcd).
            process = try ChildProcess.launch(
                executable: program, arguments: StorageArguments.etcd(dataDirectory: dataDirectory, noFsync: noFsync),
                environment: Instance.childEnvironment(), logPath: files.log("etcd"), workingDirectory: sockets.path)
        } catch {
            sockets.remove()
            throw error
        }
        let socket = sockets.path + "/" + StorageArguments.etcdClientSocket
        return EtcdStore(
            child: StoreProcess(name: name, what: "etcd", process: process, socket: socket, sockets: sockets),
            etcdctl: etcdctl, etcdctlLog: log)
    }
}

package struct EtcdStore: ChildProcessStore {
    package let child: StoreProcess
    let etcdctl: String?
    let etcdctlLog: String

    /// `etcdctl snapshot save`: a compact, self-checking bbolt file.
    package func saveSnapshot(into folder: String) async throws(ProcessError) {
        try await SnapshotFiles.saveEtcd(endpoint: url, into: folder, etcdctl: etcdctl, log: etcdctlLog)
    }
}

// MARK: - SQLite files, shared by kine and the embedded store

enum SQLiteFiles {
    /// A fresh folder for the SQLite file `database` (a retry starts clean), with the snapshot's
    /// file copied in when there is one.
    static func prepare(_ database: String, from snapshot: String?) throws(ProcessError) {
        let folder = (database as NSString).deletingLastPathComponent
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.makeDirectory(folder)
        if let snapshot { try SnapshotFiles.copySQLite(from: snapshot, toDatabase: database) }
    }

    /// Where a snapshot's SQLite file goes in the snapshot folder `folder` (made here).
    static func snapshotTarget(in folder: String) throws(ProcessError) -> String {
        try PrivateFiles.makeDirectory(folder)
        return folder + "/state.db"
    }

    static func saveError(_ name: String, _ target: String, _ error: StoreError) -> ProcessError {
        ProcessError(
            .files, "\(name): cannot save the store's snapshot to \(target): \(error.message)", domain: .cache,
            cause: error)
    }
}
