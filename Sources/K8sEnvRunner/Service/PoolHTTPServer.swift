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

/// Serves the pool API: HTTP/1.1 on a Unix socket (0600), on SwiftNIO's event loops, one request
/// per connection (`Connection: close`).
///
/// What a client of this user, or anyone else who can reach the socket, can make it do is bounded:
/// - a peer of another uid (`SO_PEERCRED`) is answered 403 and nothing of its request is handled;
/// - at most ``Limits/connections`` connections are open at once, and
///   ``Limits/connectionsPerProcess`` from one process: one over either is answered 503
///   `too-many-connections` at once and closed;
/// - a request must arrive whole (head and body) within ``Limits/requestDeadline`` of the
///   connection, else it is answered 408 `request-timeout` and closed — however slowly its
///   bytes trickle in;
/// - a body is at most 1 MiB (a head at most what SwiftNIO's HTTP parser takes, 80 KiB).
///
/// A client may half-close its end after sending its request: the request is handled and
/// answered. A client that closes its end entirely while the handler waits (an acquire queued for
/// an instance) is seen by the handler through ``PoolConnection/isClosed``.
package final class PoolHTTPServer: Sendable {
    /// What the server takes before it refuses.
    package struct Limits: Sendable {
        package var connections = 1024
        package var connectionsPerProcess = 256
        package var requestDeadline: Duration = .seconds(10)
        package var maxBodyBytes = 1 << 20

        package init() {}
    }

    package typealias Handler = @Sendable (HTTPRequest, Peer, PoolConnection) async -> HTTPResponse

    package let path: String
    private let channel: any Channel
    private let stopped = Atomic<Bool>(false)

    /// Binds `path` (replacing a stale socket file, never anything else; 0600 from the start) and
    /// starts serving.
    package init(path: String, limits: Limits = Limits(), handler: @escaping Handler) throws(ProcessError) {
        let fd: Int32
        switch UnixSocket.listen(at: path, backlog: 512) {
        case .success(let listening): fd = listening
        case .failure(let error): throw ProcessError(.files, "cannot serve the pool API on \(path): \(error)")
        }
        let admission = Admission(limits: limits)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                Self.initialize(channel, limits: limits, admission: admission, handler: handler)
            }
        do {
            channel = try bootstrap.withBoundSocket(fd).wait()
        } catch {
            close(fd)
            unlink(path)
            throw ProcessError(.files, "cannot serve the pool API on \(path): \(error)")
        }
        self.path = path
    }

    deinit {
        stop()
    }

    /// Stops accepting and removes the socket file. Requests in flight finish.
    package func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        unlink(path)
        channel.close(promise: nil)
    }

    /// The peer's credentials, its admission, then the HTTP pipeline.
    private static func initialize(
        _ channel: any Channel, limits: Limits, admission: Admission,
        handler: @escaping Handler
    ) -> EventLoopFuture<Void> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let credentials: EventLoopFuture<k8senv_ucred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(k8senv_so_peercred()))
        return credentials.flatMap { credentials in
            let peer = Peer(pid: credentials.pid, uid: credentials.uid)
            let admitted = admission.admit(peer.pid)
            if admitted {
                channel.closeFuture.whenComplete { _ in admission.leave(peer.pid) }
            }
            do {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                try channel.pipeline.syncOperations.addHandler(HTTPResponseEncoder())
                let refusal: HTTPResponse? =
                    if !admitted {
                        .error(
                            503, .tooManyConnections,
                            "the pool service has \(limits.connections) connections open, or \(limits.connectionsPerProcess) from process \(peer.pid): close some and try again"
                        )
                    } else if peer.uid != getuid() {
                        // Nothing of its request is handled: the peer learns only that it is refused.
                        .error(
                            403, .forbidden,
                            "the pool API serves only uid \(getuid()); this connection is from uid \(peer.uid)")
                    } else {
                        nil
                    }
                try channel.pipeline.syncOperations.addHandler(
                    PoolRequestHandler(peer: peer, limits: limits, refusal: refusal, handler: handler))
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
    }
}

/// A connection's liveness, for a handler that waits long.
package final class PoolConnection: Sendable {
    private let closed = Atomic<Bool>(false)

    package init() {}

    /// Whether the client closed its connection entirely (it gave up waiting). A client that only
    /// half-closed it (shut down its writing side after the request) still waits for the answer.
    package var isClosed: Bool { closed.load(ordering: .acquiring) }

    func markClosed() { closed.store(true, ordering: .releasing) }
}

/// Counts the open connections, in all and by peer process (the pool service's; the token
/// webhook's, on TCP, counts them all under one key).
final class Admission: Sendable {
    private struct Counts {
        var total = 0
        var byProcess: [Int32: Int] = [:]
    }

