import Foundation
import K8sEnvSystem
import Synchronization

/// Free TCP ports on 127.0.0.1: bind to port 0, read the port the kernel chose, close.
/// Another process may take it before ours binds: when a process ends before it was ready,
/// callers ask ``isTaken(_:)`` of the ports it was given (``ProcessError/asPortConflict(ports:)``)
/// and retry with new ones; see docs/explanation/runner.md, "Ports".
package enum Ports {
    /// Ports handed out for a later listener that is not ours (the test's webhook server): no
    /// kube-apiserver or store of this process is given one of them while nothing listens there.
    private static let reserved = Mutex<Set<Int>>([])

    /// A free port, kept from ``free()`` for the rest of the process.
    package static func reserve() throws(ProcessError) -> Int {
        let port = try free()
        reserved.withLock { _ = $0.insert(port) }
        return port
    }

    /// Keeps `port` (one the config names) from ``free()`` for the rest of the process.
    package static func reserve(_ port: Int) {
        reserved.withLock { _ = $0.insert(port) }
    }

    package static func free() throws(ProcessError) -> Int {
        for _ in 0..<16 {
            let port = try kernelChoice()
            if !reserved.withLock({ $0.contains(port) }) { return port }
        }
        return try kernelChoice()
    }

    private static func kernelChoice() throws(ProcessError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProcessError(.files, "cannot open a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard withLoopbackAddress(port: 0, { bind(fd, $0, $1) }) == 0 else {
            throw ProcessError(.launchFailed, "cannot bind a port on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Calls `body` with the address 127.0.0.1:`port` and its length.
    private static func withLoopbackAddress<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Whether a listener holds 127.0.0.1:`port`: binding it fails with `EADDRINUSE`. Bound with
    /// `SO_REUSEADDR`, as Go's listeners (kube-apiserver's) bind, so the connections a process
    /// that ended left in TIME_WAIT do not count: only what would make its bind fail.
    package static func isTaken(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = withLoopbackAddress(port: port) { bind(fd, $0, $1) }
        return bound != 0 && errno == EADDRINUSE
    }

    /// Whether something accepts connections on 127.0.0.1:port.
    package static func isOpen(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withLoopbackAddress(port: port) { connect(fd, $0, $1) } == 0
    }

    /// Whether something accepts connections on the Unix socket at `path`.
    package static func accepts(unixSocket path: String) -> Bool {
        guard case .success(let fd) = UnixSocket.connect(to: path) else { return false }
        close(fd)
        return true
    }
}

extension ProcessError {
    /// This failure as a port conflict (code ``Code/portTaken``) when its process ended before it
    /// was ready and one of `ports`, which it was given to bind, is held by another process now:
    /// its bind failed there. Else this failure as it is. Asked once the process is gone (its
    /// own listener closed with it).
    func asPortConflict(ports: [Int]) -> ProcessError {
        guard code == .exited, let taken = ports.first(where: Ports.isTaken) else { return self }
        var error = self
        error.code = .portTaken
        error.message +=
            " (port \(taken) on 127.0.0.1, chosen for it, was taken by another process before it could bind it)"
        return error
    }
}

/// The folder of an instance's store sockets: the instance folder itself (0700: only its owner
/// can reach them), or, when that path is too long for a Unix socket address (107 bytes) or holds
/// characters a URL cannot carry as they are, a private folder of its own under /tmp, removed
/// when the store stops.
package struct SocketFolder: Sendable {
    package let path: String
    /// Whether ``path`` was made for the store alone (and is removed with it).
    package let isPrivate: Bool

    /// The longest socket name put in the folder (etcd's peer socket).
    static let longestName = "etcd-peer.sock:0"

    package static func make(for directory: String, longestName: String = longestName) throws(ProcessError)
        -> SocketFolder
    {
        if directory.utf8.count + 1 + longestName.utf8.count <= 107, isPlain(directory) {
            return SocketFolder(path: directory, isPrivate: false)
        }
        var template = Array("/tmp/k8senv-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ProcessError(
                .files, "cannot make a folder for the store's socket under /tmp: \(String(cString: strerror(errno)))")
        }
        let path = String(cString: made)
        chmod(path, 0o700)
        // Beside the instance's other files, for whoever looks for it (a retry's replaces the last).
        let link = InstanceLayout(directory).socketsLink
        try? FileManager.default.removeItem(atPath: link)
        try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        return SocketFolder(path: path, isPrivate: true)
    }

    /// Whether `path` goes into a `unix://` URL as it is: kube-apiserver parses `--etcd-servers`
    /// as comma-separated URLs, so a space, quote, `%`, `?`, `#` or comma would break it.
    static func isPlain(_ path: String) -> Bool {
        path.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "/._-+@=~".utf8.contains(byte)
        }
    }

    /// Removes the private socket folder an instance folder links to (a crashed run's), if it is
    /// one k8senv makes: a real folder named /tmp/k8senv-…, of this user.
    static func removeLinked(from instanceDirectory: String) {
        guard
            let target = try? FileManager.default.destinationOfSymbolicLink(
                atPath: InstanceLayout(instanceDirectory).socketsLink),
            target.hasPrefix("/tmp/k8senv-"), !target.dropFirst(5).contains("/")
        else { return }
        var status = stat()
        guard lstat(target, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == getuid() else { return }
        try? FileManager.default.removeItem(atPath: target)
    }

    /// Removes a socket file a store left at `name` (a store stopped by a signal may not remove
    /// it, and etcd's client listener will not bind over it); anything that is not a socket stays.
    func removeStaleSocket(_ name: String) {
        var status = stat()
        let socket = path + "/" + name
        if lstat(socket, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK { unlink(socket) }
    }

    /// Removes the private folder (the instance folder stays).
    package func remove() {
        if isPrivate { try? FileManager.default.removeItem(atPath: path) }
    }
}
