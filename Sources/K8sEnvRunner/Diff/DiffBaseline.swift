import Foundation

/// The revision `k8senv diff` compares an instance with: its store's revision when the run
/// record first lists it (started from its snapshot, not yet lent), recorded as
/// `baselineRevision` in the run record.
enum DiffBaseline {
    /// The store's revision now, as the store gives it (``RunningStore/diffBaseline(client:)``):
    /// the embedded store keeps the history from it on for as long as the instance runs; etcd
    /// and kine answer one list request, and the revision stays readable until kube-apiserver or
    /// kine compacts it.
    /// - Returns: nil when the revision cannot be read (then `diff` says so for this instance).
    static func mark(_ instance: Instance) async -> Int64? {
        await instance.store.diffBaseline(client: instance.client)
    }

    /// Keeps `revision` readable on the instance for as long as it runs: on the embedded store,
    /// its history from there on (as ``mark(_:)`` does for the revision it reads); etcd and kine
    /// keep it while nothing compacts it (`k8senv open` starts kube-apiserver without compaction).
    static func keep(_ revision: Int64, on instance: Instance) {
        instance.store.keepDiffBaseline(revision)
    }
}
