import AsyncHTTPClient
import Foundation
import K8sEnvSystem
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An error from the API server or from reaching it.
public struct KubeClientError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status, or nil when the server could not be reached.
    public var status: Int?
    public var message: String
    /// The server's Status object (its JSON), when it sent one.
    public var body: [UInt8]
    /// True when the request got no answer within its deadline.
    public var timedOut = false

    public var description: String { message }

    /// The server's `Status.message`, when the body is a Status.
    public var serverMessage: String? {
        JSONValue.parse(body)?["message"]?.string
    }
}

/// An HTTPS client for one kube-apiserver: trusts only the instance's CA, sends its bearer
/// token. Paths are API paths (`/api/v1/namespaces/default/configmaps`); bodies are JSON.
public final class KubeClient: Sendable {
    /// `https://127.0.0.1:PORT`.
    public let server: String
    private let token: String
    private let http: HTTPClient
    /// The event loop of the client's connection, as a task executor: requests run there, and
    /// so do the tasks of whoever sends many at once (``Applier``'s seeding).
    package let executor: EventLoopExecutor
    /// Whether ``shutdown()`` closes `http` (false for a client made by ``with(token:)``, which
    /// shares its parent's connections).
    private let ownsConnections: Bool

    /// - Parameters:
    ///   - server: `https://127.0.0.1:PORT`.
    ///   - caCertificate: PEM of the CA that signed the serving certificate.
    package init(server: String, caCertificate: String, token: String) throws {
        self.server = server
        self.token = token
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caCertificate.utf8)))
        tls.certificateVerification = .fullVerification
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        // No request spans: nothing reads them, and the default (the global no-op tracer) still
        // costs every request a dynamic cast and a span's attributes.
        configuration.tracing.tracer = nil
        // One event loop for the client: its connection lives there, and so do its requests' tasks
        // (``executor``), so an answer is handled where it is read. Clients spread over the loops.
        executor = EventLoopExecutor(MultiThreadedEventLoopGroup.singleton.next())
        http = HTTPClient(eventLoopGroupProvider: .shared(executor.eventLoop), configuration: configuration)
        ownsConnections = true
    }

    private init(server: String, token: String, http: HTTPClient, executor: EventLoopExecutor) {
        self.server = server
        self.token = token
        self.http = http
        self.executor = executor
        ownsConnections = false
    }

    /// A client of the same server, over the same connections, that sends `token` instead (a
    /// lease's). It is closed with this one.
    package func with(token: String) -> KubeClient {
        KubeClient(server: server, token: token, http: http, executor: executor)
    }

    /// Closes connections. Call once, when done (instances close their own client on stop).
    package func shutdown() async {
        guard ownsConnections else { return }
        try? await http.shutdown()
    }

    /// A response: the HTTP status and the body.
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        /// The response's headers (`ETag`, …).
        package var headers: HTTPHeaders = [:]

        /// The body parsed as a JSON object, if it is one: for the library's users and tests. The
        /// runner reads a body as ``value`` or ``decode(_:)``.
        public var json: [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        }

        /// The body as a JSON value, if it is JSON.
        package var value: JSONValue? { JSONValue.parse(body) }

        /// The body decoded as `T` (a discovery document, …), if it is one.
        package func decode<T: Decodable>(_ type: T.Type) -> T? {
            try? JSONDecoder().decode(type, from: Data(body))
        }
    }

    /// Sends a request; any status is returned (only transport failures throw).
    /// - Parameters:
    ///   - method: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    ///   - path: an API path, with a query if needed.
    ///   - body: JSON (or YAML for apply patches).
    ///   - contentType: defaults to `application/json` when there is a body.
    /// - Throws: ``KubeClientError`` when the server cannot be reached.
    public func send(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
        timeout: Duration = .seconds(30)
    ) async throws(KubeClientError) -> Response {
        try await send(method, path, body: body, contentType: contentType, headers: [:], timeout: timeout)
    }

    /// ``send(_:_:body:contentType:timeout:)`` with more request headers (`If-None-Match`, …).
    package func send(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil, headers: HTTPHeaders,
        timeout: Duration = .seconds(30)
    ) async throws(KubeClientError) -> Response {
        var request = HTTPClientRequest(url: server + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "k8senv")
        request.headers.add(contentsOf: headers)
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
        }
        do {
            // The deadline covers the whole exchange, body included (the HTTP client's own covers
            // only the head): a server that stops mid-answer (SIGSTOP) must not hold us.
            let http = self.http
            let request = request
            let answer = try await Deadline.run(timeout, on: executor) {
                let response = try await http.execute(request, timeout: TimeAmount(timeout))
                let buffer = try await response.body.collect(upTo: 256 << 20)
                return Response(
                    status: Int(response.status.code), body: Array(buffer.readableBytesView), headers: response.headers)
            }
            guard let answer else { throw HTTPClientError.deadlineExceeded }
            return answer
        } catch {
            var failure = KubeClientError(status: nil, message: "cannot reach \(server)\(path): \(error)", body: [])
            if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout {
                failure.message = "\(server)\(path): no answer within \(timeout)"
                failure.timedOut = true
            }
            throw failure
        }
    }

    /// Like ``send(_:_:body:contentType:timeout:)`` but a status outside 2xx throws.
    /// - Throws: ``KubeClientError`` with the status and the server's message.
    public func expect(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil)
        async throws(KubeClientError) -> Response
    {
        let response = try await send(method, path, body: body, contentType: contentType)
        guard (200..<300).contains(response.status) else {
            var error = KubeClientError(status: response.status, message: "", body: response.body)
            error.message =
                "\(method) \(path): \(response.status) \(error.serverMessage ?? String(decoding: response.body.prefix(300), as: UTF8.self))"
            throw error
        }
        return response
    }

    /// GET; a status outside 2xx throws.
    public func get(_ path: String) async throws(KubeClientError) -> Response {
        try await expect("GET", path)
    }

    /// POST of a JSON object (create); a status outside 2xx throws.
    public func create(_ path: String, object: [UInt8]) async throws(KubeClientError) -> Response {
        try await expect("POST", path, body: object)
    }

    /// Server-side apply of one object (JSON), field manager `k8senv`, taking ownership of
    /// conflicting fields (so a second apply of the same content changes nothing).
    public func apply(_ path: String, object: [UInt8]) async throws(KubeClientError) -> Response {
        try await expect(
            "PATCH", path + "?fieldManager=k8senv&force=true", body: object, contentType: "application/apply-patch+yaml"
        )
    }

    /// DELETE; any status is returned.
    public func delete(_ path: String) async throws(KubeClientError) -> Response {
        try await send("DELETE", path)
    }
}

