import Foundation

/// `k8senv init`'s line in the repository's .gitignore: the state folder `.k8senv/` (run records,
/// sockets, keys, logs) is the machine's, never the repository's, and should not show up in
/// `git status`.
package enum GitIgnore {
    /// The line written: unanchored, so it covers the state folder of a k8senv.yaml in any
    /// folder below the .gitignore.
    package static let entry = ".k8senv/"

    package enum Outcome: Equatable, Sendable {
        /// The line was added to the file (created when there was none).
        case added(String)
        /// The file ignores the state folder already.
        case present(String)
    }

    /// The .gitignore that should ignore the state folder of a config in `folder`: the one at the
    /// top of the git work tree `folder` is in (the nearest folder, `folder` itself or above,
    /// with a `.git` folder or file, as a worktree or submodule has; found without running git),
    /// else the one in `folder`.
    /// - Returns: its path (absolute at a work tree's top, else `folder` + "/.gitignore") and
    ///   whether it is in `folder` itself (where an anchored `/.k8senv/` covers the config).
    package static func file(for folder: String) -> (path: String, inFolder: Bool) {
        let absolute =
            ((folder.hasPrefix("/") ? folder : FileManager.default.currentDirectoryPath + "/" + folder)
            as NSString).standardizingPath
        var current = absolute
        while true {
            var info = stat()
            if lstat(current + "/.git", &info) == 0 {
                let top = current == "/" ? "" : current
                return (top + "/.gitignore", current == absolute)
            }
            if current == "/" || current.isEmpty { break }
            current = (current as NSString).deletingLastPathComponent
        }
        return (folder + "/.gitignore", true)
    }

    /// Whether a .gitignore's text already ignores the state folder: a line `.k8senv`, `.k8senv/`,
    /// `**/.k8senv` or `**/.k8senv/` (trailing spaces are not part of a pattern, as git reads
    /// them), or, when the file is in the config's folder, the anchored `/.k8senv` or `/.k8senv/`.
    package static func ignoresStateFolder(_ text: String, inFolder: Bool) -> Bool {
        var patterns: Set<String> = [".k8senv", ".k8senv/", "**/.k8senv", "**/.k8senv/"]
        if inFolder { patterns.formUnion(["/.k8senv", "/.k8senv/"]) }
        return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).contains {
            line in
            var line = Substring(line)
            while let last = line.last, last == " " || last == "\r" || last == "\t" { line = line.dropLast() }
            return patterns.contains(String(line))
        }
    }

    /// Adds ``entry`` to the .gitignore of ``file(for:)`` unless a line there, or in the config
    /// folder's own .gitignore below it, ignores the state folder already; creates the file
    /// (0644) when there is none. The file is read without following a symlink and replaced
    /// through a fresh temporary file renamed into place
    /// (``PrivateFiles/writeAtomically(bytes:to:mode:replacing:durable:)``), keeping its mode.
    /// - Throws: ``ProcessError`` when the .gitignore is a symlink (k8senv does not write through
    ///   one), not a regular file, or not this user's, or when its folder is not this user's,
    ///   or it cannot be read or written; the message says to add the line by hand.
    package static func ignoreStateFolder(in folder: String) throws(ProcessError) -> Outcome {
        let (path, inFolder) = file(for: folder)
        func refusal(_ reason: String) -> ProcessError {
            ProcessError(.files, "\(path) \(reason): add the line \(entry) yourself")
        }
        var folderInfo = stat()
        let parent = (path as NSString).deletingLastPathComponent
        guard lstat(parent.isEmpty ? "/" : parent, &folderInfo) == 0, folderInfo.st_mode & S_IFMT == S_IFDIR,
            folderInfo.st_uid == getuid()
        else {
            throw refusal(
                "is in a folder that is not one of yours (k8senv only writes in folders it can prove are yours)")
        }
        let current: (bytes: [UInt8], mode: mode_t)?
        do throws(Refusal) { current = try read(path) } catch { throw refusal(error.reason) }
        let existing = current?.bytes ?? []
        if ignoresStateFolder(String(decoding: existing, as: UTF8.self), inFolder: inFolder) { return .present(path) }
        // The config folder's own .gitignore, below the top: a line there covers the config too.
        let own = folder + "/.gitignore"
        if !inFolder, let mine = try? read(own),
            ignoresStateFolder(String(decoding: mine.bytes, as: UTF8.self), inFolder: true)
        {
            return .present(own)
        }
        var bytes = existing
        if let last = bytes.last, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        bytes += Array((entry + "\n").utf8)
        // A new file is linked into place (never over one made meanwhile); an old one replaced.
        try PrivateFiles.writeAtomically(
            bytes: bytes, to: path, mode: current?.mode ?? 0o644, replacing: current != nil)
        return .added(path)
    }

    private struct Refusal: Error { var reason: String }

    /// A .gitignore's bytes and mode, or nil when there is none; read with O_NOFOLLOW, and only
    /// a regular file of this user that is still the one `lstat` saw.
    /// - Throws: ``Refusal`` saying why it is not read (a symlink, not a regular file, another user's).
    private static func read(_ path: String) throws(Refusal) -> (bytes: [UInt8], mode: mode_t)? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw Refusal(reason: "cannot be read (\(String(cString: strerror(errno))))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFLNK: throw Refusal(reason: "is a symlink; k8senv does not write through one (it could point anywhere)")
        case S_IFREG: break
        default: throw Refusal(reason: "is not a regular file")
        }
        guard info.st_uid == getuid() else { throw Refusal(reason: "belongs to another user (uid \(info.st_uid))") }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Refusal(reason: "cannot be read (\(String(cString: strerror(errno))))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var opened = stat()
        guard fstat(fd, &opened) == 0, opened.st_ino == info.st_ino, opened.st_dev == info.st_dev else {
            throw Refusal(reason: "changed while it was read")
        }
        do { return (Array(try handle.readToEnd() ?? Data()), info.st_mode & 0o7777) } catch {
            throw Refusal(reason: "cannot be read (\(error.localizedDescription))")
        }
    }
}
