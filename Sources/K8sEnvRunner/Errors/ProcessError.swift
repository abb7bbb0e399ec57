/// A process that could not be found, started, or brought to ready, or that died; or a file,
/// folder or socket an instance needs that could not be made. Reported as a ``K8sEnvError`` in
/// its ``domain`` (binary, process, storage or cache), with this as the cause.
package struct ProcessError: Error, Sendable, CustomStringConvertible {
    package struct Code: RawRepresentable, Sendable, Hashable {
        package var rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package static let notFound = Code(rawValue: "not-found")
        package static let launchFailed = Code(rawValue: "launch-failed")
        package static let exited = Code(rawValue: "exited")
        /// The process ended before it was ready because a port it was to bind was taken by
        /// another process (``Ports/isTaken(_:)``, asked after it ended): a start retries with
        /// another port.
        package static let portTaken = Code(rawValue: "port-taken")
        package static let timeout = Code(rawValue: "timeout")
        package static let unexpectedOutput = Code(rawValue: "unexpected-output")
        /// A folder, file, certificate or socket could not be made, read or written.
        package static let files = Code(rawValue: "files")
        /// A program that `validate` or `hash` may not run without `--probe-binaries`
        /// (``BinaryProbe``).
        package static let notProbed = Code(rawValue: "not-probed")
    }

    package var code: Code
    package var message: String
    /// The command line, shown so the user can run it by hand.
    package var command: [String]
    /// The last lines of the process's log, if it wrote any.
    package var logTail: String?
    package var logPath: String?
    /// What part failed: `.binary` for a program not found, `.storage` for a store, `.cache` for
    /// a snapshot, else `.process`.
    package var domain: K8sEnvError.Domain
    /// The error underneath (a store's, an encoder's), when there is one.
    package var cause: (any Error & Sendable)?

    package init(
        _ code: Code, _ message: String, command: [String] = [], logTail: String? = nil, logPath: String? = nil,
        domain: K8sEnvError.Domain? = nil, cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.command = command
        self.logTail = logTail
        self.logPath = logPath
        self.domain = domain ?? (code == .notFound ? .binary : .process)
        self.cause = cause
    }

    /// The same failure, reported as one of `domain` (a store's process, a snapshot's copy).
    package func within(_ domain: K8sEnvError.Domain) -> ProcessError {
        var error = self
        error.domain = domain
        return error
    }

    package var description: String {
        var out = message
        if !command.isEmpty { out += "\n  command: " + command.map(Self.quote).joined(separator: " ") }
        if let logPath { out += "\n  log: \(logPath)" }
        if let logTail, !logTail.isEmpty {
            out +=
                "\n  last lines of the log:\n"
                + logTail.split(separator: "\n", omittingEmptySubsequences: false)
                .map { "    | " + $0 }.joined(separator: "\n")
        }
        return out
    }

    /// Quotes an argument for display the way a shell user would type it (and could paste it).
    static func quote(_ s: String) -> String { Lifecycle.shellQuote(s) }
}
