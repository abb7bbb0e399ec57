import Foundation
import K8sEnvTestSupport
import Testing

/// A folder under the system's temporary folder, created for one test and removed when the
/// body returns or throws (a scoped fixture: no test leaves files behind).
struct TemporaryFolder {
    /// Absolute path, without a trailing slash.
    let path: String

    /// Runs `body` with a fresh folder and removes it on every path out.
    static func with<T>(_ body: (TemporaryFolder) throws -> T) throws -> T {
        let base = FileManager.default.temporaryDirectory.path
        let path = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/k8senv-spec-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(TemporaryFolder(path: path))
    }

    /// The absolute path of `relative` inside the folder.
    func callAsFunction(_ relative: String) -> String { path + "/" + relative }

    /// Writes a file (creating the folders it needs) and returns its absolute path.
    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        try write(relative, bytes: Array(text.utf8))
    }

    @discardableResult
    func write(_ relative: String, bytes: [UInt8]) throws -> String {
        let full = self(relative)
        let folder = (full as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: full, contents: Data(bytes)) else {
            throw FixtureError("cannot write \(full)")
        }
        return full
    }

    func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: self(relative), withIntermediateDirectories: true)
    }

    /// `path` written relative to the process's current folder (`../../tmp/…`), so a test can
    /// name a config the way a user in another folder would, without changing the current
    /// folder (tests run in parallel).
    func relativeToCurrentDirectory(_ relative: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath.split(separator: "/")
        let target = self(relative).split(separator: "/")
        var common = 0
        while common < cwd.count, common < target.count, cwd[common] == target[common] { common += 1 }
        let ups = Array(repeating: "..", count: cwd.count - common)
        return (ups + target[common...].map(String.init)).joined(separator: "/")
    }
}
