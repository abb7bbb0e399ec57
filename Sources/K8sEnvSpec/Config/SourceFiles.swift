import Foundation

/// Reads files once and remembers their bytes, by the name messages use, so diagnostics can
/// show the offending line (of a file inside the repository) and the cache key reads the same
/// bytes that were validated; and
/// parses each manifest file once per run (the config's checks and the applier share the objects).
package final class SourceFiles: @unchecked Sendable {
    // @unchecked: all state is behind `lock`.
    private let lock = NSLock()
    private var bytesByDisplay: [String: [UInt8]] = [:]
    /// The display names of the files read from inside ``repository``.
    private var insideRepository = Set<String>()
    private var repositoryTree: RepositoryTree?
    private var manifestsByFile: [ManifestFile: Result<[ManifestObject], Diagnostics>] = [:]
    private var parseCount = 0

    package init() {}

    /// The repository of the config being read (``ConfigLoader`` sets it before reading the
    /// config): messages quote lines only of the files inside it. None: no lines are quoted.
    package var repository: RepositoryTree? {
        get { lock.withLock { repositoryTree } }
        set { lock.withLock { repositoryTree = newValue } }
    }

    /// Reads a file.
    /// - Parameters:
    ///   - path: where it is (absolute, or relative to the current folder).
    ///   - display: the name messages use for it.
    /// - Throws: a ``Diagnostic`` saying why it could not be read.
    package func read(_ path: String, display: String, referencedAt location: SourceLocation? = nil) throws(Diagnostic)
        -> [UInt8]
    {
        if let cached = lock.withLock({ bytesByDisplay[display] }) { return cached }
        guard let bytes = FileBytes.read(path) else {
            let reason: String
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                reason = "no such file"
            } else if isDirectory.boolValue {
                reason = "it is a folder"
            } else if let kind = FileBytes.irregularKind(path) {
                reason = "it is \(kind), not a regular file"
            } else {
                reason = "it is not readable"
            }
            throw Diagnostic(
                .io, at: location ?? SourceLocation(file: display, mark: nil), "cannot read \(display): \(reason)")
        }
        let inside = repository?.contains(path) ?? false
        lock.withLock {
            bytesByDisplay[display] = bytes
            if inside { insideRepository.insert(display) }
        }
        return bytes
    }

    /// A manifest file's objects, parsed by `parse` the first time and remembered (errors too).
    package func manifests(_ file: ManifestFile, parse: () throws(Diagnostics) -> [ManifestObject]) throws(Diagnostics)
        -> [ManifestObject]
    {
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

    /// The files read so far whose lines messages may quote, by display name: those inside
    /// ``repository`` (symlinks resolved). A file outside it (a `crds:` entry naming
    /// `~/.aws/credentials`) is named with its position alone.
    package var quotable: [String: [UInt8]] {
        lock.withLock { bytesByDisplay.filter { insideRepository.contains($0.key) } }
    }

    package var renderer: DiagnosticRenderer { DiagnosticRenderer(sources: quotable) }
}
