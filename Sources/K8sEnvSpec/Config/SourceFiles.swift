import Foundation

/// Reads files once and remembers their bytes, by the name messages use, so diagnostics can
/// show the offending line and the cache key reads the same bytes that were validated.
package final class SourceFiles: @unchecked Sendable {
    // @unchecked: all state is behind `lock`.
    private let lock = NSLock()
    private var bytesByDisplay: [String: [UInt8]] = [:]

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

    /// Every file read so far, by display name.
    package var all: [String: [UInt8]] { lock.withLock { bytesByDisplay } }

    package var renderer: DiagnosticRenderer { DiagnosticRenderer(sources: all) }
}
