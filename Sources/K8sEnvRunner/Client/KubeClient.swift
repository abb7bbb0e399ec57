import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// An error from the API server or from reaching it.
package struct KubeClientError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status, or nil when the server could not be reached.
    package var status: Int?
    package var message: String
    /// The server's Status object (its JSON), when it sent one.
    package var body: [UInt8]

    package var description: String { message }

    /// The server's `Status.message`, when the body is a Status.
    package var serverMessage: String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        return object["message"] as? String
    }
}

/// An HTTPS client for one kube-apiserver: trusts only our CA, sends the bearer token.
/// Discovery, get, list, server-side apply, delete.
package final class KubeClient: Sendable {
    package let server: String
    private let token: String
    private let http: HTTPClient

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
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes connections. Call once, when done.
    package func shutdown() async {
        try? await http.shutdown()
    }

    package struct Response: Sendable {
        package var status: Int
        package var body: [UInt8]

        package var json: [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        }
    }

    /// Sends a request; any status is returned (only transport failures throw).
    package func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
                      timeout: Duration = .seconds(30)) async throws(KubeClientError) -> Response {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "k8senv")
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
        }
        do {
            let response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
            let buffer = try await response.body.collect(upTo: 256 << 20)
            return Response(status: Int(response.status.code), body: Array(buffer.readableBytesView))
        } catch {
            throw KubeClientError(status: nil, message: "cannot reach \(server)\(path): \(error)", body: [])
        }
    }

    /// Like ``send(_:_:body:contentType:timeout:)`` but a status outside 2xx throws.
    package func expect(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String? = nil) async throws(KubeClientError) -> Response {
        let response = try await send(method, path, body: body, contentType: contentType)
        guard (200..<300).contains(response.status) else {
            var error = KubeClientError(status: response.status, message: "", body: response.body)
            error.message = "\(method.rawValue) \(path): \(response.status) \(error.serverMessage ?? String(decoding: response.body.prefix(300), as: UTF8.self))"
            throw error
        }
        return response
    }

    package func get(_ path: String) async throws(KubeClientError) -> Response {
        try await expect(.GET, path)
    }

    /// Server-side apply of one object (JSON), field manager `k8senv`, taking ownership of
    /// conflicting fields (so a second apply of the same content changes nothing).
    package func apply(_ path: String, object: [UInt8]) async throws(KubeClientError) -> Response {
        try await expect(.PATCH, path + "?fieldManager=k8senv&force=true", body: object, contentType: "application/apply-patch+yaml")
    }

    package func delete(_ path: String) async throws(KubeClientError) -> Response {
        try await send(.DELETE, path)
    }
}
