import Foundation

/// What a release puts an instance back to. A running store offers it
/// (``RunningStore/restorePoint(client:)``) once, when the pool first hands the instance out (the
/// state of the environment's snapshot), and every later release goes back to that same point:
/// it is never taken again after a reset, so a write that lands after a reset (a killed holder's
/// request still in flight) is not made part of it and the next release undoes it too.
package protocol RestorePoint: Sendable {
    /// Mode reset: brings the instance back to the restore point (the embedded store writes back
    /// the state of its revision; etcd and kine delete through the API what was created since).
    func restore(_ instance: Instance) async throws
    /// Mode clean: deletes through the API what was created since the restore point, on every
    /// storage; objects that existed keep their changes.
    func clean(_ instance: Instance) async throws
}

/// The restore point of a store that k8senv cannot rewind (etcd, kine): the objects the instance
/// held, by uid.
struct ObjectBaseline: RestorePoint {
    let baseline: Baseline

    func restore(_ instance: Instance) async throws {
        _ = try await Cleanup.clean(instance.client, baseline: baseline)
    }

    func clean(_ instance: Instance) async throws {
        _ = try await Cleanup.clean(instance.client, baseline: baseline)
    }
}
