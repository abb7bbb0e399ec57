import CK8sEnvSupport
import Foundation
import K8sEnvStore
#if canImport(Glibc)
import Glibc
#endif

/// A request of the pool API, as read from a connection.
package struct HTTPRequest: Sendable {
    package var method: String
    /// The path without its query.
    package var path: String
    package var query: [String: String]
    package var body: [UInt8]
}

/// An answer: a status and a JSON body.
package struct HTTPResponse: Sendable {
    package var status: Int
    package var body: [UInt8]

    package init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }

    /// `value` as JSON.
    package static func json(_ status: Int, _ value: some Encodable) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return HTTPResponse(status: status, body: Array((try? encoder.encode(value)) ?? Data("{}".utf8)))
    }

    /// `{"error": {"code": …, "message": …}}`.
    package static func error(_ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        struct Body: Encodable { var error: Detail }
        struct Detail: Encodable { var code: String; var message: String }
        return json(status, Body(error: Detail(code: code, message: message)))
    }
}

/// The process at the other end of a connection, from `SO_PEERCRED`.
package struct Peer: Sendable {
    package var pid: Int32
    package var uid: UInt32
}

/// Serves HTTP/1.1 on a Unix socket (0600), one thread per connection and one request per
/// connection (`Connection: close`). A peer of another uid is refused with 403 (its request is read
/// but never handled). The handler is async; the connection's thread waits for it, and may ask whether the
/// client has gone meanwhile (``Connection/isClosed``).
package final class UnixHTTPServer: Sendable {
    package let path: String
    private let descriptor: Int32
    private let state = NSLockedFlag()
    private let handler: @Sendable (HTTPRequest, Peer, Connection) async -> HTTPResponse

    /// A connection's liveness, for a handler that waited long.
    package struct Connection: Sendable {
        let descriptor: Int32
        /// Whether the client closed its end (it gave up waiting).
        package var isClosed: Bool { k8senv_peer_closed(descriptor) == 1 }
    }

    /// Binds `path` (replacing a stale socket file, never anything else) and starts accepting.
    package init(path: String, handler: @escaping @Sendable (HTTPRequest, Peer, Connection) async -> HTTPResponse) throws(ProcessError) {
        let fd: Int32
        switch UnixSocket.listen(at: path, backlog: 512) {
        case .success(let listening): fd = listening
        case .failure(let error): throw ProcessError(.files, "cannot serve the pool API on \(path): \(error)")
        }
        self.path = path
        self.descriptor = fd
        self.handler = handler
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "k8senv-pool-api"
        thread.start()
    }

    /// Stops accepting and removes the socket file. Requests in flight finish.
    package func stop() {
        guard state.set() else { return }
        unlink(path)
        Glibc.shutdown(descriptor, Int32(SHUT_RDWR))  // wakes the accept
    }

    private func acceptLoop() {
        while true {
            let client = k8senv_accept(descriptor)
            if state.isSet {
                if client >= 0 { close(client) }
                break
            }
            guard client >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    usleep(10_000)  // out of descriptors: wait for some to be closed, without spinning
                    continue
                }
                break
            }
            let thread = Thread { [self] in serve(client) }
            thread.stackSize = 256 << 10
            thread.start()
        }
        close(descriptor)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var peer = Peer(pid: 0, uid: 0)
        guard k8senv_peer_credentials(fd, &peer.pid, &peer.uid) == 0 else { return }
        // The request is read (bounded) before any answer: closing a socket with unread data
        // resets it, and the client would see a reset instead of the answer.
        let request: HTTPRequest
        switch Self.read(fd) {
        case .request(let r): request = r
        case .bad(let message): return Self.write(fd, .error(400, "bad-request", message))
        case .closed: return
        }
        guard peer.uid == getuid() else {
            // Nothing of it is handled: the peer learns only that it is refused.
            Self.write(fd, .error(403, "forbidden", "the pool API serves only uid \(getuid()); this connection is from uid \(peer.uid)"))
            return
        }
        let box = ResponseBox()
        let done = DispatchSemaphore(value: 0)
        let handler = self.handler
        Task {
            box.response = await handler(request, peer, Connection(descriptor: fd))
            done.signal()
        }
        done.wait()
        Self.write(fd, box.response ?? .error(500, "internal", "no answer"))
    }

    private enum ReadResult { case request(HTTPRequest), bad(String), closed }

    /// Reads one request: the head (at most 16 KiB) and a body of `Content-Length` (at most 1 MiB).
    private static func read(_ fd: Int32) -> ReadResult {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return buffer.isEmpty ? .closed : .bad("the request ended before its headers did") }
            buffer += chunk[0..<n]
            if let range = buffer.firstRange(of: separator) { headEnd = range.lowerBound }
            if headEnd == nil, buffer.count > 16 << 10 { return .bad("the request's headers are longer than 16 KiB") }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let parts = lines.removeFirst().split(separator: " ").map(String.init)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return .bad("not an HTTP/1.1 request line") }
        var contentLength = 0
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "content-length" {
                guard let n = Int(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)), n >= 0, n <= 1 << 20 else {
                    return .bad("Content-Length must be a number of bytes up to 1 MiB")
                }
                contentLength = n
            } else if line[..<colon].lowercased() == "transfer-encoding" {
                return .bad("send the body with a Content-Length (no chunked encoding)")
            }
        }
        var body = Array(buffer[(headEnd! + 4)...])
        while body.count < contentLength {
            let n = recv(fd, &chunk, min(chunk.count, contentLength - body.count), 0)
            if n <= 0 { return .bad("the body ended after \(body.count) of \(contentLength) bytes") }
            body += chunk[0..<n]
        }
        let target = parts[1]
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if pathPart.count == 2 {
            for item in pathPart[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(pair[0]).removingPercentEncoding ?? String(pair[0])
                query[key] = pair.count == 2 ? (String(pair[1]).removingPercentEncoding ?? String(pair[1])) : ""
            }
        }
        return .request(HTTPRequest(method: parts[0], path: String(pathPart[0]), query: query, body: Array(body.prefix(contentLength))))
    }

    private static func write(_ fd: Int32, _ response: HTTPResponse) {
        let reason = [200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                      405: "Method Not Allowed", 500: "Internal Server Error", 503: "Service Unavailable"][response.status] ?? "Status"
        let head = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(response.body.count + 1)\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8) + response.body + [10]
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

/// A response handed from the handler's task to the connection's thread (after a semaphore).
private final class ResponseBox: @unchecked Sendable {
    var response: HTTPResponse?
}

/// A flag set once, readable from any thread.
private final class NSLockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    /// Sets it; false when it was set already.
    func set() -> Bool { lock.withLock { defer { value = true }; return !value } }
}
