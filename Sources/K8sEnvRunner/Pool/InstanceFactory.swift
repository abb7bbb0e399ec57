import Foundation
import K8sEnvSpec

/// How an ``EnvironmentPool`` gets its instances: the one seam between the pool's queue (waiters,
/// timeouts, LIFO reuse, replacement) and the processes behind an instance. The real factory
/// (``EnvironmentInstances``) starts kube-apiservers from the environment's snapshot; the tests of
/// the queue use a fake that starts nothing.
package protocol InstanceFactory: Sendable {
    /// Makes ready what every start needs (the binaries, the environment's snapshot). The pool
    /// calls it before the first start and again after a failed call; never concurrently.
    func prepare() async throws(K8sEnvError)
    /// Whether every start, the first included, would start from a snapshot already in the
    /// cache: then the pool starts its instances together. Otherwise (a cache miss, no cache)
    /// the first start builds what the others start from, and the pool starts it alone.
    func startsFromSnapshot() async -> Bool
    /// Starts instance number `index` of the environment (`<environment>-<index>`), ready to lend.
    func start(index: Int) async throws(K8sEnvError) -> any PoolMember
    /// The pool shut down and stopped its instances: removes what ``prepare()`` made for the pool
    /// alone (its own work folder), nothing that belongs to a run.
    func close() async
}

/// What a pool asks of an instance it owns: whether it serves, its restore point, a lease's
/// credentials, and its stop. ``Instance`` is the real one.
package protocol PoolMember: AnyObject, Sendable {
    /// `<environment>-<n>`, unique within the pool.
    var name: String { get }
    /// Why a process of the instance stopped by itself; nil while it serves and once it was
    /// stopped on purpose.
    func failure() -> ProcessError?
    /// Whether its processes are still alive, asked of the kernel.
    var processesAlive: Bool { get }
    /// Returns when a process of the instance stops, with why; nil when it was stopped on
    /// purpose or the calling task is cancelled.
    func ended() async -> ProcessError?
    /// Stops it; later and concurrent calls await the first one's.
    func stop() async
    /// Waits for the work its processes do on their own right after they answer (see
    /// ``OpenAPIPublication``), so it is done before the pool counts the instance as started.
    /// Never fails the start: an instance whose work does not finish in time is lent anyway.
    func finishStart() async
    /// What every release returns it to: taken once, when the pool first hands it out.
    func takeRestorePoint() async throws(K8sEnvError) -> any MemberRestorePoint
    /// New credentials for lease number `number` of the instance, and what the lease shows.
    func lend(number: Int) throws(K8sEnvError) -> LeaseTerms
}

/// A member's restore point: what a release of mode reset or clean puts it back to.
package protocol MemberRestorePoint: Sendable {
    /// Puts the instance back by `mode` (``ReleaseMode/reset`` or ``ReleaseMode/clean``).
    func restore(_ mode: ReleaseMode) async throws
}

/// What a lease of an instance hands its holder, and how its credentials end.
package struct LeaseTerms: Sendable {
    package var server: String
    package var caCertificate: String
    package var token: String
    package var kubeconfigPath: String
    package var users: [PooledInstance.User]
    package var client: KubeClient
    package var webhook: WebhookEndpoint?
    /// The instance's folder (`pki/`, `logs/`, `leases/`).
    package var directory: String
    /// Its audit log, when the environment audits.
    package var auditLogPath: String?
    /// Ends the lease's credentials (kube-apiserver answers 401 from then on).
    package var revoke: @Sendable () -> Void

    package init(
        server: String, caCertificate: String, token: String, kubeconfigPath: String, users: [PooledInstance.User],
        client: KubeClient, webhook: WebhookEndpoint?, directory: String, auditLogPath: String?,
        revoke: @escaping @Sendable () -> Void
    ) {
        self.server = server
        self.caCertificate = caCertificate
        self.token = token
        self.kubeconfigPath = kubeconfigPath
        self.users = users
        self.client = client
        self.webhook = webhook
        self.directory = directory
        self.auditLogPath = auditLogPath
        self.revoke = revoke
    }
}

