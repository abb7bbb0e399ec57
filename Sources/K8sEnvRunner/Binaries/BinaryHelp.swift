import Foundation
import K8sEnvSpec

/// What a Kubernetes binary's `--help` lists (feature gates, controllers), read once per binary.
///
/// The one cache behind ``FeatureGates/listed(by:)`` and ``ControllerNames/listed(by:)``: the
/// list is remembered per binary (path, size, modification time, as ``BinaryVersion`` does) in
/// `${XDG_CACHE_HOME:-~/.cache}/k8senv/<folder>/`, a file whose first line names its format.
package enum BinaryHelp {
    /// The list `parse` finds in `executable --help`, from the cache when it holds one.
    /// - Parameters:
    ///   - folder: the cache folder's name (`feature-gates`, `controllers`).
    ///   - format: the cache file's first line; a file with another is not used.
    ///   - encode: one line of the cache file per item; `decode` reads it back (nil: unusable).
    /// - Throws: ``ProcessError`` when the program cannot run or fails.
    package static func listed<Item>(
        by executable: String, folder: String, format: String,
        parse: (String) -> [Item], encode: (Item) -> String,
        decode: (Substring) -> Item?
    ) async throws(ProcessError) -> [Item] {
        let key = BinaryVersion.cacheKey(executable)
        let directory = SnapshotStore.cacheRoot + "/" + folder
        if let key, let text = try? String(contentsOfFile: directory + "/" + key, encoding: .utf8),
            let items = read(text, format: format, decode: decode)
        {
            return items
        }
        let output = try await BinaryVersion.output(of: executable, arguments: ["--help"])
        guard output.termination == .exited(0) else {
            throw output.error(.unexpectedOutput, "\(executable) --help \(output.termination.description)")
        }
        let items = parse(output.text)
        if let key {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try? PrivateFiles.write(write(items, format: format, encode: encode), to: directory + "/" + key)
        }
        return items
    }

    /// The cache file: the format line, then one line per item.
    static func write<Item>(_ items: [Item], format: String, encode: (Item) -> String) -> String {
        ([format] + items.map(encode)).joined(separator: "\n") + "\n"
    }

    /// The items of a cache file; nil when its format line differs or a line cannot be read.
    static func read<Item>(_ text: String, format: String, decode: (Substring) -> Item?) -> [Item]? {
        var lines = text.split(separator: "\n")
        guard lines.first.map(String.init) == format else { return nil }
        lines.removeFirst()
        var items: [Item] = []
        for line in lines {
            guard let item = decode(line) else { return nil }
            items.append(item)
        }
        return items
    }

    /// What `k8senv validate` adds to the config's own checks for one binary's list: each config
    /// (the file's, then each profile's) that `applies` checked with `check` against the binary
    /// the config names under `binaries`.
    /// - Parameters:
    ///   - key: the config key checked, for the note (`apiServer.featureGates`).
    ///   - probe: which programs may be run (``BinaryProbe``); one that may not gets a note.
    ///   - binary: the key under `binaries` (`kubeAPIServer`) and its value.
    ///   - location: where that key was written in a config.
    ///   - check: the errors of one config against the binary found.
    /// - Returns: errors (a profile's own marked `(with profile "p")`, as
    ///   ``ConfigLoader/loadAll(_:)`` does), and notes where the binary could not be found or
    ///   run, or was not run (``BinaryProbe``), so the check was skipped.
    package static func validate(
        _ configs: [Config], key: String, program: String, probe: BinaryProbe,
        binary: (Config) -> (key: String, name: String), applies: (Config) -> Bool,
        location: (Config) -> SourceLocation,
        check: (Config, String) async throws(ProcessError) -> [Diagnostic]
    ) async -> (errors: [Diagnostic], notes: [Diagnostic]) {
        var errors: [Diagnostic] = []
        var notes: [Diagnostic] = []
        var baseErrors = Set<Diagnostic>()
        for config in configs where applies(config) {
            var found: [Diagnostic]
            do throws(ProcessError) {
                let (binaryKey, name) = binary(config)
                let path = try probe.locate(binaryKey, name, in: config)
                found = try await check(config, path)
            } catch {
                let why = error.message.split(separator: "\n").first.map(String.init) ?? error.message
                let note = Diagnostic(
                    .notChecked, at: location(config), "\(key): not checked against \(program): \(why)", severity: .note
                )
                if let profile = config.profile {
                    // Said once when the file's own config has the same binary.
                    if notes.contains(note) { continue }
                    var marked = note
                    marked.message += " (with profile \"\(profile)\")"
                    notes.append(marked)
                } else {
                    notes.append(note)
                }
                continue
            }
            if let profile = config.profile {
                found = found.filter { !baseErrors.contains($0) }.map { d in
                    var d = d
                    d.message += " (with profile \"\(profile)\")"
                    return d
                }
            } else {
                baseErrors = Set(found)
            }
            errors += found
        }
        return (errors, notes)
    }
}
