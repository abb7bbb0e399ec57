import Foundation

/// Reads a whole file into a byte array with one copy (the kernel's into ours), where
/// `Data` then `[UInt8]` would make two.
package enum FileBytes {
    /// What `path` is when it is not a regular file: "a FIFO (named pipe)", "a socket", "a
    /// character device", "a block device"; nil for a regular file, a folder, or a path that
    /// cannot be looked up (reading it then says why). Symlinks are followed; nothing is opened
    /// (opening a FIFO blocks until someone writes to it; opening a device can act on it).
    package static func irregularKind(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return irregularKind(mode: info.st_mode)
    }

    static func irregularKind(mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG, S_IFDIR: return nil
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "not a regular file"
        }
    }

    /// The file's bytes, or nil with `errno` set. A path that is not a regular file is never
    /// opened (``irregularKind(_:)``); one that becomes something else between the look and the
    /// open is opened without blocking (O_NONBLOCK) and refused.
    package static func read(_ path: String) -> [UInt8]? {
        guard irregularKind(path) == nil else {
            errno = EINVAL
            return nil
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            errno = EISDIR
            return nil
        }
        let size = Int(info.st_size)
        var failed = false
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var total = 0
            while total < size {
                let n = Glibc.read(fd, buffer.baseAddress! + total, size - total)
                if n < 0, errno == EINTR { continue }
                if n <= 0 {
                    failed = n < 0
                    break
                }
                total += n
            }
            count = total
        }
        if failed { return nil }
        // A file that grew while we read it (or a /proc file whose size is 0): read the rest.
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 65536) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }
}
