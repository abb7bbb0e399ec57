import Foundation
import K8sEnvSpec
import K8sEnvStore

/// The store served by this process (K8sEnvStore): SQLite in the instance folder, etcd's gRPC
/// API on a Unix socket in it.
package struct EmbeddedBackend: StorageBackend {
    package var kind: StorageKind { .embedded }
    static let snapshotFormat = SnapshotFormat.sqlite([.store])
    package var program: String { ChildProcess.selfExecutable }

    package init() {}

    package func spawn(
        name: String, directory: String, snapshot: String?,
        deadline: ContinuousClock.Instant
    ) async throws(ProcessError) -> any RunningStore {
        let database = InstanceLayout(directory).storeDatabase
        try SQLiteFiles.prepare(database, from: snapshot)
        let sockets = try SocketFolder.make(for: directory)
        do {
            let store = try KeyValueStore(path: database)
            var options = StoreServer.Options()
            options.socketPath = sockets.path + "/" + StorageArguments.embeddedSocket
            return EmbeddedStore(
                name: name, server: try await StoreServer.start(store: store, options: options), sockets: sockets)
        } catch {
            sockets.remove()
            throw ProcessError(
                .launchFailed, "\(name): the embedded store could not start: \(error)", domain: .storage, cause: error)
        }
    }
}

package struct EmbeddedStore: RunningStore {
    let name: String
    package let server: StoreServer
    let sockets: SocketFolder

    package var url: String { server.url }
    package var pid: Int32 { getpid() }
    package var logPath: String? { nil }
    package var process: ChildProcess? { nil }
    /// The store's revision: a reset writes it back (``StoreRevision``).
    package func restorePoint(client: KubeClient) async throws -> any RestorePoint { StoreRevision(server.store) }

    /// The store's revision now. The store also keeps the history from it on through
    /// compactions (and pool resets, which move only their own mark), so a read at it answers
    /// for as long as the instance runs; nothing is read or written for that.
    package func diffBaseline(client: KubeClient) async -> Int64? {
        let revision = server.store.revision
        server.store.keepHistory(from: revision)
        return revision
    }

    package func keepDiffBaseline(_ revision: Int64) { server.store.keepHistory(from: revision) }

    /// Serving once started.
    package func waitUntilServing(deadline: ContinuousClock.Instant) async throws(ProcessError) {}

    package func failure() -> ProcessError? {
        server.failure.map(describe)
    }

    package func ended() async -> ProcessError? {
        guard let error = await server.ended() else { return nil }
        return describe(error)
    }

    func describe(_ error: any Error) -> ProcessError {
        ProcessError(.exited, "\(name): the embedded store stopped serving: \(error)", domain: .storage, cause: error)
    }

    package func stop(grace: Duration) async {
        await server.stop(grace: grace, drain: false)
        sockets.remove()
    }

    /// SQLite's VACUUM INTO through the store's own connection.
    package func saveSnapshot(into folder: String) async throws(ProcessError) {
        let target = try SQLiteFiles.snapshotTarget(in: folder)
        do throws(StoreError) { try server.store.copy(to: target) } catch {
            throw SQLiteFiles.saveError(name, target, error)
        }
    }
}

/// The embedded store's restore point: a revision, kept through compactions for the life of the
/// store (``KeyValueStore/retain(revision:)``).
struct StoreRevision: RestorePoint {
    let store: KeyValueStore
    let revision: Int64

    init(_ store: KeyValueStore) {
        store.retain(revision: store.revision)
        self.store = store
        revision = store.revision
    }

    func restore(_ instance: Instance) async throws {
        try await StoreReset.reset(store, of: instance, to: revision)
    }

    /// Deletes what was created since the revision: the store knows when each key was created,
    /// so no list of objects was taken at hand-out. Resources are discovered now (a CRD the
    /// holder added is cleaned with its custom resources); the store is read right before the
    /// list, so each object's `resourceVersion` is its key's newest revision.
    func clean(_ instance: Instance) async throws {
        let resources = try await Cleanup.resources(instance.client)
        let created: Set<Int64>
        do { created = try store.revisionsOfKeys(createdAfter: revision) } catch {
            throw KubeClientError(status: nil, message: "cannot read the store's keys: \(error)", body: [])
        }
        _ = try await Cleanup.clean(instance.client, resources: resources) {
            $0.resourceVersion.map(created.contains) ?? false
        }
    }
}
