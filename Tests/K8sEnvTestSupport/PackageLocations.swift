import Foundation

/// Where the package's files and the built k8senv are, for every test target.
public enum PackageLocations {
    /// The package root: two folders up from Tests/K8sEnvTestSupport/PackageLocations.swift.
    public static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// The built k8senv: K8SENV_BINARY (scripts/setup.sh exports it), else the one beside the
    /// running test bundle in the same build folder (whatever --scratch-path was), else .build/debug.
    public static let k8senvBinary: String = {
        if let path = ProcessInfo.processInfo.environment["K8SENV_BINARY"], !path.isEmpty { return path }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let sibling = (exe as NSString).deletingLastPathComponent + "/k8senv"
            if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        }
        return root + "/.build/debug/k8senv"
    }()
}

extension PackageLocations {
    /// A product built beside the running test bundle (k8senv-kine, say), else in .build/debug.
    public static func builtProduct(_ name: String) -> String {
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let sibling = (exe as NSString).deletingLastPathComponent + "/" + name
            if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        }
        return root + "/.build/debug/" + name
    }
}

/// A test's fixture could not be set up (a file missing, the binary not built).
public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension PackageLocations {
    /// The built k8senv, or a failure that says how to get it.
    public static func requireK8senvBinary() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: k8senvBinary) else {
            throw FixtureError("\(k8senvBinary) does not exist: run `swift build` in \(root) first")
        }
        return k8senvBinary
    }

    /// A file's bytes, or a failure naming it.
    public static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError("cannot read \(path)") }
        return [UInt8](data)
    }
}
