import Foundation

/// A `--trace` file as its viewers read it (docs/how-to/see-where-start-time-goes.md).
public enum TraceFile {
    public struct NotATrace: Error, CustomStringConvertible {
        public var description: String
    }

    /// The events of a trace file, closing the array when the writer did not (as the viewers do:
    /// a killed run leaves no `]`).
    public static func events(_ path: String) throws -> [[String: Any]] {
        var text = try String(contentsOfFile: path, encoding: .utf8)
        if !text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("]") {
            text = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasSuffix(",") { text.removeLast() }
            text += "]"
        }
        guard let events = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw NotATrace(description: "\(path) is not a JSON array of objects")
        }
        return events
    }

    /// The track (thread) names of `events`, by thread id.
    public static func tracks(_ events: [[String: Any]]) -> [Int: String] {
        var names: [Int: String] = [:]
        for event in events where event["name"] as? String == "thread_name" {
            if let tid = event["tid"] as? Int, let name = (event["args"] as? [String: Any])?["name"] as? String {
                names[tid] = name
            }
        }
        return names
    }
}
