import Foundation

/// Reads files once and remembers their bytes, by the name messages use, so diagnostics can
/// show the offending line and the cache key reads the same bytes that were validated; and
/// parses each manifest file once per run (the config's checks and the applier share the objects).
package final class SourceFiles: @unchecked Sendable {
    // @unchecked: all state is behind `lock`.
    private let lock = NSLock()
    private var bytesByDisplay: [String: [UInt8]] = [:]
    private var manifestsByFile: [ManifestFile: Result<[ManifestObject], Diagnostics>] = [:]
    private var parseCount = 0

    package init() {}

    /// Reads a file.
    /// - Parameters:
    ///   - path: where it is (absolute, or relative to the current folder).
    ///   - display: the name messages use for it.
    /// - Throws: a ``Diagnostic`` saying why it could not be read.
    package func read(_ path: String, display: String, referencedAt location: SourceLocation? = nil) throws(Diagnostic) -> [UInt8] {
        if let cached = lock.withLock({ bytesByDisplay[display] }) { return cached }
        guard let bytes = FileBytes.read(path) else {
            let reason: String
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                reason = "no such file"
            } else if isDirectory.boolValue {
                reason = "it is a folder"
            } else {
                reason = "it is not readable"
            }
            throw Diagnostic(.io, at: location ?? SourceLocation(file: display, mark: nil), "cannot read \(display): \(reason)")
        }
        lock.withLock { bytesByDisplay[display] = bytes }
        return bytes
    }

    /// A manifest file's objects, parsed by `parse` the first time and remembered (errors too).
    package func manifests(_ file: ManifestFile, parse: () throws(Diagnostics) -> [ManifestObject]) throws(Diagnostics) -> [ManifestObject] {
        if let cached = lock.withLock({ manifestsByFile[file] }) { return try cached.get() }
        let result: Result<[ManifestObject], Diagnostics>
        do throws(Diagnostics) { result = .success(try parse()) } catch { result = .failure(error) }
        lock.withLock {
            manifestsByFile[file] = result
            parseCount += 1
        }
        return try result.get()
    }

    /// How many manifest files were parsed (each once).
    package var manifestParses: Int { lock.withLock { parseCount } }

    /// Every file read so far, by display name.
    package var all: [String: [UInt8]] { lock.withLock { bytesByDisplay } }

    package var renderer: DiagnosticRenderer { DiagnosticRenderer(sources: all) }
}
