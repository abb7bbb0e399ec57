import Foundation
import K8sEnvSpec

/// The pool API of a running `up` (docs/reference/pool-api.md): the session's instances, one
/// ``EnvironmentPool`` per environment, lent over a Unix socket as leases. A lease ends when its
/// holder releases it, when the holder process exits (watched every 100 ms; a pid is known by its
/// start time, so a recycled pid is not mistaken for the holder), or when its TTL passes; its
/// instance is then reset for the next holder.
package actor PoolService {
    package struct Lease: Sendable {
        var id: String
        var environment: String
        var instance: PooledInstance
        var holder: Int32
        var holderStart: UInt64
        var since: Date
        var expires: ContinuousClock.Instant?
        var expiresAt: Date?
        /// What the holder said it holds the lease for (`k8senv run`'s: its command's
        /// KUBECONFIG): named when an acquire of the environment times out.
        var purpose: String?
    }

    let pools: [String: EnvironmentPool]
    let order: [String]
    private var leases: [String: Lease] = [:]
    private var watcher: Task<Void, Never>?
    private var server: PoolHTTPServer?
    private var stopped = false
    /// Releases in flight (a holder's exit, a TTL): awaited by ``shutdown()``.
    private var releases: [String: Task<Void, Never>] = [:]
    /// Leases taken back because their holder exited within a second of the grant (the newest
    /// 64): a later request about one says so, with the fix.
    private var endedAtOnce: [(lease: String, holder: Int32)] = []
    package nonisolated let socketPath: String
    /// Where the service says what it took back and what it replaced (up's output).
    let log: @Sendable (String) -> Void

    /// The session's pools, served on `<state>/pool.sock` for a detached `up` (where clients look
    /// for it), else — a foreground `up`, a `run`, which may run beside a detached `up` of the
    /// same state folder — on `pool.sock` in the run folder; in a private folder linked from the
    /// run folder as `sockets` when the path is too long for a socket address.
    package static func start(
        session: Session, state: String, runDirectory: String, inStateFolder: Bool,
        log: @escaping @Sendable (String) -> Void
    ) async throws(K8sEnvError) -> PoolService {
        let socketPath: String
        var folder: SocketFolder?
        if inStateFolder, (state + "/pool.sock").utf8.count <= 107 {
            socketPath = state + "/pool.sock"
        } else {
            do throws(ProcessError) {
                folder = try SocketFolder.make(for: runDirectory, longestName: "pool.sock")
            } catch {
                throw K8sEnvError(error)
            }
            socketPath = folder!.path + "/pool.sock"
        }
        do {
            return try await start(session: session, socketPath: socketPath, folder: folder, log: log)
        } catch {
            folder?.remove()
            throw error
        }
    }

    /// Pools of a session's instances, served on `socketPath`.
    static func start(
        session: Session, socketPath: String, folder: SocketFolder?,
        log: @escaping @Sendable (String) -> Void
    ) async throws(K8sEnvError) -> PoolService {
        var pools: [String: EnvironmentPool] = [:]
        var order: [String] = []
        for (environment, pool) in await session.pools {
            order.append(environment)
            pools[environment] = pool
        }
        let service = PoolService(
            pools: pools, order: order, socketPath: socketPath, folder: folder, log: log, trace: session.builder.trace)
        await service.keepInto(try? PostmortemCapture.target(session.plan.config, directory: nil), session: session)
        try await service.listen()
        return service
    }

    /// The private folder of the socket, when it has one.
    let folder: SocketFolder?

    /// The run's `--trace`: acquires and releases are instants on the instance's track. Held
    /// here because requests run on NIO, outside the start's task (and its ``Trace/current``).
    let trace: Trace?

    package init(
        pools: [String: EnvironmentPool], order: [String], socketPath: String, folder: SocketFolder?,
        log: @escaping @Sendable (String) -> Void, trace: Trace? = nil
    ) {
        self.trace = trace
        self.folder = folder
        self.log = log
        self.pools = pools
        self.order = order
        self.socketPath = socketPath
    }

    private func listen() throws(K8sEnvError) {
        do {
            server = try PoolHTTPServer(path: socketPath) { [weak self] request, peer, connection in
                guard let self else { return .error(503, .shutDown, "the pool service is stopping") }
                return await self.handle(request, peer: peer, connection: connection)
            }
        } catch {
            throw K8sEnvError(error)
        }
        // Leases whose holder ended or whose TTL passed, reclaimed every 100 ms until shutdown.
        watcher = Task { [weak self] in
            _ = await Poll(every: .milliseconds(100)).until {
                guard let self, !Task.isCancelled else { return true }
                await self.reclaim()
                return false
            }
        }
    }

    /// Stops serving, ends every lease and shuts the pools down (their instances stop).
    package func shutdown() async {
        guard !stopped else { return }
        stopped = true
        server?.stop()
        watcher?.cancel()
        for task in releases.values { await task.value }
        leases.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for pool in pools.values { group.addTask { await pool.shutdown() } }
        }
        folder?.remove()
    }

    // MARK: - Requests

    package func handle(_ request: HTTPRequest, peer: Peer, connection: PoolConnection) async -> HTTPResponse {
        if stopped { return .error(503, .shutDown, "the pool service is stopping") }
        switch PoolRoute.match(method: request.method, path: request.path) {
        case .refused(let refusal): return refusal
        case .route(.status): return await status(askedBy: peer)
        case .route(.acquire): return await acquire(request, peer: peer, connection: connection)
        case .route(.release(let id)): return await release(id, mode: request.query["mode"] ?? "reset")
        case .route(.audit(let id)): return audit(id, since: request.query["since"])
        }
    }

    private func acquire(_ request: HTTPRequest, peer: Peer, connection: PoolConnection) async -> HTTPResponse {
        var asked = LeaseRequest()
        if !request.body.isEmpty {
            do { asked = try JSONDecoder().decode(LeaseRequest.self, from: Data(request.body)) } catch {
                return .error(
                    400, .badRequest,
                    "the body must be a JSON object of environment (string), timeoutSeconds, ttlSeconds (numbers), holder (a pid) and purpose (a string): \(Self.describe(error))"
                )
            }
        }
        for (key, value) in [("timeoutSeconds", asked.timeoutSeconds), ("ttlSeconds", asked.ttlSeconds)] {
            if let value, !(value >= 0 && value <= 86_400) {
                return .error(400, .badRequest, "\(key) must be a number of seconds from 0 to 86400")
            }
        }
        if let purpose = asked.purpose, purpose.utf8.count > 200 {
            return .error(400, .badRequest, "purpose must be at most 200 bytes")
        }
        let environment: String
        if let name = asked.environment {
            environment = name
        } else {
            guard order.count == 1 else {
                return .error(
                    400, .environmentRequired,
                    "name the environment: this service serves \(order.joined(separator: ", "))")
            }
            environment = order[0]
        }
        guard let pool = pools[environment] else {
            return .error(
                404, .unknownEnvironment,
                "no environment \"\(environment)\" is served here; served: \(order.joined(separator: ", "))")
        }
        let timeout = asked.timeoutSeconds
        let ttl = asked.ttlSeconds
        let holder = asked.holder ?? peer.pid
        if let refusal = Holder.refusal(holder, hasTTL: ttl != nil) { return .error(400, .badRequest, refusal) }
        guard let holderStart = Ownership.startTime(of: holder), Ownership.isLive(holder, startedAt: holderStart) else {
            return .error(400, .badRequest, "holder \(holder) is not a live process of uid \(getuid())")
        }

        // The acquire, abandoned when the client closes its connection while it waits (its place
        // in the queue is given up at once, not when an instance would have been granted).
        let acquiring = Task { () -> Result<PooledInstance, K8sEnvError> in
            do throws(K8sEnvError) {
                return .success(try await pool.acquire(timeout: .milliseconds(Int64((timeout ?? 60) * 1000))))
            } catch {
                return .failure(error)
            }
        }
        let watching = Task {
            if case .success = await Poll(every: .milliseconds(100)).until({ connection.isClosed }) {
                acquiring.cancel()
            }
        }
        let instance: PooledInstance
        let result = await acquiring.value
        watching.cancel()
        switch result {
        case .success(let granted): instance = granted
        case .failure(let error):
            switch error.code {
            case .acquireTimeout:
                return .error(503, .acquireTimeout, error.message + heldFor(environment, size: pool.size))
            case .shutDown: return .error(503, .shutDown, error.message)
            case .cancelled: return .error(503, .shutDown, "the client left before its lease was granted")
            default: return .error(500, .instanceFailed, error.message)
            }
        }
        // The client gave up while it waited, or the service stopped: the instance goes back.
        if connection.isClosed || stopped || !Ownership.isLive(holder, startedAt: holderStart) {
            try? await instance.release()
            return .error(503, .shutDown, "the client left before its lease was granted")
        }
        let id = Self.newLeaseID()
        let now = Date()
        let lease = Lease(
            id: id, environment: environment, instance: instance, holder: holder, holderStart: holderStart, since: now,
            expires: ttl.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) },
            expiresAt: ttl.map { now.addingTimeInterval($0) }, purpose: asked.purpose)
        leases[id] = lease
        trace?.instant("acquire", track: instance.id, at: .now, arguments: ["lease": id, "holder": "\(holder)"])
        let folder = instance.directory
        return .json(
            201,
            LeaseGrant(
                lease: id, environment: environment, instance: instance.id, server: instance.endpoint.absoluteString,
                caCertificate: instance.caCertificate, caFile: InstanceLayout(folder).caCertificate,
                token: instance.token,
                kubeconfig: instance.kubeconfigPath, holder: holder, expiresAt: lease.expiresAt,
                webhook: instance.webhook,
                users: instance.users.mapValues { LeaseGrant.User(token: $0.token, kubeconfig: $0.kubeconfigPath) }))
    }

    /// After an acquire of `environment` timed out: which of its instances are held for a
    /// purpose the holder named (`k8senv run`'s KUBECONFIG), and what that leaves the others.
    private func heldFor(_ environment: String, size: Int) -> String {
        let named = leases.values.filter { $0.environment == environment && $0.purpose != nil }.sorted {
            $0.instance.id < $1.instance.id
        }
        guard !named.isEmpty else { return "" }
        let held = named.map { "\($0.instance.id) is held by \($0.purpose!) (pid \($0.holder))" }.joined(
            separator: "; ")
        let left = size - named.count
        return "; \(held): a pool of \(size) lends the command's tests \(left == 0 ? "none" : "\(left)") while it runs"
            + (left == 0 ? " (raise pool.size of \(environment) in k8senv.yaml, or --pool-size)" : "")
    }

    /// `k8senv run`'s own lease of `environment` in a run of its own: as an acquire through the
    /// socket would grant it, held by this process (which the socket refuses as a holder) for
    /// `purpose`, until ``endOwn(_:)``. The service's status shows it leased, and an acquire
    /// that times out names it.
    /// - Returns: the lease's id and instance; nil when none became free within `timeout`.
    /// - Throws: ``K8sEnvError`` `.shutDown`, or why a new instance could not start.
    package func lendOwn(_ environment: String, timeout: Duration, purpose: String) async throws(K8sEnvError) -> (
        id: String, instance: PooledInstance
    )? {
        guard !stopped, let pool = pools[environment] else {
            throw K8sEnvError(.shutDown, "the pool service is stopping")
        }
        let instance: PooledInstance
        do throws(K8sEnvError) { instance = try await pool.acquire(timeout: timeout) } catch {
            if error.code == .acquireTimeout { return nil }
            throw error
        }
        let id = Self.newLeaseID()
        let holder = getpid()
        leases[id] = Lease(
            id: id, environment: environment, instance: instance, holder: holder,
            holderStart: Ownership.startTime(of: holder) ?? 0, since: Date(), purpose: purpose)
        trace?.instant("acquire", track: instance.id, at: .now, arguments: ["lease": id, "holder": "\(holder)"])
        return (id, instance)
    }

    /// Ends a lease of ``lendOwn(_:timeout:purpose:)`` (mode reset).
    /// - Returns: nil, or why its instance could not be reset (the pool replaces it).
    package func endOwn(_ id: String) async -> String? {
        guard let lease = leases.removeValue(forKey: id) else { return nil }  // ended with the service
        do throws(K8sEnvError) { try await lease.instance.release(.reset) } catch { return error.message }
        trace?.instant("release", track: lease.instance.id, at: .now, arguments: ["lease": id, "mode": "reset"])
        return nil
    }

    struct Released: Encodable {
        var lease: String
        var instance: String
        var mode: String
        var replaced: Bool
        /// `mode=keep`: the post-mortem bundle written.
        var bundle: String?
    }

    /// Where `mode=keep` writes bundles (the config's `postmortem`, or `run --postmortem`), and
    /// the session whose instances they are.
    private var keepTarget: PostmortemCapture.Target?
    private weak var keepSession: Session?

    /// Sets where a release with `mode=keep` writes its bundle (nil: such a release is refused).
    package func keepInto(_ target: PostmortemCapture.Target?, session: Session?) {
        keepTarget = target
        if let session { keepSession = session }
    }

    /// `mode=keep`: the lease's instance written as a post-mortem bundle while it still serves,
    /// then reset for the next holder as `mode=reset` does.
    private func keep(_ id: String) async -> HTTPResponse {
        guard let target = keepTarget, let session = keepSession else {
            return .error(
                400, .badRequest,
                "mode keep needs a folder for post-mortem bundles: postmortem.dir in k8senv.yaml, or k8senv run --postmortem DIR"
            )
        }
        guard let lease = leases.removeValue(forKey: id) else { return notHeld(id) }
        guard let instance = lease.instance.member as? Instance else {
            leases[id] = lease
            return .error(
                400, .badRequest, "mode keep needs an instance of kube-apiserver (this pool's instances are not)")
        }
        let baseline = await session.record(config: session.plan.config.file, profile: nil, detached: false)
            .instances.first { $0.name == instance.name }?.baselineRevision
        var bundle: String?
        do throws(BundleError) {
            let key = try BundleKey.current()
            let started = ContinuousClock.now
            let (path, bytes) = try await PostmortemCapture.capture(
                instance, environment: lease.environment, builder: session.builder, profile: nil, baseline: baseline,
                reason: "lease \(id) released with mode keep", target: target, key: key)
            bundle = path
            log(
                "pool: lease \(id) of \(instance.name) kept as \(path) (\(EnvironmentBuilder.bytes(bytes)), \(EnvironmentBuilder.format(ContinuousClock.now - started)))"
            )
        } catch {
            log("pool: lease \(id) of \(instance.name): no post-mortem bundle: \(error)")
        }
        let replaced = await Self.end(lease, mode: .reset, why: "released (keep)", log: log)
        guard let bundle else {
            return .error(
                500, .internal,
                "the lease was released (reset), but its instance could not be written as a bundle; see the service's log"
            )
        }
        return .json(
            200, Released(lease: id, instance: lease.instance.id, mode: "keep", replaced: replaced, bundle: bundle))
    }

    private func release(_ id: String, mode: String) async -> HTTPResponse {
        if mode == "keep" { return await keep(id) }
        guard let releaseMode = ReleaseMode(rawValue: mode) else {
            return .error(400, .badRequest, "mode must be reset, clean, stop or keep, not \"\(mode)\"")
        }
        guard let lease = leases.removeValue(forKey: id) else {
            return notHeld(id)
        }
        let replaced = await Self.end(lease, mode: releaseMode, why: "released", log: log)
        trace?.instant("release", track: lease.instance.id, at: .now, arguments: ["lease": id, "mode": mode])
        return .json(200, Released(lease: id, instance: lease.instance.id, mode: mode, replaced: replaced))
    }

    struct AuditAnswer: Encodable {
        var lease: String
        var instance: String
        var events: [AuditEvent]
    }

    /// `GET /v1/leases/{id}/audit[?since=]`: the lease's requests since it was lent (or since
    /// `since`, a Go duration back from now or an RFC 3339 time, when later).
    private func audit(_ id: String, since: String?) -> HTTPResponse {
        guard let lease = leases[id] else {
            return notHeld(id)
        }
        guard lease.instance.audits else {
            return .error(
                409, .notAudited,
                "instance \(lease.instance.id) writes no audit log: add `audit:` to k8senv.yaml (\(DocsLink.page("reference/configuration.md#audit")))"
            )
        }
        var from = lease.since
        if let since {
            guard let asked = AuditSince.parse(since) else {
                return .error(
                    400, .badRequest, "since must be a Go duration (5m) or an RFC 3339 time, not \"\(since)\"")
            }
            from = max(from, asked)
        }
        return .json(
            200, AuditAnswer(lease: id, instance: lease.instance.id, events: lease.instance.auditEvents(since: from)))
    }

    struct Status: Encodable {
        struct InstanceState: Encodable {
            var name: String
            var state: String
            var lease: String?
            var holder: Int32?
            var since: Date?

            func encode(to encoder: any Encoder) throws {
                enum Key: String, CodingKey { case name, state, lease, holder, since }
                var c = encoder.container(keyedBy: Key.self)
                try c.encode(name, forKey: .name)
                try c.encode(state, forKey: .state)
                try c.encode(lease, forKey: .lease)
                try c.encode(holder, forKey: .holder)
                try c.encode(since, forKey: .since)
            }
        }
        struct Environment: Encodable {
            var name: String
            var size: Int
            var instances: [InstanceState]
            var starting: Int
            var waiting: Int
        }
        var version = 1
        var pid: Int32
        var environments: [Environment]
    }

    /// Each environment's instances and their states. A lease's id is shown only to its holder
    /// (the process that asks is the lease's holder): anyone else who can ask could end it with it.
    private func status(askedBy peer: Peer) async -> HTTPResponse {
        var environments: [Status.Environment] = []
        for name in order {
            guard let pool = pools[name] else { continue }
            let states = await pool.states
            var instances: [Status.InstanceState] =
                states.idle.sorted().map { Status.InstanceState(name: $0, state: "idle") }
                + states.resetting.map { Status.InstanceState(name: $0, state: "resetting") }
            for instanceName in states.inUse {
                let lease = leases.values.first { $0.instance.id == instanceName && $0.environment == name }
                instances.append(
                    Status.InstanceState(
                        name: instanceName, state: lease == nil ? "resetting" : "leased",
                        lease: lease.flatMap { $0.holder == peer.pid ? $0.id : nil },
                        holder: lease?.holder, since: lease?.since))
            }
            environments.append(
                Status.Environment(
                    name: name, size: pool.size, instances: instances.sorted { $0.name < $1.name },
                    starting: states.starting, waiting: states.waiting))
        }
        return .json(200, Status(pid: getpid(), environments: environments))
    }

    // MARK: - Leases taken back

    /// Ends the leases whose holder exited or whose TTL passed, and resets their instances.
    private func reclaim() {
        guard !stopped else { return }
        let now = ContinuousClock.now
        for lease in leases.values {
            let expired = lease.expires.map { now >= $0 } ?? false
            guard expired || !Ownership.isLive(lease.holder, startedAt: lease.holderStart) else { continue }
            leases[lease.id] = nil
            let why = expired ? "its TTL passed" : "its holder (pid \(lease.holder)) exited"
            if !expired { noteEndedAtOnce(lease) }
            let log = self.log
            releases[lease.id] = Task { [weak self] in
                _ = await Self.end(lease, mode: .reset, why: "taken back (\(why))", log: log)
                await self?.released(lease.id)
            }
        }
    }

    private func released(_ id: String) { releases[id] = nil }

    /// The answer about a lease that is not held; for one whose holder exited within a second
    /// of the grant, why and what to do instead (``Holder/endedAtOnce(lease:holder:)``).
    private func notHeld(_ id: String) -> HTTPResponse {
        if let holder = endedAtOnce.first(where: { $0.lease == id })?.holder {
            return .error(404, .leaseNotFound, Holder.endedAtOnce(lease: id, holder: holder))
        }
        return .error(
            404, .leaseNotFound,
            "lease \(id) is not held: it was released already, taken back when its holder exited or its TTL passed, or never granted"
        )
    }

    /// Remembers `lease` (the newest 64) when its holder exited within a second of the grant.
    private func noteEndedAtOnce(_ lease: Lease) {
        guard Date().timeIntervalSince(lease.since) < 1 else { return }
        endedAtOnce.append((lease.id, lease.holder))
        if endedAtOnce.count > 64 { endedAtOnce.removeFirst() }
    }

    /// Gives the instance of an ended lease back to its pool, by `mode`. True when its reset or
    /// cleanup failed: the pool stopped it and replaces it (said in the log, with `why`).
    private static func end(_ lease: Lease, mode: ReleaseMode, why: String, log: @Sendable (String) -> Void) async
        -> Bool
    {
        do throws(K8sEnvError) { try await lease.instance.release(mode) } catch {
            log("pool: lease \(lease.id) of \(lease.instance.id) \(why): \(error.message)")
            return true
        }
        return false
    }

    /// A decoding error in a sentence: which field, and what was wrong with it.
    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return field.isEmpty ? "not a JSON object" : "\(field) has the wrong type"
        case .dataCorrupted?: return "not valid JSON"
        default: return "\(error)"
        }
    }

    static func newLeaseID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
