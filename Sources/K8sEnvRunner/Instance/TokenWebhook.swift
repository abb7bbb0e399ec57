import Foundation
import K8sEnvSpec
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The tokens of leases: kube-apiserver asks k8senv about every bearer token its token file does
/// not know (`--authentication-token-webhook-config-file`, a TokenReview per request: the
/// webhook's cache is off), and k8senv answers from here. A pool issues a lease's tokens when it
/// lends an instance and revokes them when the lease ends, before the instance is reset. See
/// docs/explanation/security.md, "Lease credentials".
package final class LeaseTokens: Sendable {
    package static let shared = LeaseTokens()

    /// By instance (the secret its kube-apiserver sends to the webhook), by token: who it is; and
    /// the fingerprints of those tokens.
    private struct Issued {
        var identities: [String: UserIdentity] = [:]
        var fingerprints: Set<String> = []
    }

    private let tokens = Mutex<[String: Issued]>([:])

    /// A new token of `identity` on the instance whose kube-apiserver authenticates with `reviewer`.
    package func issue(_ identity: UserIdentity, reviewer: String) -> String {
        let token = makeToken()
        let fingerprint = Self.fingerprint(token)
        tokens.withLock {
            $0[reviewer, default: Issued()].identities[token] = identity
            $0[reviewer, default: Issued()].fingerprints.insert(fingerprint)
        }
        return token
    }

    /// Ends `issued` on that instance: its next request with one of them is refused (401 when
    /// kube-apiserver asks who it is, 403 when it still remembers: see ``TokenWebhook``).
    package func revoke(_ issued: [String], reviewer: String) {
        tokens.withLock { all in
            for token in issued {
                all[reviewer]?.identities[token] = nil
                all[reviewer]?.fingerprints.remove(Self.fingerprint(token))
            }
            if all[reviewer]?.identities.isEmpty == true { all[reviewer] = nil }
        }
    }

    /// Every token of an instance that stops.
    package func forget(reviewer: String) {
        tokens.withLock { $0[reviewer] = nil }
    }

    /// Who `token` is on that instance; nil for a token never issued or revoked.
    package func review(_ token: String, reviewer: String) -> UserIdentity? {
        tokens.withLock { $0[reviewer]?.identities[token] }
    }

    /// Whether a live token of that instance has this fingerprint (``fingerprint(_:)``).
    package func isLive(fingerprint: String, reviewer: String) -> Bool {
        tokens.withLock { $0[reviewer]?.fingerprints.contains(fingerprint) ?? false }
    }

    /// What names a token in kube-apiserver's requests to the webhook without being the token:
    /// the first 16 bytes of its SHA-256, in hex.
    package static func fingerprint(_ token: String) -> String {
        String(SHA256Hasher.hex(Array(token.utf8)).prefix(32))
    }
}

