import Foundation
import K8sEnvTestSupport
import Testing

/// Where the package's files are, found from this source file's path (the tests read the
/// checked-in corpus and schema, and run the built binary and the Python checks).
enum Repository {
    static let root = PackageLocations.root

    static let corpus = root + "/Tests/K8sEnvSpecTests/Corpus"
    static let schema = root + "/schemas/k8senv.schema.json"
    static let binary = PackageLocations.k8senvBinary
    static let checkScripts = root + "/scripts/check"

    /// The built k8senv, or a failure that says how to get it.
    static func requireBinary() throws -> String { try PackageLocations.requireK8senvBinary() }

    static func read(_ path: String) throws -> [UInt8] { try PackageLocations.read(path) }

    /// Files under `folder` (recursively) whose names end with `suffix`, as paths relative to
    /// `folder`, sorted.
    static func files(under folder: String, suffix: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var found: [String] = []
        while let name = walker.nextObject() as? String {
            if name.hasSuffix(suffix) { found.append(name) }
        }
        return found.sorted()
    }
}

/// What a finished child process left behind.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a short-lived program to completion (python3, the built k8senv). Output is collected
/// through files, not pipes, so a chatty child cannot block on a full pipe.
func run(_ executable: String, _ arguments: [String], currentDirectory: String? = nil) throws -> ProcessResult {
    try TemporaryFolder.with { folder in
        let out = folder("stdout")
        let err = folder("stderr")
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: String(decoding: try Repository.read(out), as: UTF8.self),
            stderr: String(decoding: try Repository.read(err), as: UTF8.self))
    }
}

/// Runs python3 on a script of scripts/check/.
func python(_ script: String, _ arguments: [String]) throws -> ProcessResult {
    try run("/usr/bin/env", ["python3", Repository.checkScripts + "/" + script] + arguments)
}
