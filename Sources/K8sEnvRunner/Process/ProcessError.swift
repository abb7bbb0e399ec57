/// A process that could not be found, started, or brought to ready, or that died.
package struct ProcessError: Error, Sendable, CustomStringConvertible {
    package struct Code: RawRepresentable, Sendable, Hashable {
        package var rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package static let notFound = Code(rawValue: "not-found")
        package static let launchFailed = Code(rawValue: "launch-failed")
        package static let exited = Code(rawValue: "exited")
        package static let timeout = Code(rawValue: "timeout")
        package static let unexpectedOutput = Code(rawValue: "unexpected-output")
    }

    package var code: Code
    package var message: String
    /// The command line, shown so the user can run it by hand.
    package var command: [String]
    /// The last lines of the process's log, if it wrote any.
    package var logTail: String?
    package var logPath: String?

    package init(_ code: Code, _ message: String, command: [String] = [], logTail: String? = nil, logPath: String? = nil) {
        self.code = code
        self.message = message
        self.command = command
        self.logTail = logTail
        self.logPath = logPath
    }

    package var description: String {
        var out = message
        if !command.isEmpty { out += "\n  command: " + command.map(Self.quote).joined(separator: " ") }
        if let logPath { out += "\n  log: \(logPath)" }
        if let logTail, !logTail.isEmpty {
            out += "\n  last lines of the log:\n" + logTail.split(separator: "\n", omittingEmptySubsequences: false)
                .map { "    | " + $0 }.joined(separator: "\n")
        }
        return out
    }

    /// Quotes an argument for display the way a shell user would type it.
    static func quote(_ s: String) -> String {
        let safe = s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }
        return safe && !s.isEmpty ? s : "'" + s.replacing("'", with: "'\\''") + "'"
    }
}
