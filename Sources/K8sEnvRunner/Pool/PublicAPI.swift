import Foundation
import K8sEnvSpec

/// A loaded, validated k8senv.yaml (with a profile applied), from which pools are made.
///
/// ```swift
/// let configuration = try K8sEnvConfiguration.load("k8senv.yaml", profile: "ci")
/// let pool = try configuration.pool(for: "base")
/// try await pool.withInstance { instance in
///     let namespaces = try await instance.client.get("/api/v1/namespaces")
/// }
/// await pool.shutdown()
/// ```
public struct K8sEnvConfiguration: Sendable {
    let plan: Plan
    let files: SourceFiles

    /// The environments of the file, parents before the environments that extend them.
    public var environmentNames: [String] { plan.environments.map(\.name) }

    /// Reads and validates a config file.
    /// - Parameters:
    ///   - path: the k8senv.yaml; relative paths in it resolve against its folder.
    ///   - profile: a profile of the file to apply.
    ///   - variables: what `${VAR}` expands from (the process environment by default).
    /// - Throws: ``K8sEnvError`` with code `.invalidConfig` and every problem as `file:line:col`.
    public static func load(
        _ path: String, profile: String? = nil,
        variables: [String: String] = ProcessInfo.processInfo.environment
    ) throws(K8sEnvError) -> K8sEnvConfiguration {
        let files = SourceFiles()
        let loader = ConfigLoader(variables: variables, files: files)
        do throws(Diagnostics) {
            let config = try loader.load(path, profile: profile)
            return K8sEnvConfiguration(plan: try Plan(config), files: files)
        } catch {
            throw K8sEnvError(.invalidConfig, error, files: files)
        }
    }

    /// A pool of instances of one environment. Nothing starts until ``EnvironmentPool/initialize()``
    /// or the first ``EnvironmentPool/acquire(timeout:)``.
    /// - Throws: ``K8sEnvError`` `.unknownEnvironment`.
    public func pool(for environment: String, options: PoolOptions = PoolOptions()) throws(K8sEnvError)
        -> EnvironmentPool
    {
        guard let planned = plan.environment(named: environment) else {
            throw K8sEnvError(
                .unknownEnvironment,
                "\(plan.config.file): \(plan.config.unknownEnvironment(environment) ?? environment)")
        }
        return EnvironmentPool(
            configuration: self, environment: environment, size: options.size ?? planned.poolSize, options: options)
    }
}

/// How a pool runs.
public struct PoolOptions: Sendable {
    /// Instances at most (default: the environment's `pool.size`).
    public var size: Int?
    /// How long ``EnvironmentPool/acquire(timeout:)`` waits by default (default: `timeouts.acquire`).
    public var acquireTimeout: Duration?
    /// Use the snapshot cache (default true); false builds every instance from scratch.
    public var useCache: Bool
    /// The snapshot cache folder (default `${XDG_CACHE_HOME:-~/.cache}/k8senv/snapshots`).
    public var cacheDirectory: String?
    /// Where instance folders go (default: a new folder under the system's temporary folder).
    public var workDirectory: String?
    /// Progress lines (instance starts, cache hits and builds); nil discards them.
    public var log: (@Sendable (String) -> Void)?

    public init(
        size: Int? = nil, acquireTimeout: Duration? = nil, useCache: Bool = true, cacheDirectory: String? = nil,
        workDirectory: String? = nil, log: (@Sendable (String) -> Void)? = nil
    ) {
        self.size = size
        self.acquireTimeout = acquireTimeout
        self.useCache = useCache
        self.cacheDirectory = cacheDirectory
        self.workDirectory = workDirectory
        self.log = log
    }
}

/// What ``PooledInstance/release(_:)`` does with the instance.
public enum ReleaseMode: String, Sendable, CaseIterable {
    /// Return the instance to the state it was lent in, and to the pool. On the embedded store
    /// the store goes back to that revision (changes to objects that existed are undone too);
    /// on etcd and kine what the holder created is deleted through the API.
    case reset
    /// Delete through the API what the holder created (namespaces, cluster-scoped objects,
    /// objects in seeded namespaces; finalizers removed first), on every storage, and return the
    /// instance to the pool. Objects that existed keep the holder's changes. For tests whose
    /// webhooks, audit log or watchers must see the deletions.
    case clean
    /// Stop the instance; the pool starts a new one when it needs one.
    case stop
}

