import Foundation
import K8sEnvSpec

extension StateFolder {
    /// The run folder `k8senv audit` reads: the detached `up`'s, else the newest run folder of
    /// this state folder with an audit log (a `run` under way, or one whose failed command left
    /// its logs); nil when there is none.
    package func auditedRun() -> String? {
        if let record = current() { return record.runDirectory }
        guard refusal == nil, let names = try? FileManager.default.contentsOfDirectory(atPath: runsPath) else { return nil }
        // `<seconds>-<pid>`: newest first by the time in the name.
        let folders = names.compactMap { name -> (Int, String)? in
            guard let seconds = name.split(separator: "-").first.flatMap({ Int($0) }) else { return nil }
            return (seconds, runsPath + "/" + name)
        }.sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 > $1.1 }
        return folders.first { Ownership.isMarked($0.1) && !AuditLog.instances(inRun: $0.1).isEmpty }?.1
    }
}

/// `--since` of `k8senv audit`: a Go duration back from now (`5m`) or an RFC 3339 time.
package enum AuditSince {
    /// - Returns: nil when `text` is neither.
    package static func parse(_ text: String, now: Date = Date()) -> Date? {
        if let duration = GoDuration(text), duration.nanoseconds >= 0 { return now.addingTimeInterval(-duration.seconds) }
        return RFC3339.parse(text)
    }
}