/// The HTTPS endpoint on 127.0.0.1 that answers kube-apiserver's TokenReviews
/// (`authentication.k8s.io/v1`) and SubjectAccessReviews (`authorization.k8s.io/v1`) from
/// ``LeaseTokens``: one listener per k8senv process, shared by its instances, started with the
/// first instance.
///
/// Why both: kube-apiserver keeps every successful authentication 10 s on its own (a setting of
/// its code, in front of every token authenticator), so a token revoked within 10 s of its last
/// use would still be taken as its user. The TokenReview's answer therefore carries the token's
/// fingerprint in the user's `extra` (`k8senv.dev/lease-token`), which kube-apiserver keeps with
/// the user; the SubjectAccessReview of every request (first in `--authorization-mode`, no cache)
/// denies a request whose fingerprint is no longer live, and has no opinion on anything else. Its certificate is its own (one per process:
/// kube-apiserver connects to an IP address and sends no server name a listener could choose an
/// instance's certificate by); each instance's webhook kubeconfig names its CA. kube-apiserver
/// authenticates to it with a bearer secret of its instance, which also says whose tokens to
/// look in.
package enum TokenWebhook {
    package struct Endpoint: Sendable {
        package var url: String
        package var caCertificate: String
    }

    /// The listener, once started. It lives as long as the process: instances of every pool and
    /// session of the process use it, and nothing of it outlives the process.
    private static let listener = Mutex<Endpoint?>(nil)
    private static let starting = Mutex<Void>(())

    /// The endpoint, started on first use.
    /// - Throws: ``ProcessError`` when the certificate cannot be made or the port not bound.
    package static func endpoint() throws(ProcessError) -> Endpoint {
        if let endpoint = listener.withLock({ $0 }) { return endpoint }
        return try starting.withLock { _ throws(ProcessError) -> Endpoint in
            if let endpoint = listener.withLock({ $0 }) { return endpoint }
            let certificates = try Certificates.make(commonName: "k8senv-token-review")
            let context: NIOSSLContext
            do {
                let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificates.servingCertificate.utf8))
                let key = try NIOSSLPrivateKey(bytes: Array(certificates.servingKey.utf8), format: .pem)
                let tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
                context = try NIOSSLContext(configuration: tls)
            } catch {
                throw ProcessError(.launchFailed, "cannot load the token webhook's certificate: \(error)")
            }
            var limits = PoolHTTPServer.Limits()
            limits.connections = 256
            limits.connectionsPerProcess = 256
            let admission = Admission(limits: limits)
            let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    // Any local user can connect to 127.0.0.1: at most `connections` at once, and
                    // one silent for 30 s (kube-apiserver's keep-alive between reviews, or a
                    // connection that never speaks) is closed, so nobody can hold them all.
                    guard admission.admit(0) else {
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in admission.leave(0) }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(30)))
                        try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(TokenReviewHandler())
                    }
                }
            let channel: any Channel
            do { channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait() } catch {
                throw ProcessError(
                    .launchFailed, "cannot listen for kube-apiserver's token reviews on 127.0.0.1: \(error)")
            }
            let endpoint = Endpoint(
                url: "https://127.0.0.1:\(channel.localAddress?.port ?? 0)\(path)",
                caCertificate: certificates.caCertificate)
            listener.withLock { $0 = endpoint }
            return endpoint
        }
    }

    package static let path = "/review"

    /// The kubeconfig kube-apiserver reads the webhook from: the endpoint, its CA, and the
    /// instance's secret (`reviewer`) as the bearer token it sends.
    package static func kubeconfig(_ endpoint: Endpoint, reviewer: String) -> String {
        Kubeconfig.render(
            name: "k8senv-token-review", server: endpoint.url, caCertificate: endpoint.caCertificate, token: reviewer)
    }

    /// The `extra` key of a lease token's user: the token's fingerprint.
    package static let fingerprintKey = "k8senv.dev/lease-token"

    /// The group of a lease's admin token: allowed everything by the authorization webhook while
    /// the lease lives (as `system:masters` is by kube-apiserver itself, before any webhook, so a
    /// revoked token of that group could not be denied).
    package static let leaseAdminGroup = "k8senv:lease-admins"

    /// The reason a request with a revoked lease token is denied (in its 403's message).
    package static let endedReason = "k8senv: the lease this token belongs to has ended"

    /// The answer to one TokenReview or SubjectAccessReview body from the instance of `reviewer`
    /// (nil: neither). On every request kube-apiserver serves with a lease's token (a TokenReview
    /// when it does not remember the token, a SubjectAccessReview always), so decoded and encoded
    /// with `Codable` types (scripts/bench/bench-token-review.sh).
    package static func answer(_ body: [UInt8], reviewer: String) -> [UInt8]? {
        guard let review = try? decoder.decode(Review.self, from: Data(body)), let spec = review.spec else {
            return nil
        }
        let data: Data?
        switch review.kind {
        case "TokenReview":
            guard let token = spec.token else { return nil }
            var status = TokenReviewStatus(authenticated: false)
            if let identity = LeaseTokens.shared.review(token, reviewer: reviewer) {
                status = TokenReviewStatus(
                    authenticated: true,
                    user: .init(
                        username: identity.name, uid: identity.name, groups: identity.groups,
                        extra: [fingerprintKey: [LeaseTokens.fingerprint(token)]]))
            }
            data = try? encoder.encode(
                Answer(apiVersion: review.apiVersion ?? "authentication.k8s.io/v1", kind: "TokenReview", status: status)
            )
        case "SubjectAccessReview":
            // No opinion (allowed false, denied absent) leaves the decision to the next mode.
            var status = AccessReviewStatus(allowed: false)
            let fingerprints = spec.extra?[fingerprintKey] ?? []
            if fingerprints.contains(where: { !LeaseTokens.shared.isLive(fingerprint: $0, reviewer: reviewer) }) {
                status = AccessReviewStatus(allowed: false, denied: true, reason: endedReason)
            } else if !fingerprints.isEmpty, (spec.groups ?? []).contains(leaseAdminGroup) {
                status = AccessReviewStatus(allowed: true, reason: "k8senv: a live lease's admin token")
            }
            data = try? encoder.encode(
                Answer(
                    apiVersion: review.apiVersion ?? "authorization.k8s.io/v1", kind: "SubjectAccessReview",
                    status: status))
        default:
            return nil
        }
        return data.map { [UInt8]($0) }
    }

    /// What the webhook reads of a TokenReview or SubjectAccessReview.
    struct Review: Decodable {
        struct Spec: Decodable {
            /// TokenReview: the bearer token.
            var token: String?
            /// SubjectAccessReview: the user's groups and extra (a lease token's fingerprint).
            var groups: [String]?
            var extra: [String: [String]]?
        }
        var apiVersion: String?
        var kind: String?
        var spec: Spec?
    }

    struct Answer<Status: Encodable>: Encodable {
        var apiVersion: String
        var kind: String
        var status: Status
    }

    struct TokenReviewStatus: Encodable {
        struct User: Encodable {
            var username: String
            var uid: String
            var groups: [String]
            var extra: [String: [String]]
        }
        var authenticated: Bool
        var user: User?
    }

    struct AccessReviewStatus: Encodable {
        var allowed: Bool
        var denied: Bool?
        var reason: String?
    }

    // Shared by every review: neither is changed after it is made, and both are Sendable.
    private static let decoder = JSONDecoder()
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }()
}

/// One connection of kube-apiserver to the webhook: `POST /review` with its bearer secret,
/// a TokenReview in, a TokenReview out, kept alive.
final class TokenReviewHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Larger bodies are refused: a review is a token and a few audiences.
    static let limit = 64 << 10
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body.removeAll(keepingCapacity: true)
            tooLarge = false
        case .body(let buffer):
            if body.count + buffer.readableBytes > Self.limit {
                tooLarge = true
            } else {
                body += buffer.readableBytesView
            }
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let authorization = head.headers.first(name: "Authorization") ?? ""
        let reviewer = authorization.hasPrefix("Bearer ") ? String(authorization.dropFirst(7)) : ""
        let status: HTTPResponseStatus
        var answer: [UInt8] = []
        if head.method != .POST || !head.uri.hasPrefix(TokenWebhook.path) {
            status = .notFound
        } else if tooLarge {
            status = .payloadTooLarge
        } else if reviewer.isEmpty {
            status = .unauthorized
        } else if let review = TokenWebhook.answer(body, reviewer: reviewer) {
            status = .ok
            answer = review
        } else {
            status = .badRequest
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(answer.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}

/// Closes a connection of the webhook that has been silent for its read timeout.
final class CloseWhenIdle: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
