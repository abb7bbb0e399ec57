import Foundation

/// One request kube-apiserver completed, from its audit log (an `audit.k8s.io/v1` Event at the
/// stage ResponseComplete or Panic). See docs/explanation/audit.md.
public struct AuditEvent: Sendable, Hashable, Codable {
    /// The instance whose log it comes from (`base-0`).
    public var instance: String
    /// When kube-apiserver received the request (`requestReceivedTimestamp`), as written: RFC 3339
    /// with microseconds, UTC.
    public var timestamp: String
    /// ``timestamp`` as a date.
    public var time: Date
    /// The user name (`user.username`): `admin` for k8senv's kubeconfig, a declared user's name.
    public var user: String
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, …
    public var verb: String
    /// `configmaps`, `pods/log`, `widgets.example.k8senv.dev`; for a path that is no resource
    /// (`/version`), the path.
    public var resource: String
    public var namespace: String?
    public var name: String?
    /// The response's status code (nil when kube-apiserver recorded none: a panic).
    public var code: Int?
    /// From receiving the request to completing the response.
    public var latency: Duration
    /// The request's path and query.
    public var requestURI: String
    public var auditID: String
    public var userAgent: String?

    /// The verbs that change something: create, update, patch, delete, deletecollection.
    public static let mutatingVerbs: Set<String> = ["create", "update", "patch", "delete", "deletecollection"]

    /// Whether the request asked to change something (whatever its code).
    public var isMutating: Bool { Self.mutatingVerbs.contains(verb) }

    /// `namespace/name`, `name`, `namespace/` (a list in a namespace), or empty.
    public var objectName: String {
        switch (namespace, name) {
        case (let namespace?, let name?): return "\(namespace)/\(name)"
        case (nil, let name?): return name
        case (let namespace?, nil): return "\(namespace)/"
        case (nil, nil): return ""
        }
    }

    /// ``latency`` in milliseconds.
    public var latencyMilliseconds: Double {
        Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
    }

    public init(
        instance: String, timestamp: String, time: Date, user: String, verb: String, resource: String,
        namespace: String?, name: String?, code: Int?, latency: Duration, requestURI: String, auditID: String,
        userAgent: String?
    ) {
        self.instance = instance
        self.timestamp = timestamp
        self.time = time
        self.user = user
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.code = code
        self.latency = latency
        self.requestURI = requestURI
        self.auditID = auditID
        self.userAgent = userAgent
    }

    /// Reads what ``encode(to:)`` writes (the pool API's answer, for an attached `run`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        timestamp = try c.decode(String.self, forKey: .time)
        guard let time = RFC3339.parse(timestamp) else {
            throw DecodingError.dataCorruptedError(
                forKey: .time, in: c, debugDescription: "not an RFC 3339 time: \(timestamp)")
        }
        self.time = time
        instance = try c.decode(String.self, forKey: .instance)
        user = try c.decode(String.self, forKey: .user)
        verb = try c.decode(String.self, forKey: .verb)
        resource = try c.decode(String.self, forKey: .resource)
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        code = try c.decodeIfPresent(Int.self, forKey: .code)
        latency = .microseconds(Int64(((try c.decodeIfPresent(Double.self, forKey: .latencyMs) ?? 0) * 1000).rounded()))
        requestURI = try c.decodeIfPresent(String.self, forKey: .requestURI) ?? ""
        auditID = try c.decodeIfPresent(String.self, forKey: .auditID) ?? ""
        userAgent = try c.decodeIfPresent(String.self, forKey: .userAgent)
    }

    enum CodingKeys: String, CodingKey {
        case instance, time, user, verb, resource, namespace, name, code, latencyMs, requestURI, auditID, userAgent
    }

    /// The JSON of `k8senv audit --format json` and of the pool API: `time` as written in the log,
    /// `latencyMs` a number; absent namespace, name or code as null.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(instance, forKey: .instance)
        try c.encode(timestamp, forKey: .time)
        try c.encode(user, forKey: .user)
        try c.encode(verb, forKey: .verb)
        try c.encode(resource, forKey: .resource)
        try c.encode(namespace, forKey: .namespace)
        try c.encode(name, forKey: .name)
        try c.encode(code, forKey: .code)
        try c.encode((latencyMilliseconds * 1000).rounded() / 1000, forKey: .latencyMs)
        try c.encode(requestURI, forKey: .requestURI)
        try c.encode(auditID, forKey: .auditID)
        try c.encode(userAgent, forKey: .userAgent)
    }
}
