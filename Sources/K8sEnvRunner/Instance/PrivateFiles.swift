import Foundation

/// Folders made 0700 and files written 0600: keys, tokens and kubeconfigs are secrets.
///
/// Nothing here follows a symlink it did not make or writes through a name someone else could
/// have planted: folders are made one component at a time and checked with lstat, files are
/// written to a fresh temporary name (O_CREAT|O_EXCL|O_NOFOLLOW) and renamed into place
/// (docs/explanation/security.md).
package enum PrivateFiles {
    /// Creates a folder with mode 0700, and its missing parents.
    ///
    /// Each missing component is made with `mkdir` (0700) and checked with `lstat` (a real folder
    /// of this user, so a name planted between the two is refused); each component below `base`
    /// that exists already, and `path` itself, must be a real folder of this user (not a symlink).
    /// Only folders made here are chmod'ed: a folder that existed keeps its mode.
    /// - Parameters:
    ///   - path: the folder.
    ///   - base: a folder already trusted (the state folder, a run folder); components above it
    ///     are taken as they are. Nil: only the missing components and `path` are checked.
    /// - Throws: ``ProcessError`` naming the component that could not be made or is not ours.
    package static func makeDirectory(_ path: String, below base: String? = nil) throws(ProcessError) {
        // A relative path (a relative XDG_CACHE_HOME, say) is taken from the current folder, as
        // the files written in it will be.
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        }
        let components = absolute(path).split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let trusted =
            base.map { absolute($0).split(separator: "/", omittingEmptySubsequences: true).count } ?? components.count
            - 1
        var current = ""
        for (index, component) in components.enumerated() {
            current += "/" + component
            var info = stat()
            if lstat(current, &info) == 0 {
                // Below the trusted base (and the folder itself): a real folder of this user.
                if index >= trusted { try requireOwnedFolder(current) }
                continue
            }
            guard errno == ENOENT else { throw failure(current, String(cString: strerror(errno))) }
            guard mkdir(current, 0o700) == 0 else {
                guard errno == EEXIST else { throw failure(current, String(cString: strerror(errno))) }
                try requireOwnedFolder(current)  // made by another of our processes at the same moment
                continue
            }
            let made = try requireOwnedFolder(current)
            if made.st_mode & 0o777 != 0o700 { chmod(current, 0o700) }  // made here: the umask took bits away
        }
    }

    /// Throws unless `path` is a real folder (not a symlink) of this user.
    @discardableResult
    private static func requireOwnedFolder(_ path: String) throws(ProcessError) -> stat {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw failure(path, String(cString: strerror(errno))) }
        switch info.st_mode & S_IFMT {
        case S_IFLNK: throw failure(path, "it is a symlink (k8senv only writes in folders it can prove are yours)")
        case S_IFDIR:
            guard info.st_uid == getuid() else {
                throw failure(
                    path,
                    "it belongs to another user (uid \(info.st_uid)); k8senv only writes in folders it can prove are yours"
                )
            }
        default: throw failure(path, "it is not a folder")
        }
        return info
    }

    private static func failure(_ path: String, _ reason: String) -> ProcessError {
        ProcessError(.files, "cannot create the folder \(path): \(reason)")
    }

    /// Writes a file with mode 0600 (created with that mode: never readable by others, not
    /// even for a moment), replacing it atomically.
    package static func write(_ text: String, to path: String, durable: Bool = true) throws(ProcessError) {
        try writeAtomically(bytes: Array(text.utf8), to: path, durable: durable)
    }

    /// Writes `bytes` to `path` through a temporary file in the same folder, created with
    /// O_CREAT|O_EXCL|O_NOFOLLOW under a random name (another on EEXIST), so a name planted
    /// beside the target (a symlink to a file elsewhere) is never opened; then renames it over
    /// `path` (rename replaces a symlink at `path`, never its target). The folder must be one
    /// k8senv made or checked (``makeDirectory(_:below:)``, ``StateFolder/refusal``).
    /// - Parameters:
    ///   - mode: the file's mode (0600: secrets).
    ///   - replacing: false to keep a file already at `path` (two writers at once: the first
    ///     wins; link(2) instead of rename(2)).
    ///   - durable: false for a file that need not outlive a crash of the machine: no fsync.
    /// - Throws: ``ProcessError`` naming `path` when it cannot be written.
    package static func writeAtomically(
        bytes: [UInt8], to path: String, mode: mode_t = 0o600,
        replacing: Bool = true, durable: Bool = true
    ) throws(ProcessError) {
        let file = try AtomicFile(beside: path, mode: mode)
        try file.write(bytes)
        try file.commit(replacing: replacing, durable: durable)
    }
}
