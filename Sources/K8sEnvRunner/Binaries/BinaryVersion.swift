import Foundation
import K8sEnvSpec

/// A Kubernetes-style version, `v1.20.2`.
package struct KubeVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var major: Int
    package var minor: Int
    package var patch: Int
    /// As the binary printed it, e.g. `v1.20.2` or `v1.31.0-rc.1`.
    package var text: String

    package init(major: Int, minor: Int, patch: Int = 0, text: String? = nil) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.text = text ?? "v\(major).\(minor).\(patch)"
    }

    /// Finds the first `vX.Y.Z` in text such as `Kubernetes v1.20.2` or `etcd Version: 3.4.23`.
    package init?(parsing output: String) {
        guard let match = output.firstMatch(of: /v?(\d+)\.(\d+)\.(\d+)([-+][0-9A-Za-z.\-+]*)?/) else { return nil }
        guard let major = Int(match.1), let minor = Int(match.2), let patch = Int(match.3) else { return nil }
        self.init(
            major: major, minor: minor, patch: patch,
            text: "v\(major).\(minor).\(patch)" + (match.4.map(String.init) ?? ""))
    }

    package static func < (a: KubeVersion, b: KubeVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    package var description: String { text }
}

/// Reads a binary's version by running it with `--version`.
package enum BinaryVersion {
    /// - Throws: ``ProcessError`` when the program cannot run or prints no version.
    /// Remembered per binary (path, size, modification time) in
    /// `${XDG_CACHE_HOME:-~/.cache}/k8senv/versions/`, so a start does not pay for it twice.
    package static func read(_ executable: String, arguments: [String] = ["--version"]) async throws(ProcessError)
        -> KubeVersion
    {
        let key = cacheKey(executable)
        if let key, let text = try? String(contentsOfFile: cacheDirectory + "/" + key, encoding: .utf8),
            let version = KubeVersion(parsing: text)
        {
            return version
        }
        let version = try await run(executable, arguments: arguments)
        if let key {
            try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            try? PrivateFiles.write(version.text + "\n", to: cacheDirectory + "/" + key)
        }
        return version
    }

    static var cacheDirectory: String { SnapshotStore.cacheRoot + "/versions" }

    /// SHA-256 of the binary's real path, size and modification time; nil if it cannot be read.
    static func cacheKey(_ executable: String) -> String? {
        let path =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: executable)).map {
                $0.hasPrefix("/") ? $0 : (executable as NSString).deletingLastPathComponent + "/" + $0
            } ?? executable
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? Int, let modified = attributes[.modificationDate] as? Date
        else { return nil }
        return SHA256Hasher.hex(Array("\(path)\n\(size)\n\(modified.timeIntervalSince1970)".utf8))
    }

    static func run(_ executable: String, arguments: [String]) async throws(ProcessError) -> KubeVersion {
        let output = try await self.output(of: executable, arguments: arguments)
        guard output.termination == .exited(0), let version = KubeVersion(parsing: output.text) else {
            throw output.error(
                .unexpectedOutput,
                "\(executable) --version \(output.termination == .exited(0) ? "printed no version" : output.termination.description)"
            )
        }
        return version
    }

    /// How a program that prints and exits ended, and what it printed (stdout and stderr).
    struct Output {
        var termination: Termination
        var text: String
        var command: [String]

        /// A failure of this run, with its command line and the last lines it printed.
        func error(_ code: ProcessError.Code, _ message: String) -> ProcessError {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            return ProcessError(code, message, command: command, logTail: lines.suffix(20).joined(separator: "\n"))
        }
    }

    /// Runs a program that prints and exits (`--version`, `--help`), its output going through
    /// a log file that is removed after.
    /// - Throws: ``ProcessError`` when it cannot start or does not end within 30 s.
    static func output(of executable: String, arguments: [String]) async throws(ProcessError) -> Output {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(
            "k8senv-output-\(UUID().uuidString).log"
        ).path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let process = try ChildProcess.launch(
            executable: executable, arguments: arguments,
            environment: ProcessInfo.processInfo.environment, logPath: log)
        guard let termination = await process.waitForExit(timeout: .seconds(30)) else {
            await process.stop(grace: .milliseconds(100))
            throw process.error(.timeout, "\(([executable] + arguments).joined(separator: " ")) did not finish in 30s")
        }
        return Output(
            termination: termination, text: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "",
            command: process.command)
    }
}