/// Runs work with a deadline that holds even when the work ignores cancellation.
package enum Deadline {
    /// The work's result, or nil when `timeout` passed first; then the work is cancelled and
    /// left to end on its own (the caller does not wait for it). Cancelling the caller cancels it.
    ///
    /// The work is one task on `executor` (the loop of the connection it talks over), the
    /// deadline a timer of that loop: an answer resumes the work on the thread that read it, and
    /// the work's end resumes the caller, without a task of its own for either (measured in
    /// docs/explanation/performance.md#seeding).
    package static func run<T: Sendable>(
        _ timeout: Duration, on executor: EventLoopExecutor, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T? {
        let race = Race<T>()
        let task = Task(executorPreference: executor) {
            do { race.finish(.success(try await work())) } catch { race.finish(.failure(error)) }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T?, any Error>) in
                let timer = executor.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    if race.finish(.success(nil)) { task.cancel() }
                }
                race.start(continuation, timer: timer)
            }
        } onCancel: {
            task.cancel()
        }
    }

    /// Resumes the continuation once, with whichever outcome comes first.
    final class Race<T: Sendable>: @unchecked Sendable {
        // @unchecked: every field is touched under `lock`.
        private let lock = NSLock()
        private var continuation: CheckedContinuation<T?, any Error>?
        private var timer: Scheduled<Void>?
        private var early: Result<T?, any Error>?

        func start(_ continuation: CheckedContinuation<T?, any Error>, timer: Scheduled<Void>) {
            let early: Result<T?, any Error>? = lock.withLock {
                self.timer = timer
                guard let early = self.early else {
                    self.continuation = continuation
                    return nil
                }
                return early
            }
            if let early {
                timer.cancel()
                continuation.resume(with: early)
            }
        }

        /// - Returns: true if this outcome was the first.
        @discardableResult
        func finish(_ result: Result<T?, any Error>) -> Bool {
            let (continuation, timer, first): (CheckedContinuation<T?, any Error>?, Scheduled<Void>?, Bool) =
                lock.withLock {
                    guard early == nil else { return (nil, nil, false) }
                    early = result
                    defer {
                        self.continuation = nil
                        self.timer = nil
                    }
                    return (self.continuation, self.timer, true)
                }
            timer?.cancel()
            continuation?.resume(with: result)
            return first
        }
    }
}
