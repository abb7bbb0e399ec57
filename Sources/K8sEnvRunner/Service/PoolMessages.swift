import Foundation

/// The body of `POST /v1/leases` (docs/reference/pool-api.md): what the service decodes and what
/// `k8senv acquire` and an attached `run` send.
package struct LeaseRequest: Codable, Sendable {
    package var environment: String?
    package var timeoutSeconds: Double?
    package var holder: Int32?
    package var ttlSeconds: Double?
    /// What the holder holds the lease for, in words (`k8senv run` sends "`k8senv run` as its
    /// command's KUBECONFIG"): named to whoever's acquire of the environment times out.
    package var purpose: String?

    package init(
        environment: String? = nil, timeoutSeconds: Double? = nil, holder: Int32? = nil, ttlSeconds: Double? = nil,
        purpose: String? = nil
    ) {
        self.purpose = purpose
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
        self.holder = holder
        self.ttlSeconds = ttlSeconds
    }
}

/// The answer to an acquire: what the service encodes and its CLI clients decode.
package struct LeaseGrant: Codable, Sendable {
    /// A declared user (`users` of k8senv.yaml) of the leased instance.
    package struct User: Codable, Sendable, Hashable {
        /// Its bearer token, made for this instance.
        package var token: String
        /// Its kubeconfig (0600).
        package var kubeconfig: String

        package init(token: String, kubeconfig: String) {
            self.token = token
            self.kubeconfig = kubeconfig
        }
    }

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
    /// By user name; `{}` (not absent) when the config declares none.
    package var users: [String: User]

    package init(
        lease: String, environment: String, instance: String, server: String, caCertificate: String, caFile: String,
        token: String, kubeconfig: String, holder: Int32, expiresAt: Date?, webhook: WebhookEndpoint? = nil,
        users: [String: User] = [:]
    ) {
        self.lease = lease
        self.environment = environment
        self.instance = instance
        self.server = server
        self.caCertificate = caCertificate
        self.caFile = caFile
        self.token = token
        self.kubeconfig = kubeconfig
        self.holder = holder
        self.expiresAt = expiresAt
        self.webhook = webhook
        self.users = users
    }

    enum CodingKeys: String, CodingKey {
        case lease, environment, instance, server, caCertificate, caFile, token, kubeconfig, holder, expiresAt, webhook,
            users
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lease = try c.decode(String.self, forKey: .lease)
        environment = try c.decode(String.self, forKey: .environment)
        instance = try c.decode(String.self, forKey: .instance)
        server = try c.decode(String.self, forKey: .server)
        caCertificate = try c.decode(String.self, forKey: .caCertificate)
        caFile = try c.decode(String.self, forKey: .caFile)
        token = try c.decode(String.self, forKey: .token)
        kubeconfig = try c.decode(String.self, forKey: .kubeconfig)
        holder = try c.decode(Int32.self, forKey: .holder)
        expiresAt = try c.decodeIfPresent(Date.self, forKey: .expiresAt)
        webhook = try c.decodeIfPresent(WebhookEndpoint.self, forKey: .webhook)
        // A service of an older k8senv (a detached up left running across an upgrade) sends none.
        users = try c.decodeIfPresent([String: User].self, forKey: .users) ?? [:]
    }

    /// The users sorted by name (a JSON object has no order).
    package var sortedUsers: [(name: String, user: User)] {
        users.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

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
        try c.encode(users, forKey: .users)
    }

    /// A grant from the service's answer body (dates as ISO 8601, as ``HTTPResponse/json(_:_:)`` writes them).
    package static func decode(_ body: [UInt8]) -> LeaseGrant? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(LeaseGrant.self, from: Data(body))
    }
}
