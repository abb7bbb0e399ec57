import Foundation
import K8sEnvStore

/// The revision `k8senv diff` compares an instance with: its store's revision when the run
/// record first lists it (started from its snapshot, not yet lent), recorded as
/// `baselineRevision` in the run record.
enum DiffBaseline {
    /// The store's revision now. The embedded store also keeps the history from it on through
    /// compactions (and pool resets, which move only their own mark), so a read at it answers
    /// for as long as the instance runs; nothing is read or written for that. On etcd and kine
    /// it costs one list request (its `resourceVersion` is the store's revision), and the
    /// revision stays readable until kube-apiserver or kine compacts it.
    /// - Returns: nil when the revision cannot be read (then `diff` says so for this instance).
    static func mark(_ instance: Instance) async -> Int64? {
        switch instance.store.release {
        case .resetStore(let store):
            let revision = store.revision
            store.keepHistory(from: revision)
            return revision
        case .apiCleanup:
            guard let response = try? await instance.client.send("GET", "/api/v1/namespaces?limit=1", timeout: .seconds(10)),
                  response.status == 200,
                  let revision = (JSONValue.parse(response.body)?["metadata"]?["resourceVersion"]?.string).flatMap({ Int64($0) })
            else { return nil }
            return revision
        }
    }

    /// Keeps `revision` readable on the instance for as long as it runs: on the embedded store,
    /// its history from there on (as ``mark(_:)`` does for the revision it reads); etcd and kine
    /// keep it while nothing compacts it (`k8senv open` starts kube-apiserver without compaction).
    static func keep(_ revision: Int64, on instance: Instance) {
        if case .resetStore(let store) = instance.store.release { store.keepHistory(from: revision) }
    }
}
