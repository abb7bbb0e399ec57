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
}
