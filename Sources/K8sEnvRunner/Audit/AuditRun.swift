import Foundation
import K8sEnvSpec

extension StateFolder {
    /// The run folder `k8senv audit` reads: the detached `up`'s, else the newest run folder of
    /// this state folder with an audit log (a `run` under way, or one whose failed command left
    /// its logs); nil when there is none.
    package func auditedRun() -> String? {
        if let record = current() { return record.runDirectory }
        return runFoldersNewestFirst().first { !AuditLog.instances(inRun: $0).isEmpty }
    }
}

/// `--since` of `k8senv audit`: a Go duration back from now (`5m`) or an RFC 3339 time.
package enum AuditSince {
    /// - Returns: nil when `text` is neither.
    package static func parse(_ text: String, now: Date = Date()) -> Date? {
        if let duration = GoDuration(text), duration.nanoseconds >= 0 {
            return now.addingTimeInterval(-duration.seconds)
        }
        return RFC3339.parse(text)
    }
}
