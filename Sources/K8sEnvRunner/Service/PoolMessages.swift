import Foundation

/// The body of `POST /v1/leases` (docs/reference/pool-api.md): what the service decodes and what
/// `k8senv acquire` and an attached `run` send.
package struct LeaseRequest: Codable, Sendable {
    package var environment: String?
    package var timeoutSeconds: Double?
    package var holder: Int32?
    package var ttlSeconds: Double?

    package init(environment: String? = nil, timeoutSeconds: Double? = nil, holder: Int32? = nil, ttlSeconds: Double? = nil) {
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
        self.holder = holder
        self.ttlSeconds = ttlSeconds
    }
}

/// The answer to an acquire: what the service encodes and its CLI clients decode.
package struct LeaseGrant: Codable, Sendable {
    package var lease: String
    package var environment: String
    package var instance: String
    package var server: String
    package var caCertificate: String
    package var caFile: String
    package var token: String
    package var kubeconfig: String
    package var holder: Int32
    /// Null (not absent) when there is no TTL.
    package var expiresAt: Date?
    /// Where the instance's webhooks call (`{"host", "port", "certDir"}`); null (not absent)
    /// when its environment has none.
    package var webhook: WebhookEndpoint?

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lease, forKey: .lease)
        try c.encode(environment, forKey: .environment)
        try c.encode(instance, forKey: .instance)
        try c.encode(server, forKey: .server)
        try c.encode(caCertificate, forKey: .caCertificate)
        try c.encode(caFile, forKey: .caFile)
        try c.encode(token, forKey: .token)
        try c.encode(kubeconfig, forKey: .kubeconfig)
        try c.encode(holder, forKey: .holder)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(webhook, forKey: .webhook)
    }

    /// A grant from the service's answer body (dates as ISO 8601, as ``HTTPResponse/json(_:_:)`` writes them).
    package static func decode(_ body: [UInt8]) -> LeaseGrant? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(LeaseGrant.self, from: Data(body))
    }
}
