import Foundation

/// kube-apiserver's log file, read for the lines that explain a failed request: a mark is
/// taken before the request, and the error lines written after it are quoted.
package struct ServerLog: Sendable {
    package let path: String

    package init(path: String) {
        self.path = path
    }

    /// A position in the log (its size when taken).
    package struct Mark: Sendable {
        var offset: UInt64
    }

    /// Taken before every request of a seed set: one stat(2), nothing more.
    package func mark() -> Mark {
        var status = stat()
        return Mark(offset: stat(path, &status) == 0 ? UInt64(status.st_size) : 0)
    }

    /// Error lines written since `mark`: klog's `E` lines and panic messages, at most
    /// `limit`, each cut to 300 characters. Concurrent requests share the log, so a line may
    /// concern a neighbour; the panic's message is what makes a failure clear.
    package func errors(since mark: Mark, limit: Int = 6) -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: mark.offset)) != nil,
            let data = try? handle.read(upToCount: 256 << 10)
        else { return [] }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        var picked: [String] = []
        for line in lines where Self.isError(line) && !picked.contains(line) {
            picked.append(line.count > 300 ? String(line.prefix(300)) + "…" : line)
            if picked.count == limit { break }
        }
        return picked
    }

    /// klog's error lines (`E1201 02:03:04.567890 …`) and Go panic lines.
    static func isError(_ line: String) -> Bool {
        if line.contains("panic") { return true }
        let head = Array(line.utf8.prefix(5))
        return head.count == 5 && head[0] == UInt8(ascii: "E")
            && head[1...].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
