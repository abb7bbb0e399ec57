import Foundation
import K8sEnvSpec

/// The error codes of the pool API (docs/reference/pool-api.md): one list, used by the service
/// that sends them, the CLI and the Swift client that read them. The Go and Python clients
/// compare the same strings.
package enum PoolErrorCode: String, Codable, Sendable, CaseIterable {
    /// The request is malformed: its body, a field, a query value.
    case badRequest = "bad-request"
    /// No such path under /v1.
    case notFound = "not-found"
    /// The path exists, not with this method.
    case methodNotAllowed = "method-not-allowed"
    /// The peer runs as another uid.
    case forbidden
    /// The service is stopping, or the client left before its lease was granted.
    case shutDown = "shut-down"
    /// No instance became free within the request's timeout.
    case acquireTimeout = "acquire-timeout"
    /// The service serves several environments and the request named none.
    case environmentRequired = "environment-required"
    /// The request named an environment the service does not serve.
    case unknownEnvironment = "unknown-environment"
    /// A new instance could not be started for the request.
    case instanceFailed = "instance-failed"
    /// The lease is not held (released, taken back, or never granted).
    case leaseNotFound = "lease-not-found"
    /// The lease's instance writes no audit log.
    case notAudited = "not-audited"
    /// The service has as many connections open as it takes (in all, or from this process).
    case tooManyConnections = "too-many-connections"
    /// The request was not received whole within the service's request deadline.
    case requestTimeout = "request-timeout"
    /// The request's head or body is larger than the service reads.
    case tooLarge = "too-large"
    /// The service failed to answer (a bug: please report it).
    case `internal`
}

/// The body of every error answer: `{"error": {"code": …, "message": …}}`.
package struct PoolErrorBody: Codable, Sendable {
    package struct Detail: Codable, Sendable {
        /// The code as sent: a ``PoolErrorCode`` from this k8senv, maybe another from a newer one.
        package var code: String
        package var message: String
    }

    package var error: Detail

    package init(code: PoolErrorCode, message: String) {
        error = Detail(code: code.rawValue, message: message)
    }
}

/// What a request of the pool API asks for, from its method and path.
package enum PoolRoute: Equatable, Sendable {
    /// `GET /v1/status`
    case status
    /// `POST /v1/leases`
    case acquire
    /// `DELETE /v1/leases/{id}`
    case release(lease: String)
    /// `GET /v1/leases/{id}/audit`
    case audit(lease: String)

    /// A request's route, or the error answer for a path or method not served.
    package enum Match: Sendable {
        case route(PoolRoute)
        case refused(HTTPResponse)
    }

    /// The route of a request, or the error answer for a path or method not served.
    package static func match(method: String, path: String) -> Match {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        switch (method, segments) {
        case ("GET", ["v1", "status"]): return .route(.status)
        case ("POST", ["v1", "leases"]): return .route(.acquire)
        case ("DELETE", let s) where s.count == 3 && s[0] == "v1" && s[1] == "leases" && !s[2].isEmpty:
            return .route(.release(lease: s[2]))
        case ("GET", let s) where s.count == 4 && s[0] == "v1" && s[1] == "leases" && !s[2].isEmpty && s[3] == "audit":
            return .route(.audit(lease: s[2]))
        case (_, ["v1", "status"]), (_, ["v1", "leases"]):
            return .refused(.error(405, .methodNotAllowed, "\(method) is not served on \(path)"))
        case (_, let s)
        where (s.count == 3 || (s.count == 4 && s[3] == "audit")) && s[0] == "v1" && s[1] == "leases" && !s[2].isEmpty:
            return .refused(.error(405, .methodNotAllowed, "\(method) is not served on \(path)"))
        default:
            return .refused(
                .error(
                    404, .notFound,
                    "no such path: \(path) (the API is under /v1: see \(DocsLink.page("reference/pool-api.md")))"))
        }
    }
}

/// A request of the pool API, as read from a connection.
package struct HTTPRequest: Sendable {
    package var method: String
    /// The path without its query.
    package var path: String
    package var query: [String: String]
    package var body: [UInt8]

    package init(method: String, path: String, query: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }

    /// A request target (`/path?a=b`) split into the path and its decoded query.
    package init(method: String, target: String, body: [UInt8]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(pair[0]).removingPercentEncoding ?? String(pair[0])
                query[key] = pair.count == 2 ? (String(pair[1]).removingPercentEncoding ?? String(pair[1])) : ""
            }
        }
        self.init(method: method, path: String(parts.first ?? ""), query: query, body: body)
    }
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
    package static func error(_ status: Int, _ code: PoolErrorCode, _ message: String) -> HTTPResponse {
        json(status, PoolErrorBody(code: code, message: message))
    }
}

/// The process at the other end of a connection, from `SO_PEERCRED`.
package struct Peer: Sendable, Equatable {
    package var pid: Int32
    package var uid: UInt32

    package init(pid: Int32, uid: UInt32) {
        self.pid = pid
        self.uid = uid
    }
}