/// The real factory: instances of one environment of a plan, started by an
/// ``EnvironmentBuilder`` from the environment's snapshot. A pool of the library API prepares its
/// own builder (in a work folder of its own, removed at shutdown); a run's pools share the run's.
package actor EnvironmentInstances: InstanceFactory {
    let environment: String
    private var builder: EnvironmentBuilder?
    private let configuration: K8sEnvConfiguration?
    private let options: PoolOptions
    /// The work folder this factory made, removed by ``close()``.
    private var ownFolder: String?

    /// Instances of `environment` of `configuration`, with a builder made on ``prepare()``.
    init(configuration: K8sEnvConfiguration, environment: String, options: PoolOptions) {
        self.configuration = configuration
        self.environment = environment
        self.options = options
    }

    /// Instances of `environment` made by a run's `builder` (its run folder, its cache).
    /// - Parameter keepsFirst: instance 0 is the builder's first instance (on a cache miss, the
    ///   one that built the snapshot, kept running), not one more start from the snapshot.
    package init(builder: EnvironmentBuilder, environment: String, keepsFirst: Bool = false) {
        self.builder = builder
        self.configuration = nil
        self.environment = environment
        self.options = PoolOptions()
        self.keepsFirst = keepsFirst
    }

    private var keepsFirst = false

    package func prepare() async throws(K8sEnvError) {
        if let builder {
            // The first start provides the snapshot when it keeps its instance.
            if !keepsFirst { _ = try await builder.snapshot(for: environment) }
            return
        }
        guard let configuration else { return }
        let work =
            options.workDirectory
            ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("k8senv-pool-\(getpid())-\(UUID().uuidString.prefix(8))").path
        if options.workDirectory == nil { ownFolder = work }
        let made = try await EnvironmentBuilder.prepare(
            plan: configuration.plan, files: configuration.files, runDirectory: work,
            useCache: options.useCache, cacheRoot: options.cacheDirectory,
            progress: options.log ?? { _ in })
        _ = try await made.snapshot(for: environment)
        builder = made
    }

    package func startsFromSnapshot() async -> Bool {
        guard let cache = builder?.cache, let key = cache.keys[environment] else { return false }
        if case .hit = cache.store.lookup(key) { return true }
        return false
    }

    package func start(index: Int) async throws(K8sEnvError) -> any PoolMember {
        guard let builder else { throw K8sEnvError(.process, "the pool of \(environment) was not initialized") }
        if index == 0, keepsFirst { return try await builder.firstInstance(environment) }
        return try await builder.instance(environment, index: index)
    }

    package func close() async {
        if let ownFolder { try? FileManager.default.removeItem(atPath: ownFolder) }
    }
}

extension PoolMember {
    package func finishStart() async {}
}

extension Instance: PoolMember {
    /// kube-apiserver's OpenAPI document holds the environment's CRDs (``OpenAPIPublication``),
    /// within 10 s.
    package func finishStart() async {
        _ = try? await OpenAPIPublication.wait(client, deadline: .now + .seconds(10))
    }

    package func takeRestorePoint() async throws(K8sEnvError) -> any MemberRestorePoint {
        do { return InstanceRestorePoint(instance: self, point: try await store.restorePoint(client: client)) } catch {
            throw K8sEnvError(.process, "\(name): cannot take its restore point: \(error)", cause: error)
        }
    }

    package func lend(number: Int) throws(K8sEnvError) -> LeaseTerms {
        let credentials: LeaseCredentials
        do { credentials = try LeaseCredentials.issue(for: self, number: number) } catch {
            throw K8sEnvError(error)
        }
        return LeaseTerms(
            server: server, caCertificate: caCertificate, token: credentials.token,
            kubeconfigPath: credentials.kubeconfigPath,
            users: credentials.users.map {
                PooledInstance.User(
                    name: $0.name, groups: $0.identity.groups, token: $0.token, kubeconfigPath: $0.kubeconfigPath)
            },
            client: client.with(token: credentials.token), webhook: configuration.webhook,
            directory: configuration.directory,
            auditLogPath: configuration.auditLogPath, revoke: { credentials.revoke() })
    }
}

/// An instance's ``RestorePoint``, with the instance it restores.
struct InstanceRestorePoint: MemberRestorePoint {
    let instance: Instance
    let point: any RestorePoint

    func restore(_ mode: ReleaseMode) async throws {
        if mode == .clean { try await point.clean(instance) } else { try await point.restore(instance) }
    }
}