/// An instance lent by a pool: a ready kube-apiserver with the environment's CRDs and seeds.
/// Each ``EnvironmentPool/acquire(timeout:)`` returns a new lease; release it exactly once.
public final class PooledInstance: Sendable, Identifiable, CustomStringConvertible {
    /// The instance's name, `<environment>-<n>`; unique within the pool, kept across reuse.
    public let id: String
    /// `https://127.0.0.1:PORT`.
    public let endpoint: URL
    /// PEM of the CA that signed the serving certificate.
    public let caCertificate: String
    /// This lease's bearer token (a `system:masters` user): it works until the lease is released,
    /// then kube-apiserver answers 401 (see docs/explanation/security.md, "Lease credentials").
    public let token: String
    /// A kubeconfig for kubectl and other clients (0600) naming ``token``; removed on release.
    public let kubeconfigPath: String
    /// The config's `users`, by name: each with a token of this lease and a kubeconfig.
    public let users: [String: User]
    /// A ready-to-use HTTPS client that sends ``token``.
    public let client: KubeClient
    /// Where the instance's webhooks and CRD conversion webhooks call, and the certificate for
    /// a server there; nil when the environment has none. See docs/explanation/webhooks.md.
    public let webhook: WebhookEndpoint?
    /// When this lease was granted: where ``auditEvents(since:)`` starts by default.
    public let lentAt: Date
    /// The audit log's size when the lease was granted: ``auditEvents(since:)`` reads only what
    /// was written after it, not the log of every earlier lease of the instance.
    let auditLogOffset: UInt64
    let member: any PoolMember
    let pool: EnvironmentPool
    let terms: LeaseTerms

    init(member: any PoolMember, pool: EnvironmentPool, terms: LeaseTerms) {
        self.member = member
        self.pool = pool
        self.terms = terms
        id = member.name
        // An instance's server is `https://127.0.0.1:PORT`, which always parses.
        endpoint = URL(string: terms.server) ?? URL(fileURLWithPath: "/")
        caCertificate = terms.caCertificate
        token = terms.token
        kubeconfigPath = terms.kubeconfigPath
        users = Dictionary(terms.users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        client = terms.client
        webhook = terms.webhook
        lentAt = Date()
        auditLogOffset = terms.auditLogPath.map(AuditLog.size) ?? 0
    }

    /// A user of k8senv.yaml's `users` on this instance. What it may do depends on
    /// `apiServer.authorization` (RBAC by default with users: what Roles bound to it allow).
    public struct User: Sendable, Hashable {
        /// The user name kube-apiserver sees.
        public let name: String
        /// Its groups, as declared (kube-apiserver adds `system:authenticated`).
        public let groups: [String]
        /// Its bearer token, made for this instance.
        public let token: String
        /// Its kubeconfig (0600).
        public let kubeconfigPath: String
    }

    public var description: String { "\(id) at \(endpoint.absoluteString)" }

    /// The kube-apiserver's pid (for fault tests); nil for an instance that is not a real one.
    package var instanceProcessIDForTests: Int32? { instanceForTests?.apiServerProcess.pid }

    /// The instance behind the lease, with k8senv's own client and store (for tests that act as
    /// k8senv or as a request already past authentication); nil from a fake factory.
    package var instanceForTests: Instance? { member as? Instance }

    /// The instance's folder: `pki/ca.crt`, `logs/`, `leases/`.
    package var directory: String { terms.directory }

    /// Whether the instance writes an audit log (`audit:` in k8senv.yaml for its environment).
    public var audits: Bool { terms.auditLogPath != nil }

    /// The requests the instance completed during this lease, oldest first, from its audit log
    /// (see docs/explanation/audit.md); empty when the environment does not audit.
    /// - Parameter since: only requests received at or after this time; nil (the default) or a
    ///   time before the lease: since it was lent.
    public func auditEvents(since: Date? = nil) -> [AuditEvent] {
        guard let log = terms.auditLogPath else { return [] }
        return AuditLog.read(log, instance: id, since: max(since ?? lentAt, lentAt), from: auditLogOffset)
    }

    /// Gives the instance back to its pool.
    /// - Parameter mode: `.reset` (default) returns the instance to the state it was lent in,
    ///   `.clean` deletes through the API what was created, both keeping it for the next user;
    ///   `.stop` stops it.
    /// - Throws: ``K8sEnvError`` `.notAcquired` when this lease was released already; `.cleanup`
    ///   when the reset or cleanup failed (the instance was stopped and will be replaced).
    public func release(_ mode: ReleaseMode = .reset) async throws(K8sEnvError) {
        try await pool.release(self, mode: mode)
    }
}
