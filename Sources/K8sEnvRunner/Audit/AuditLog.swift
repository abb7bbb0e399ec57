import Foundation

/// Reads kube-apiserver's JSON audit log (`--audit-log-format=json`, one Event a line): the one
/// parser behind `k8senv audit`, `run`'s report of a failed command and the pool API.
///
/// A line that is not a complete Event (the last one while kube-apiserver writes it, or anything
/// that is not JSON) is skipped; unknown fields are ignored. Only the stages ResponseComplete
/// and Panic are kept, so that each request is one event even under a policy that records
/// RequestReceived or ResponseStarted too.
public enum AuditLog {
    /// The fields of an Event k8senv reads; the others are ignored.
    struct Line: Decodable {
        struct User: Decodable { var username: String? }
        struct ObjectRef: Decodable {
            var resource: String?
            var subresource: String?
            var namespace: String?
            var name: String?
            var apiGroup: String?
        }
        struct Status: Decodable { var code: Int? }
        var kind: String?
        var auditID: String?
        var stage: String?
        var requestURI: String?
        var verb: String?
        var user: User?
        var userAgent: String?
        var objectRef: ObjectRef?
        var responseStatus: Status?
        var requestReceivedTimestamp: String?
        var stageTimestamp: String?
    }

    /// The events of a log's bytes, in the order written.
    /// - Parameter instance: the instance the log belongs to (set on each event).
    public static func parse(_ bytes: some Collection<UInt8>, instance: String) -> [AuditEvent] {
        let decoder = JSONDecoder()
        var events: [AuditEvent] = []
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let decoded = try? decoder.decode(Line.self, from: Data(line)),
                let event = event(decoded, instance: instance)
            else { continue }
            events.append(event)
        }
        return events
    }

    static func event(_ line: Line, instance: String) -> AuditEvent? {
        guard line.kind == nil || line.kind == "Event", line.stage == "ResponseComplete" || line.stage == "Panic",
            let received = line.requestReceivedTimestamp, let time = RFC3339.parse(received),
            let verb = line.verb, let uri = line.requestURI
        else { return nil }
        let completed = line.stageTimestamp.flatMap(RFC3339.parse) ?? time
        var resource = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        if let object = line.objectRef, var name = object.resource {
            if let group = object.apiGroup, !group.isEmpty { name += "." + group }
            if let sub = object.subresource, !sub.isEmpty { name += "/" + sub }
            resource = name
        }
        let seconds = max(completed.timeIntervalSince(time), 0)
        return AuditEvent(
            instance: instance, timestamp: received, time: time, user: line.user?.username ?? "",
            verb: verb, resource: resource, namespace: line.objectRef?.namespace, name: line.objectRef?.name,
            code: line.responseStatus?.code, latency: .microseconds(Int64((seconds * 1_000_000).rounded())),
            requestURI: uri, auditID: line.auditID ?? "", userAgent: line.userAgent)
    }

    /// The events of a log file; none when the file does not exist (yet).
    /// - Parameters:
    ///   - since: only requests received at or after this time.
    ///   - offset: where to start reading: the log's size at an earlier moment (``size(_:)``), so
    ///     that what was written before is not read again (a line cut there is skipped).
    public static func read(_ path: String, instance: String, since: Date? = nil, from offset: UInt64 = 0)
        -> [AuditEvent]
    {
        guard let data = contents(path, from: offset) else { return [] }
        let events = parse(data, instance: instance)
        guard let since else { return events }
        return events.filter { $0.time >= since }
    }

    /// The log's size now (0 when it does not exist yet): where a later ``read(_:instance:since:from:)``
    /// of what comes after starts.
    package static func size(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    static func contents(_ path: String, from offset: UInt64) -> Data? {
        guard offset > 0 else { return FileManager.default.contents(atPath: path) }
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: offset)
            return try handle.readToEnd() ?? Data()
        } catch {
            return nil
        }
    }

    /// An instance's log in its folder.
    package static func path(inInstanceFolder folder: String) -> String { InstanceLayout(folder).auditLog }

    /// Makes the log 0600 (O_NOFOLLOW: a symlink there is an error) before kube-apiserver starts:
    /// it logs every request's user and object, and kube-apiserver 1.20 would create it 0644,
    /// while it (and its log rotation) keeps the mode of a file that exists.
    static func prepare(_ path: String) throws(ProcessError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ProcessError(.files, "cannot create the audit log \(path): \(String(cString: strerror(errno)))")
        }
        fchmod(fd, 0o600)
        close(fd)
    }

    /// The instances of a run folder that have an audit log, by name (their folder's), sorted.
    package static func instances(inRun runDirectory: String) -> [(name: String, log: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory)) ?? []
        return names.sorted().compactMap { name in
            let log = path(inInstanceFolder: runDirectory + "/" + name)
            return FileManager.default.fileExists(atPath: log) ? (name, log) : nil
        }
    }

    /// Every event of a run folder's instances (or of the one named), oldest first; the events
    /// of one instance keep the log's order.
    package static func read(run runDirectory: String, instance: String? = nil, since: Date? = nil) -> [AuditEvent] {
        let logs = instances(inRun: runDirectory).filter { instance == nil || $0.name == instance }
        let all = logs.flatMap { read($0.log, instance: $0.name, since: since) }
        // A stable sort by time keeps each log's own order among equal times.
        return all.enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset
        }
        .map(\.element)
    }
}

/// RFC 3339 times as kube-apiserver writes them (`2026-12-01T19:29:41.123456Z`) and as
/// `--since` takes them (any fraction, `Z` or an offset).
package enum RFC3339 {
    package static func parse(_ text: String) -> Date? {
        let u = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= u.count else { return nil }
            var n = 0
            for c in u[from..<(from + count)] {
                guard c >= 48, c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        guard u.count >= 20, let year = number(0, 4), u[4] == UInt8(ascii: "-"), let month = number(5, 2),
            u[7] == UInt8(ascii: "-"),
            let day = number(8, 2),
            u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: "t") || u[10] == UInt8(ascii: " "),
            let hour = number(11, 2), u[13] == UInt8(ascii: ":"), let minute = number(14, 2),
            u[16] == UInt8(ascii: ":"),
            let second = number(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < u.count, u[i] >= 48, u[i] <= 57 {
                fraction += Double(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        guard i < u.count else { return nil }
        var offset = 0
        if u[i] == UInt8(ascii: "Z") || u[i] == UInt8(ascii: "z") {
            i += 1
        } else if u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            guard let h = number(i + 1, 2), i + 3 < u.count, u[i + 3] == UInt8(ascii: ":"), let m = number(i + 4, 2)
            else { return nil }
            offset = (h * 60 + m) * 60 * (u[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == u.count else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}
