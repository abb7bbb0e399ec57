import Foundation

/// One manifest file (CRDs or seeds) after folders are expanded.
package struct ManifestFile: Sendable, Hashable {
    /// Relative to the config file's folder (absolute when outside it); the cache key uses it.
    package var relativePath: String
    /// As messages show it: joined to the config folder as the user named it.
    package var displayPath: String
    /// Where to read it.
    package var path: String

    package init(relativePath: String, displayPath: String, path: String) {
        self.relativePath = relativePath
        self.displayPath = displayPath
        self.path = path
    }
}

/// Expands the paths a config lists into files: a file as it is; a folder recursively, keeping
/// `.yaml`, `.yml` and `.json` files, skipping names that start with a dot, sorted by path.
package enum ManifestFiles {
    static let extensions: Set<String> = ["yaml", "yml", "json"]

    package static func expand(_ reference: PathReference, in config: Config) throws(Diagnostic) -> [ManifestFile] {
        let written = reference.written
        let absolute = written.hasPrefix("/")
        let relative = normalize(written)
        let path = absolute ? written : join(config.directory, written)
        let display = absolute ? relative : join(config.directory, relative)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Diagnostic(
                .path, at: reference.location,
                "\(reference.keyPath): \(written) does not exist (relative paths start from the folder of \(config.file))"
            )
        }
        guard isDirectory.boolValue else {
            try requireRegularFile(path, display: written, at: reference.location, keyPath: reference.keyPath)
            return [ManifestFile(relativePath: relative, displayPath: display, path: path)]
        }
        var files: [ManifestFile] = []
        try walk(path, relative: relative, display: display, depth: 0, location: reference.location, into: &files)
        if files.isEmpty {
            throw Diagnostic(
                .path, at: reference.location,
                "\(reference.keyPath): the folder \(written) holds no .yaml, .yml or .json files")
        }
        return files.sorted { $0.relativePath.utf8.lexicographicallyPrecedes($1.relativePath.utf8) }
    }

    private static func walk(
        _ path: String, relative: String, display: String, depth: Int,
        location: SourceLocation, into files: inout [ManifestFile]
    ) throws(Diagnostic) {
        guard depth < 32 else {
            throw Diagnostic(.path, at: location, "\(display) nests folders more than 32 deep (a symlink loop?)")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw Diagnostic(.path, at: location, "cannot list \(display): \(error.localizedDescription)")
        }
        for name in names where !name.hasPrefix(".") {
            let childPath = path + "/" + name
            let childRelative = relative == "." ? name : relative + "/" + name
            let childDisplay = display == "." ? name : display + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: childPath, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                try walk(
                    childPath, relative: childRelative, display: childDisplay, depth: depth + 1, location: location,
                    into: &files)
            } else if let ext = name.split(separator: ".").last, name.contains("."),
                extensions.contains(ext.lowercased())
            {
                try requireRegularFile(childPath, display: childDisplay, at: location, keyPath: nil)
                files.append(ManifestFile(relativePath: childRelative, displayPath: childDisplay, path: childPath))
            }
        }
    }

    /// A FIFO, socket or device would block or never end when read: such an entry is an error,
    /// never opened.
    private static func requireRegularFile(
        _ path: String, display: String, at location: SourceLocation,
        keyPath: String?
    ) throws(Diagnostic) {
        guard let kind = FileBytes.irregularKind(path) else { return }  // reading it reports any other error
        let prefix = keyPath.map { "\($0): " } ?? ""
        throw Diagnostic(
            .path, at: location, "\(prefix)\(display) is \(kind), not a regular file; manifests must be regular files")
    }

    /// Joins a folder as the user named it with a relative path, without a leading "./".
    package static func join(_ directory: String, _ path: String) -> String {
        if path.hasPrefix("/") || directory == "." || directory.isEmpty { return normalize(path) }
        return normalize(directory + "/" + path)
    }

    /// Removes "." segments, empty segments and resolvable ".." segments.
    package static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}
