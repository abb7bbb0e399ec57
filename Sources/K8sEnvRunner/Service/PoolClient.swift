import CK8sEnvSupport
import Foundation
import K8sEnvSystem
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A client of the pool API for `k8senv acquire` / `release`, an attached `run` and the tests:
/// one request per connection, on SwiftNIO's event loops, with a deadline.
///
/// It talks only to a pool service of its own user: the socket must be a socket of this user in
/// a real folder of this user (checked with `lstat`, so neither may be a symlink), and the
/// process that accepted the connection must run as this user (`SO_PEERCRED`). Anything else —
/// a socket another user planted where k8senv would look — is refused before a byte is sent.
package struct PoolClient: Sendable {
    package let socketPath: String

    package init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// The socket: `K8SENV_POOL`, else `<state folder>/pool.sock`.
    package static func locate(stateFolder: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let path = environment["K8SENV_POOL"], !path.isEmpty { return path }
        return stateFolder + "/pool.sock"
    }

    /// An answer: the HTTP status and the JSON body.
    package struct Answer: Sendable {
        package var status: Int
        package var body: [UInt8]

        package init(status: Int, body: [UInt8]) {
            self.status = status
            self.body = body
        }

        /// The `error` of an error body: code and message.
        package var error: (code: String, message: String)? {
            guard let body = try? JSONDecoder().decode(PoolErrorBody.self, from: Data(body)) else { return nil }
            return (body.error.code, body.error.message)
        }

        /// The error's code, when it is one this k8senv knows.
        package var errorCode: PoolErrorCode? { error.flatMap { PoolErrorCode(rawValue: $0.code) } }
    }

    /// Why `path` is not a socket this user's pool service made, or nil when it may be used.
    /// - Throws: ``K8sEnvError`` `.noService` when there is nothing at `path`.
    package static func refusal(ofSocket path: String) throws(K8sEnvError) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw K8sEnvError(
                .noService,
                "no k8senv pool service is running at \(path) (\(String(cString: strerror(errno)))); start one with `k8senv up --detach`"
            )
        }
        let me = geteuid()
        if info.st_mode & S_IFMT == S_IFLNK { return "\(path) is a symlink" }
        if info.st_mode & S_IFMT != S_IFSOCK { return "\(path) is not a socket" }
        if info.st_uid != me { return "\(path) belongs to uid \(info.st_uid), not to you (uid \(me))" }
        let folder = (path as NSString).deletingLastPathComponent
        var folderInfo = stat()
        guard lstat(folder.isEmpty ? "." : folder, &folderInfo) == 0 else {
            return "its folder \(folder) cannot be read"
        }
        if folderInfo.st_mode & S_IFMT == S_IFLNK { return "its folder \(folder) is a symlink" }
        if folderInfo.st_mode & S_IFMT != S_IFDIR { return "its folder \(folder) is not a folder" }
        if folderInfo.st_uid != me {
            return "its folder \(folder) belongs to uid \(folderInfo.st_uid), not to you (uid \(me))"
        }
        if folderInfo.st_mode & 0o022 != 0 { return "its folder \(folder) can be written by other users" }
        return nil
    }

    /// Sends a request and reads the whole answer.
    /// - Throws: ``K8sEnvError`` `.pool`-domain: `.untrustedSocket` (the socket or the process
    ///   behind it is not this user's), `.noService` (nothing listens), `.serviceGone` (the
    ///   service closed the connection without an answer, or did not answer within `timeout`).
    package func send(_ method: String, _ path: String, body: [UInt8] = [], timeout: Duration = .seconds(120))
        async throws(K8sEnvError) -> Answer
    {
        if let reason = try Self.refusal(ofSocket: socketPath) {
            throw K8sEnvError(
                .untrustedSocket,
                "not using the pool service socket \(socketPath): \(reason); k8senv talks only to a pool service of your own user"
            )
        }
        let fd: Int32
        switch UnixSocket.connect(to: socketPath) {
        case .success(let connected): fd = connected
        case .failure(let error):
            throw K8sEnvError(
                .noService,
                "no k8senv pool service is running at \(socketPath) (\(error)); start one with `k8senv up --detach`")
        }
        var pid: Int32 = 0
        var uid: UInt32 = 0
        guard k8senv_peer_credentials(fd, &pid, &uid) == 0, uid == geteuid() else {
            close(fd)
            throw K8sEnvError(
                .untrustedSocket,
                "not using the pool service at \(socketPath): the process behind it (pid \(pid)) runs as uid \(uid), not as you (uid \(geteuid())); k8senv talks only to a pool service of your own user"
            )
        }
        let socketPath = self.socketPath
        let result: Result<Answer, K8sEnvError> = await withCheckedContinuation { checked in
            // Resumed once, by whichever comes first: the answer, its failure, or a failed start.
            let continuation = ResumeOnce(checked)
            let answered = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    do {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            AnswerCollector(socketPath: socketPath, continuation: continuation))
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
                .withConnectedSocket(fd)
            answered.whenSuccess { channel in
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: "k8senv")
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(body.count))
                headers.add(name: "Connection", value: "close")
                let head = HTTPRequestHead(
                    version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: headers)
                var buffer = channel.allocator.buffer(capacity: body.count)
                buffer.writeBytes(body)
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    channel.pipeline.fireUserInboundEventTriggered(AnswerCollector.TimedOut(after: timeout))
                }
                channel.closeFuture.whenComplete { _ in timer.cancel() }
            }
            answered.whenFailure { error in
                continuation.resume(
                    .failure(K8sEnvError(.serviceGone, "the pool service at \(socketPath) is gone (\(error))")))
            }
        }
        return try result.get()
    }
}

/// Collects one answer and hands it to the waiting request, once.
private final class AnswerCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    struct TimedOut { var after: Duration }

    private let socketPath: String
    private let continuation: ResumeOnce
    private var status = 0
    private var body: [UInt8] = []

    init(socketPath: String, continuation: ResumeOnce) {
        self.socketPath = socketPath
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(let buffer): body += buffer.readableBytesView
        case .end:
            finish(.success(PoolClient.Answer(status: status, body: body)))
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let timedOut = event as? TimedOut {
            finish(
                .failure(
                    K8sEnvError(
                        .serviceGone, "the pool service at \(socketPath) did not answer within \(timedOut.after)")))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(
            .failure(
                K8sEnvError(
                    .serviceGone, "the pool service at \(socketPath) is gone: the connection closed without an answer"))
        )
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(K8sEnvError(.serviceGone, "the pool service at \(socketPath) is gone (\(error))")))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<PoolClient.Answer, K8sEnvError>) {
        continuation.resume(result)
    }
}

/// A continuation of ``PoolClient/send(_:_:body:timeout:)`` that the first of several paths
/// resumes; the others find it resumed.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result<PoolClient.Answer, K8sEnvError>, Never>?>

    init(_ continuation: CheckedContinuation<Result<PoolClient.Answer, K8sEnvError>, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ result: Result<PoolClient.Answer, K8sEnvError>) {
        continuation.withLock { $0.take() }?.resume(returning: result)
    }
}

extension K8sEnvError.Code {
    /// No pool service answers on the socket.
    public static let noService = K8sEnvError.Code("no-service", .pool)
    /// The pool service closed the connection without an answer.
    public static let serviceGone = K8sEnvError.Code("service-gone", .pool)
    /// The pool service answered with an error (its code is in the message).
    public static let refused = K8sEnvError.Code("refused", .pool)
    /// The socket, its folder, or the process behind it is not the user's own.
    public static let untrustedSocket = K8sEnvError.Code("untrusted-socket", .pool)
}