    private let limits: PoolHTTPServer.Limits
    private let counts = Mutex(Counts())

    init(limits: PoolHTTPServer.Limits) {
        self.limits = limits
    }

    /// Takes a place for a connection of `pid`; false when there is none.
    func admit(_ pid: Int32) -> Bool {
        counts.withLock { counts in
            guard counts.total < limits.connections, counts.byProcess[pid, default: 0] < limits.connectionsPerProcess
            else { return false }
            counts.total += 1
            counts.byProcess[pid, default: 0] += 1
            return true
        }
    }

    func leave(_ pid: Int32) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.byProcess[pid, default: 1] - 1
            counts.byProcess[pid] = left > 0 ? left : nil
        }
    }
}

/// Reads one request (bounded in size and time), hands it to the service's handler, writes the
/// answer and closes.
private final class PoolRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case awaitingHead
        case readingBody(HTTPRequestHead)
        case handling
        case answered
    }

    private let peer: Peer
    private let limits: PoolHTTPServer.Limits
    private let refusal: HTTPResponse?
    private let handler: PoolHTTPServer.Handler
    private let connection = PoolConnection()
    private var state = State.awaitingHead
    /// The body read so far (kept apart from `state`, so appending does not copy it).
    private var body: [UInt8] = []
    private var deadline: Scheduled<Void>?

    init(peer: Peer, limits: PoolHTTPServer.Limits, refusal: HTTPResponse?, handler: @escaping PoolHTTPServer.Handler) {
        self.peer = peer
        self.limits = limits
        self.refusal = refusal
        self.handler = handler
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if let refusal, refusal.status == 503 {
            // Over the limits: answered at once, so a flood of connections holds no descriptors.
            answer(context, refusal)
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: TimeAmount(limits.requestDeadline)) {
            let (handler, context) = loopBound.value
            handler.timedOut(context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingHead):
            if head.headers[canonicalForm: "transfer-encoding"].contains(where: { $0.lowercased() != "identity" }) {
                return answer(
                    context, .error(400, .badRequest, "send the body with a Content-Length (no chunked encoding)"))
            }
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
                return answer(context, .error(413, .tooLarge, "Content-Length must be a number of bytes up to 1 MiB"))
            }
            state = .readingBody(head)
        case (.body(let buffer), .readingBody):
            guard body.count + buffer.readableBytes <= limits.maxBodyBytes else {
                return answer(context, .error(413, .tooLarge, "the request's body is larger than 1 MiB"))
            }
            body += buffer.readableBytesView
        case (.end, .readingBody(let head)):
            deadline?.cancel()
            state = .handling
            if let refusal { return answer(context, refusal) }
            let request = HTTPRequest(method: head.method.rawValue, target: head.uri, body: body)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let (handler, peer, connection, eventLoop) = (self.handler, self.peer, self.connection, context.eventLoop)
            Task {
                let response = await handler(request, peer, connection)
                eventLoop.execute {
                    let (this, context) = loopBound.value
                    this.answer(context, response)
                }
            }
        default:
            break  // after an answer, or parts of a request that was already refused
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            switch state {
            case .awaitingHead:
                context.close(promise: nil)  // opened and closed without a request
            case .readingBody:
                answer(context, .error(400, .badRequest, "the request ended before its body did"))
            case .handling, .answered:
                break  // a half-close after the request: the answer is still wanted
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.markClosed()
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .handling = state {
            // Bytes after the request (it was read whole): the handler's answer is still due —
            // an acquire's grant must reach its client, never be dropped for a 400.
            return
        }
        if error is HTTPParserError {
            let tooLong = (error as? HTTPParserError) == .headerOverflow
            answer(
                context,
                tooLong
                    ? .error(431, .tooLarge, "the request's headers are too long")
                    : .error(400, .badRequest, "not an HTTP/1.1 request: \(error)"))
        } else {
            context.close(promise: nil)
        }
    }

    private func timedOut(_ context: ChannelHandlerContext) {
        switch state {
        case .awaitingHead, .readingBody:
            answer(
                context,
                .error(408, .requestTimeout, "the request did not arrive whole within \(limits.requestDeadline)"))
        case .handling, .answered:
            break
        }
    }

    /// Writes `response` (once) and closes the connection.
    private func answer(_ context: ChannelHandlerContext, _ response: HTTPResponse) {
        if case .answered = state { return }
        state = .answered
        deadline?.cancel()
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(response.body.count + 1))
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        var body = context.channel.allocator.buffer(capacity: response.body.count + 1)
        body.writeBytes(response.body)
        body.writeInteger(UInt8(ascii: "\n"))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
