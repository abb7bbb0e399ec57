import Foundation

/// Reads a whole file into a byte array with one copy (the kernel's into ours), where
/// `Data` then `[UInt8]` would make two.
package enum FileBytes {
    /// The file's bytes, or nil with `errno` set.
    package static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
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
                if n <= 0 { failed = n < 0; break }
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
