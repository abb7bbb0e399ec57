#if canImport(Glibc)
    import Glibc
#endif

/// A Unix socket's address and the two things done with it — bind and listen, connect — for the
/// embedded store's listener, the pool API's server and client, and the runner's readiness
/// probe: one place that fills a `sockaddr_un`.
package enum UnixSocket {
    /// The longest path a socket address holds (107 bytes on Linux).
    package static var maximumPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    /// Calls `body` with the address of `path`; nil when the path is empty or too long.
    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumPathLength else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in bytes.enumerated() { buffer[i] = byte }
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// A close-on-exec stream socket bound to `path` (a stale socket file there is replaced,
    /// nothing else), 0600 from the start (Linux gives the socket file the mode of the socket
    /// itself, set with `fchmod` before `bind`: no process-wide umask change), listening.
    /// - Returns: the descriptor, or the reason (`strerror`) it could not be made.
    package static func listen(at path: String, backlog: Int32 = 256) -> Result<Int32, UnixSocketError> {
        guard path.utf8.count <= maximumPathLength, !path.isEmpty else {
            return .failure(UnixSocketError(reason: "a Unix socket path has at most \(maximumPathLength) bytes"))
        }
        var existing = stat()
        if lstat(path, &existing) == 0, existing.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.fromErrno()) }
        let bound =
            fchmod(fd, 0o600) == 0 && (withAddress(path) { bind(fd, $0, $1) == 0 } ?? false)
            && chmod(path, 0o600) == 0  // and again, for a system that ignores the socket's own mode
        guard bound, Glibc.listen(fd, backlog) == 0 else {
            let error = UnixSocketError.fromErrno()
            close(fd)
            return .failure(error)
        }
        return .success(fd)
    }

    /// A close-on-exec stream socket connected to `path`.
    package static func connect(to path: String) -> Result<Int32, UnixSocketError> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.fromErrno()) }
        guard let connected = withAddress(path, { Glibc.connect(fd, $0, $1) == 0 }) else {
            close(fd)
            return .failure(UnixSocketError(reason: "a Unix socket path has at most \(maximumPathLength) bytes"))
        }
        guard connected else {
            let error = UnixSocketError.fromErrno()
            close(fd)
            return .failure(error)
        }
        return .success(fd)
    }
}

/// Why a Unix socket could not be made or reached, in the system's words.
package struct UnixSocketError: Error, Sendable, CustomStringConvertible {
    package var reason: String
    package var description: String { reason }
    static func fromErrno() -> UnixSocketError { UnixSocketError(reason: String(cString: strerror(errno))) }
}
