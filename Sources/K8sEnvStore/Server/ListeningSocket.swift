import K8sEnvSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket (TCP, or Unix) made with close-on-exec, for the gRPC server to take over.
///
/// SwiftNIO opens its sockets without FD_CLOEXEC, so every child a process forks without closing
/// its descriptors (Foundation's `Process` on Linux, for one) would inherit the store's listener
/// and keep the port accepting connections after the store has stopped, for as long as the child
/// lives. The embedded store runs inside its users' processes, test processes that start tools;
/// its listener must not leak into them.
enum ListeningSocket {
    /// Binds `host:port` (port 0: one the kernel picks) and listens.
    /// - Returns: the descriptor and the bound port.
    /// - Throws: ``StoreError`` naming the address and the system's reason.
    static func make(host: String, port: Int) throws(StoreError) -> (descriptor: Int32, port: Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw StoreError(.invalidArgument, "cannot listen on \(host):\(port): not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure(host, port) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && listen(fd, 256) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            let error = failure(host, port)
            close(fd)
            throw error
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Binds a Unix socket at `path` (made 0600, replacing a stale socket file) and listens.
    /// - Throws: ``StoreError`` naming the path and the system's reason.
    static func makeUnix(path: String) throws(StoreError) -> Int32 {
        switch UnixSocket.listen(at: path) {
        case .success(let fd): return fd
        case .failure(let error): throw StoreError(.internal, "cannot listen on \(path): \(error)")
        }
    }

    private static func failure(_ host: String, _ port: Int) -> StoreError {
        StoreError(.internal, "cannot listen on \(host):\(port): \(String(cString: strerror(errno)))")
    }
}
