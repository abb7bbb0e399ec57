import Foundation

/// A regular file mapped into memory read-only: no copy of it is made, and its pages come
/// straight from the page cache as they are read (for a 20 MB file, about 12 ms less than
/// `read` into fresh memory, which the kernel must zero, fault in and copy into).
///
/// The bytes live as long as the object. A file truncated by another process while it is
/// mapped makes reads past its new end fault, as with any memory-mapped input.
package final class MappedFile {
    package let bytes: UnsafeBufferPointer<UInt8>

    /// Maps the file, or returns nil when it is not a non-empty regular file or cannot be
    /// mapped (read it with ``FileBytes`` then).
    package init?(path: String) {
        guard FileBytes.irregularKind(path) == nil else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return nil }
        let size = Int(info.st_size)
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else { return nil }
        bytes = UnsafeBufferPointer(start: address.assumingMemoryBound(to: UInt8.self), count: size)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }
}
