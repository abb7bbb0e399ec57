import Foundation

/// Folders made 0700 and files written 0600: keys, tokens and kubeconfigs are secrets.
package enum PrivateFiles {
    /// Creates a folder (and its parents) with mode 0700.
    package static func makeDirectory(_ path: String) throws(ProcessError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            chmod(path, 0o700)
        } catch {
            throw ProcessError(.files, "cannot create the folder \(path): \(error.localizedDescription)")
        }
    }

    /// Writes a file with mode 0600 (created with that mode: never readable by others, not
    /// even for a moment), replacing it atomically.
    package static func write(_ text: String, to path: String) throws(ProcessError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ProcessError(.files, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw ProcessError(.files, "cannot write \(path): \(reason)")
            }
            written += n
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ProcessError(.files, "cannot write \(path): \(reason)")
        }
    }
}
