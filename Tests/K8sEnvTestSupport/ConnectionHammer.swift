import Foundation
import Synchronization

/// Threads that keep opening connections to a TCP port or a Unix socket and sending HTTP/2's client preface and
/// a SETTINGS frame (the start of every gRPC connection), keeping a few open and closing the
/// oldest. Blocking socket calls on their own threads, never on the cooperative pool.
public final class ConnectionHammer: Sendable {
    /// Where the connections go.
    public enum Target: Hashable, Sendable {
        case port(Int)
        case unixSocket(String)
    }

    private struct State {
        var target: Target?
        var running = true
        var stopping = false
        var total = 0
        var duringStop = 0
        var perTarget: [Target: Int] = [:]
        var exited = 0
    }
    private let state = Mutex(State())
    private let threads: Int

    public init(threads: Int) {
        self.threads = threads
        for _ in 0..<threads {
            let thread = Thread { [self] in loop() }
            thread.start()
        }
    }

    /// Port 0: no target (the threads wait).
    public func target(port: Int) { target(port == 0 ? nil : .port(port)) }
    public func target(_ target: Target?) { state.withLock { $0.target = target } }
    public func stopping(_ value: Bool) { state.withLock { $0.stopping = value } }
    public func opened(on port: Int) -> Int { opened(on: .port(port)) }
    public func opened(on target: Target) -> Int { state.withLock { $0.perTarget[target] ?? 0 } }

    /// Stops the threads (waits for them) and says how many connections they opened.
    @discardableResult
    public func finish() -> (total: Int, duringStop: Int) {
        state.withLock { $0.running = false }
        while state.withLock({ $0.exited }) < threads { usleep(1_000) }
        return state.withLock { ($0.total, $0.duringStop) }
    }

    private func loop() {
        // The HTTP/2 connection preface, then an empty SETTINGS frame.
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
        var open: [Int32] = []
        while true {
            let (target, running) = state.withLock { ($0.target, $0.running) }
            guard running else { break }
            guard let target else {
                usleep(1_000)
                continue
            }
            guard let fd = Self.dial(target) else {
                usleep(500)
                continue
            }
            _ = preface.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            state.withLock { state in
                state.total += 1
                state.perTarget[target, default: 0] += 1
                if state.stopping { state.duringStop += 1 }
            }
            open.append(fd)
            if open.count > 8 { close(open.removeFirst()) }
        }
        for fd in open { close(fd) }
        state.withLock { $0.exited += 1 }
    }

    /// A connected blocking socket, or nil (also for tests that speak a protocol by hand).
    public static func dial(_ target: Target) -> Int32? {
        let connected: Bool
        let fd: Int32
        switch target {
        case .port(let port):
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        case .unixSocket(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(fd)
                return nil
            }
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (i, byte) in bytes.enumerated() { buffer[i] = byte }
            }
            connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
        }
        guard connected else {
            close(fd)
            return nil
        }
        return fd
    }
}
