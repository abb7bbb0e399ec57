import Foundation
import K8sEnvStore
#if canImport(Glibc)
import Glibc
#endif

/// A client of the pool API for `k8senv acquire` / `release` (and the tests): one request per
/// connection, blocking, with a deadline on every step.
package struct PoolClient: Sendable {
    package let socketPath: String

    package init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// The socket: `K8SENV_POOL`, else `<state folder>/pool.sock`.
    package static func locate(stateFolder: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["K8SENV_POOL"], !path.isEmpty { return path }
        return stateFolder + "/pool.sock"
    }

    /// An answer: the HTTP status and the JSON body.
    package struct Answer: Sendable {
        package var status: Int
        package var body: [UInt8]

        /// The `error` of an error body: code and message.
        package var error: (code: String, message: String)? {
            struct Body: Decodable { var error: Detail }
            struct Detail: Decodable { var code: String; var message: String }
            guard let body = try? JSONDecoder().decode(Body.self, from: Data(body)) else { return nil }
            return (body.error.code, body.error.message)
        }
    }

    /// Sends a request and reads the whole answer.
    /// - Throws: ``K8sEnvError`` `.pool`-domain: no service on the socket, or the service gone
    ///   before it answered.
    package func send(_ method: String, _ path: String, body: [UInt8] = [], timeout: Duration = .seconds(120)) throws(K8sEnvError) -> Answer {
        let fd: Int32
        switch UnixSocket.connect(to: socketPath) {
        case .success(let connected): fd = connected
        case .failure(let error):
            throw K8sEnvError(.noService, "no k8senv pool service is running at \(socketPath) (\(error)); start one with `k8senv up --detach`")
        }
        defer { close(fd) }
        let seconds = Int(timeout.components.seconds)
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: k8senv\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw K8sEnvError(.serviceGone, "the pool service at \(socketPath) is gone (\(String(cString: strerror(errno))))") }
            sent += n
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0, errno == EINTR { continue }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                throw K8sEnvError(.serviceGone, "the pool service at \(socketPath) did not answer within \(timeout)")
            }
            if n <= 0 { break }
            answer += chunk[0..<n]
        }
        guard let end = answer.firstRange(of: [13, 10, 13, 10]),
              let statusLine = String(decoding: answer[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n").first,
              let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw K8sEnvError(.serviceGone, "the pool service at \(socketPath) is gone: the connection closed without an answer")
        }
        return Answer(status: status, body: Array(answer[end.upperBound...]))
    }
}

extension K8sEnvError.Code {
    /// No pool service answers on the socket.
    public static let noService = K8sEnvError.Code("no-service", .pool)
    /// The pool service closed the connection without an answer.
    public static let serviceGone = K8sEnvError.Code("service-gone", .pool)
    /// The pool service answered with an error (its code is in the message).
    public static let refused = K8sEnvError.Code("refused", .pool)
}
