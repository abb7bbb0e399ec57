import Foundation
import Synchronization

/// Threads that keep opening TCP connections to a port and sending HTTP/2's client preface and
/// a SETTINGS frame (the start of every gRPC connection), keeping a few open and closing the
/// oldest. Blocking socket calls on their own threads, never on the cooperative pool.
public final class ConnectionHammer: Sendable {
    private struct State {
        var port = 0
        var running = true
        var stopping = false
        var total = 0
        var duringStop = 0
        var perPort: [Int: Int] = [:]
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

    public func target(port: Int) { state.withLock { $0.port = port } }
    public func stopping(_ value: Bool) { state.withLock { $0.stopping = value } }
    public func opened(on port: Int) -> Int { state.withLock { $0.perPort[port] ?? 0 } }

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
            let (port, running) = state.withLock { ($0.port, $0.running) }
            guard running else { break }
            guard port != 0 else { usleep(1_000); continue }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard connected else { close(fd); usleep(500); continue }
            _ = preface.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            state.withLock { state in
                state.total += 1
                state.perPort[port, default: 0] += 1
                if state.stopping { state.duringStop += 1 }
            }
            open.append(fd)
            if open.count > 8 { close(open.removeFirst()) }
        }
        for fd in open { close(fd) }
        state.withLock { $0.exited += 1 }
    }
}
