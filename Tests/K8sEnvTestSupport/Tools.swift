import Foundation

/// Runs a program to completion, capturing its output (for independent clients: kubectl, openssl, ss).
@discardableResult
public func runTool(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (
    status: Int32, output: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    // Output through a file, not a pipe: a pipe stays open as long as any process that
    // inherited it (a detached supervisor) lives.
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("k8senv-tool-\(UUID().uuidString)").path
    FileManager.default.createFile(atPath: output, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: output) }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    try? handle.close()
    process.waitUntilExit()
    let data = FileManager.default.contents(atPath: output) ?? Data()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// ``runTool`` on a thread of its own: waiting for a process must not block the few threads
/// Swift concurrency runs tasks on (with several at once, that starves the process reaping).
public func runToolAsync(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws
    -> (status: Int32, output: String)
{
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try runTool(executable, arguments, environment: environment)) } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}
