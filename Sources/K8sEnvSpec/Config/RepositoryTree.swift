import Foundation

/// The repository a config comes with, as k8senv draws it: the config file's folder and
/// everything under it, symlinks resolved. What is inside may come from anyone who can change
/// the repository (a pull request); what is outside is the user's.
///
/// Two uses: `validate` and `hash` run no program inside it (unless `--probe-binaries`), and
/// error messages quote lines only of files inside it (a config naming `~/.aws/credentials`
/// must not get its lines printed into a CI log).
package struct RepositoryTree: Sendable, Hashable {
    /// The config's folder, symlinks resolved.
    package let root: String

    /// - Parameter configFile: the config as the user named it.
    /// - Returns: nil when its folder cannot be resolved.
    package init?(configFile: String) {
        let slash = configFile.lastIndex(of: "/")
        let folder = slash.map { $0 == configFile.startIndex ? "/" : String(configFile[..<$0]) } ?? "."
        guard let root = Self.resolve(folder) else { return nil }
        self.root = root
    }

    /// True when `path`, symlinks resolved, is in the tree; false when it is outside or cannot
    /// be resolved.
    package func contains(_ path: String) -> Bool {
        guard let resolved = Self.resolve(path) else { return false }
        return Self.isInside(resolved, root)
    }

    /// True when `path`, symlinks resolved, is outside the tree; false when it is inside or
    /// cannot be resolved.
    package func excludes(_ path: String) -> Bool {
        guard let resolved = Self.resolve(path) else { return false }
        return !Self.isInside(resolved, root)
    }

    static func isInside(_ resolved: String, _ root: String) -> Bool {
        root == "/" || resolved == root || resolved.hasPrefix(root + "/")
    }

    /// The absolute path with every symlink resolved (realpath), or nil.
    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
