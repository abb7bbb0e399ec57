import Foundation

/// A folder under the system's temporary folder, made for one test and removed with it: when
/// the last reference goes, or when the body of ``with(_:)`` returns or throws. The one
/// temporary-folder fixture of every test target.
public final class TemporaryFolder: Sendable {
    /// Absolute path, without a trailing slash.
    public let path: String

    public init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/k8senv-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Runs `body` with a fresh folder and removes it on every path out.
    public static func with<T>(_ body: (TemporaryFolder) throws -> T) throws -> T {
        let folder = try TemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder.path) }
        return try body(folder)
    }

    /// The absolute path of `relative` inside the folder.
    public func callAsFunction(_ relative: String) -> String { path + "/" + relative }

    /// Writes a file (creating the folders it needs) and returns its absolute path.
    @discardableResult
    public func write(_ relative: String, _ text: String) throws -> String {
        try write(relative, bytes: Array(text.utf8))
    }

    @discardableResult
    public func write(_ relative: String, bytes: [UInt8]) throws -> String {
        let full = self(relative)
        let folder = (full as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: full, contents: Data(bytes)) else {
            throw FixtureError("cannot write \(full)")
        }
        return full
    }

    public func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: self(relative), withIntermediateDirectories: true)
    }

    /// `path` written relative to the process's current folder (`../../tmp/…`), so a test can
    /// name a config the way a user in another folder would, without changing the current
    /// folder (tests run in parallel).
    public func relativeToCurrentDirectory(_ relative: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath.split(separator: "/")
        let target = self(relative).split(separator: "/")
        var common = 0
        while common < cwd.count, common < target.count, cwd[common] == target[common] { common += 1 }
        let ups = Array(repeating: "..", count: cwd.count - common)
        return (ups + target[common...].map(String.init)).joined(separator: "/")
    }
}

/// Whether a pid runs (a zombie, dead but not reaped, does not count), as `ps` would say.
public func isRunning(_ pid: Int32) -> Bool {
    guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex
    else { return false }
    // The state follows the command name in parentheses.
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}
