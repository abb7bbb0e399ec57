import Foundation

/// The table form of audit events: what `k8senv audit` prints and `run` prints when its command
/// fails.
package enum AuditTable {
    /// Aligned columns TIME (UTC, to the millisecond), INSTANCE (with `showInstance`), USER, VERB,
    /// RESOURCE, NAMESPACE/NAME, CODE, LATENCY; a header line first.
    package static func render(_ events: [AuditEvent], showInstance: Bool) -> [String] {
        var rows: [[String]] = [
            ["TIME"] + (showInstance ? ["INSTANCE"] : []) + [
                "USER", "VERB", "RESOURCE", "NAMESPACE/NAME", "CODE", "LATENCY",
            ]
        ]
        for e in events {
            rows.append(
                [clock(e.timestamp)] + (showInstance ? [e.instance] : [])
                    + [
                        e.user, e.verb, e.resource, e.objectName.isEmpty ? "-" : e.objectName,
                        e.code.map(String.init) ?? "-", latency(e.latencyMilliseconds),
                    ])
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }
    }

    /// `19:29:41.123` from `2026-12-01T19:29:41.123456Z` (the date is left out: a run is short).
    static func clock(_ timestamp: String) -> String {
        guard let t = timestamp.firstIndex(of: "T") else { return timestamp }
        let rest = timestamp[timestamp.index(after: t)...]
        let end = rest.firstIndex { $0 == "Z" || $0 == "+" || $0 == "-" } ?? rest.endIndex
        let time = rest[..<end]
        if let dot = time.firstIndex(of: ".") {
            let fraction = time[time.index(after: dot)...].prefix(3)
            return String(time[..<dot]) + "." + fraction + String(repeating: "0", count: 3 - fraction.count)
        }
        return String(time) + ".000"
    }

    static func latency(_ milliseconds: Double) -> String {
        milliseconds < 10 ? String(format: "%.1fms", milliseconds) : String(format: "%.0fms", milliseconds)
    }
}

/// What `run` prints to stderr when its command fails: per lease of the run, its instance's last
/// mutating requests since the command started.
package enum AuditReport {
    /// Mutating requests shown per instance.
    package static let limit = 20

    /// One instance's part of the report: nothing when it received no requests (the command did
    /// not use it); else a heading naming its log, then its last ``limit`` mutating requests as
    /// a table, or a line saying there were none.
    package static func section(instance name: String, events: [AuditEvent], log: String) -> [String] {
        guard !events.isEmpty else { return [] }
        let mutating = events.filter(\.isMutating)
        if mutating.isEmpty {
            return [
                "\(name): no mutating requests since the command started (\(events.count) other requests); log: \(log)"
            ]
        }
        let heading =
            mutating.count > limit
            ? "the last \(limit) of \(mutating.count) mutating requests"
            : "its \(mutating.count) mutating request\(mutating.count == 1 ? "" : "s")"
        return ["\(name): \(heading) since the command started (log: \(log)):"]
            + AuditTable.render(Array(mutating.suffix(limit)), showInstance: false).map { "  " + $0 }
    }
}
