import Foundation

/// A file written under a fresh temporary name beside its target and renamed into place once
/// whole: created O_CREAT|O_EXCL|O_NOFOLLOW (a name planted beside the target, such as a symlink,
/// is never opened; another is tried) with its final mode, so it is never readable by others, not
/// even for a moment, and a reader sees the old file or the whole new one.
/// (PrivateFiles.writeAtomically writes a whole file through it in one call.)
final class AtomicFile {
    let path: String
    let temporary: String
    private var fd: Int32

    /// - Throws: ``ProcessError`` naming `path` when no temporary file can be made beside it.
    init(beside path: String, mode: mode_t = 0o600) throws(ProcessError) {
        self.path = path
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let name = path + ".tmp-" + String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 36)
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd >= 0 {
                fchmod(fd, mode)  // the umask may have taken bits away
                self.fd = fd
                temporary = name
                return
            }
            if errno == EEXIST || errno == EINTR { continue }
            throw ProcessError(.files, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        throw ProcessError(.files, "cannot write \(path): no free temporary name beside it after 100 tries")
    }

    deinit { abandon() }

    /// Appends `bytes`.
    func write(_ bytes: ArraySlice<UInt8>) throws(ProcessError) {
        let failure: Int32 = bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return 0
        }
        if failure != 0 { throw ProcessError(.files, "cannot write \(path): \(String(cString: strerror(failure)))") }
    }

    func write(_ bytes: [UInt8]) throws(ProcessError) { try write(bytes[...]) }

    /// Syncs the file and renames it over `path` (rename replaces a symlink at `path`, never its
    /// target); with `replacing: false`, links it there instead, keeping a file already at
    /// `path` (two writers at once: the first wins).
    /// - Parameter durable: false for a file that need not outlive a crash of the machine (a
    ///   lease's kubeconfig): no fsync.
    func commit(replacing: Bool = true, durable: Bool = true) throws(ProcessError) {
        guard fd >= 0 else { throw ProcessError(.files, "cannot write \(path): already closed") }
        if durable { fsync(fd) }
        close(fd)
        fd = -1
        if replacing {
            guard rename(temporary, path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temporary)
                throw ProcessError(.files, "cannot write \(path): \(reason)")
            }
        } else {
            let linked = link(temporary, path) == 0 || errno == EEXIST
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            guard linked else { throw ProcessError(.files, "cannot write \(path): \(reason)") }
        }
    }

    /// Closes and removes the temporary file (nothing once committed).
    func abandon() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(temporary)
    }
}
