import Foundation
import K8sEnvSpec

/// A bounded pool of instances of one environment, for tests: ``acquire(timeout:)`` lends a
/// ready instance (an idle one in milliseconds, else a new one from the environment's snapshot,
/// else it waits), ``PooledInstance/release(_:)`` cleans it and returns it. Idle instances are
/// reused last-in first-out.
public actor EnvironmentPool {
    public nonisolated let environment: String
    /// Instances at most.
    public nonisolated let size: Int
    let acquireTimeout: Duration
    /// Starts the pool's instances (``InstanceFactory``).
    let factory: any InstanceFactory

    private struct Slot {
        var instance: any PoolMember
        /// What every release of the instance puts it back to: taken once, when the instance is
        /// first handed out, never again (see ``RestorePoint``).
        let restorePoint: any MemberRestorePoint
    }

    private enum Grant: Sendable {
        case instance(PooledInstance)
        /// A slot freed by a stopped instance: the waiter starts a new one.
        case slot
    }

    private struct Waiter {
        var id: UUID
        var continuation: CheckedContinuation<Grant, any Error>
    }

    private var initialization: Task<Void, any Error>?
    private var isPrepared = false
    private var idle: [Slot] = []
    private var inUse: [String: (slot: Slot, lease: PooledInstance)] = [:]
    private var starting = 0
    private var waiters: [Waiter] = []
    private var releasing = 0
    /// Instances taken back and being reset (or stopped): still instances of the pool.
    private var resetting = 0
    /// Their names, for status.
    private var resettingNames: Set<String> = []
    private var drained: [CheckedContinuation<Void, Never>] = []
    private var isShutDown = false
    private var nextIndex = 0
    /// Numbers the leases' credential folders (`leases/<n>/` of an instance).
    private var nextLease = 0
    /// Told of every instance the pool starts, stops on purpose, or sees fail (``PoolEvent``):
    /// the run of `up` or `run` records them in run.json.
    private var observer: (@Sendable (PoolEvent) async -> Void)?
    /// Whether the instances started so far filled the pool once: a later start replaces one.
    private var filled = false
    /// One task per running instance, awaiting its processes' exit (``PoolMember/ended()``).
    private var supervisors: [String: Task<Void, Never>] = [:]

    init(configuration: K8sEnvConfiguration, environment: String, size: Int, options: PoolOptions) {
        self.init(
            environment: environment, size: size,
            acquireTimeout: options.acquireTimeout ?? configuration.plan.config.timeouts.acquire.duration,
            factory: EnvironmentInstances(configuration: configuration, environment: environment, options: options))
    }

    /// A pool of at most `size` instances of `environment`, started by `factory`.
    package init(environment: String, size: Int, acquireTimeout: Duration, factory: any InstanceFactory) {
        self.environment = environment
        self.size = max(size, 1)
        self.acquireTimeout = acquireTimeout
        self.factory = factory
    }

    /// Tells `observer` of every instance the pool starts, stops on purpose or sees fail from now
    /// on; each call is awaited before the pool goes on (a replacement is recorded before it is
    /// lent).
    package func publish(to observer: @escaping @Sendable (PoolEvent) async -> Void) {
        self.observer = observer
    }

    /// Starts instances until the pool holds `size`, ready and idle: all together when each starts
    /// from a snapshot already in the cache; else the first alone (on a cache miss it builds the
    /// snapshot the others start from), then the rest together. Not fewer at a time: on 2 cores,
    /// 4 and 8 starts at once were ready sooner than 2 at a time (bench-pool-curve.sh).
    /// - Throws: ``K8sEnvError``: why one could not start; the others of this call are stopped.
    /// Traced on a track of the pool's own: the pools of a run warm concurrently.
    package func warm() async throws(K8sEnvError) {
        try await Trace.span("pool warm-up", track: "\(environment) pool", arguments: ["size": "\(size)"]) {
            () async throws(K8sEnvError) in try await warmUp()
        }
    }

    private func warmUp() async throws(K8sEnvError) {
        try await initialize()
        let wanted = size - total
        guard wanted > 0 else { return }
        starting += wanted
        let indexes = Array(nextIndex..<nextIndex + wanted)
        nextIndex += wanted
        // All together when every start finds the snapshot in the cache; else the first alone (on a
        // cache miss it builds the snapshot the others start from), the rest of its start
        // (kube-apiserver's own post-start work) while the others start.
        let results: [Result<Slot, K8sEnvError>]
        if await factory.startsFromSnapshot() {
            results = await startTogether(indexes)
        } else {
            switch await startMember(index: indexes[0]) {
            case .failure(let error): results = [.failure(error)]
            case .success(let first): results = await startTogether(indexes.dropFirst(), finishing: first)
            }
        }
        starting -= wanted
        var slots: [Slot] = []
        var failure: K8sEnvError?
        for result in results {
            switch result {
            case .success(let slot): slots.append(slot)
            case .failure(let error): failure = failure ?? error
            }
        }
        if isShutDown { failure = failure ?? K8sEnvError(.shutDown, "the pool of \(environment) was shut down") }
        if let failure {
            for slot in slots { await stopOnPurpose(slot.instance) }
            grantFreedSlot()
            throw failure
        }
        filled = filled || total + slots.count >= size
        idle += slots.sorted { $0.instance.name.localizedStandardCompare($1.instance.name) == .orderedAscending }
    }

    /// Starts instance `index` and finishes its start (``finishSlot(_:)``).
    /// Starts the instances of `indexes` at once, beside the rest of `first`'s start.
    private func startTogether(_ indexes: some Collection<Int>, finishing first: (any PoolMember)? = nil) async
        -> [Result<Slot, K8sEnvError>]
    {
        await withTaskGroup(of: Result<Slot, K8sEnvError>.self) { group in
            if let first { group.addTask { await self.finishSlot(first) } }
            for index in indexes { group.addTask { await self.startSlot(index: index) } }
            var all: [Result<Slot, K8sEnvError>] = []
            for await result in group { all.append(result) }
            return all
        }
    }

    private func startSlot(index: Int) async -> Result<Slot, K8sEnvError> {
        switch await startMember(index: index) {
        case .success(let instance): return await finishSlot(instance)
        case .failure(let error): return .failure(error)
        }
    }

    private func startMember(index: Int) async -> Result<any PoolMember, K8sEnvError> {
        do throws(K8sEnvError) { return .success(try await factory.start(index: index)) } catch {
            return .failure(error)
        }
    }

    /// Waits for `instance`'s own post-start work (``PoolMember/finishStart()``), takes its
    /// restore point, supervises it and tells the observer.
    private func finishSlot(_ instance: any PoolMember) async -> Result<Slot, K8sEnvError> {
        do throws(K8sEnvError) {
            // Before the restore point and before `up` reports ready: what kube-apiserver does
            // on its own after it answers would otherwise share the cores with the first holders.
            await Trace.span("OpenAPI published", track: instance.name) { await instance.finishStart() }
            let restorePoint: any MemberRestorePoint
            do throws(K8sEnvError) { restorePoint = try await instance.takeRestorePoint() } catch {
                await instance.stop()
                throw error
            }
            supervise(instance)
            await observer?(.started(instance, replacement: filled))
            return .success(Slot(instance: instance, restorePoint: restorePoint))
        } catch {
            return .failure(error)
        }
    }

    /// Awaits `instance`'s processes; when one stops by itself, the observer is told.
    private func supervise(_ instance: any PoolMember) {
        let name = instance.name
        supervisors[name] = Task { [weak self] in
            guard let failure = await instance.ended() else { return }
            await self?.failed(name, failure)
        }
    }

    private func failed(_ name: String, _ failure: ProcessError) async {
        guard !isShutDown else { return }
        await observer?(.failed(name: name, failure))
    }

    /// Stops an instance the pool no longer wants (a release with mode stop, a failed reset, a
    /// dead idle one) and tells the observer.
    private func stopOnPurpose(_ instance: any PoolMember) async {
        supervisors.removeValue(forKey: instance.name)?.cancel()
        await instance.stop()
        if !isShutDown { await observer?(.stopped(name: instance.name)) }
    }

    /// How many instances are idle and lent out.
    public var counts: (idle: Int, inUse: Int) { (idle.count, inUse.count) }

    /// Every instance's name and whether it is lent out, idle, or starting (by count).
    package var states: (idle: [String], inUse: [String], resetting: [String], starting: Int, waiting: Int) {
        (idle.map(\.instance.name), inUse.keys.sorted(), resettingNames.sorted(), starting, waiters.count)
    }

    /// Resolves the binaries and makes sure the environment's snapshot is in the cache (building
    /// it, and its parents, if needed). Idempotent; concurrent calls share one initialization.
    /// - Throws: ``K8sEnvError`` saying what failed.
    public func initialize() async throws(K8sEnvError) {
        if isShutDown { throw K8sEnvError(.shutDown, "the pool of \(environment) was shut down") }
        if isPrepared { return }
        let task: Task<Void, any Error>
        if let initialization {
            task = initialization
        } else {
            let factory = self.factory
            // Owned by the pool and awaited by every caller; cancelled by shutdown().
            task = Task { try await factory.prepare() }
            initialization = task
        }
        do {
            try await task.value
            isPrepared = true
        } catch let error as K8sEnvError {
            initialization = nil  // a later call may try again
            throw error
        } catch {
            initialization = nil
            throw K8sEnvError(.process, "\(error)", cause: error)
        }
        if isShutDown { throw K8sEnvError(.shutDown, "the pool of \(environment) was shut down") }
    }

    /// Lends an instance: an idle one (most recently released first), else a new one while the
    /// pool is below its size, else the next one released.
    /// - Parameter timeout: how long to wait for a free instance (default `timeouts.acquire`).
    /// - Throws: ``K8sEnvError``: `.acquireTimeout`, `.cancelled` (the task was cancelled while
    ///   waiting), `.shutDown`, or why a new instance could not start.
    public func acquire(timeout: Duration? = nil) async throws(K8sEnvError) -> PooledInstance {
        try await initialize()
        while let slot = idle.popLast() {
            if slot.instance.failure() == nil, slot.instance.processesAlive {
                do { return try lend(slot) } catch {
                    idle.append(slot)
                    throw error
                }
            }
            // It died while idle: replace it.
            await stopOnPurpose(slot.instance)
        }
        if total < size { return try await startNew() }
        switch try await wait(timeout: timeout ?? acquireTimeout) {
        case .instance(let lease): return lease
        case .slot: return try await startNew(reserved: true)
        }
    }

    private var total: Int { idle.count + inUse.count + starting + resetting }

    /// Lends `slot`'s instance with new credentials (``LeaseCredentials``).
    private func lend(_ slot: Slot) throws(K8sEnvError) -> PooledInstance {
        nextLease += 1
        let lease = PooledInstance(member: slot.instance, pool: self, terms: try slot.instance.lend(number: nextLease))
        inUse[slot.instance.name] = (slot, lease)
        return lease
    }

    /// Starts a new instance and lends it. Its place is counted in `starting` (by the caller
    /// when `reserved`: a slot granted to a waiter) until it is lent or has failed; a start
    /// that fails gives its place to the first waiter at once.
    private func startNew(reserved: Bool = false) async throws(K8sEnvError) -> PooledInstance {
        if !reserved { starting += 1 }
        let index = nextIndex
        nextIndex += 1
        let slot: Slot
        switch await startSlot(index: index) {
        case .success(let started): slot = started
        case .failure(let error):
            starting -= 1
            grantFreedSlot()
            throw error
        }
        starting -= 1
        filled = filled || total + 1 >= size
        if isShutDown {
            await slot.instance.stop()
            throw K8sEnvError(.shutDown, "the pool of \(environment) was shut down")
        }
        do { return try lend(slot) } catch {
            idle.append(slot)
            throw error
        }
    }

    private func wait(timeout: Duration) async throws(K8sEnvError) -> Grant {
        let id = UUID()
        // The timer belongs to this call: cancelled when the wait ends.
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled {
                await self?.expire(
                    id,
                    K8sEnvError(
                        .acquireTimeout, "no instance of \(self?.environment ?? "") became free within \(timeout)"))
            }
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                    waiters.append(Waiter(id: id, continuation: continuation))
                }
            } onCancel: {
                Task {
                    await self.expire(
                        id, K8sEnvError(.cancelled, "acquire was cancelled while waiting for an instance"))
                }
            }
        } catch let error as K8sEnvError {
            throw error
        } catch {
            throw K8sEnvError(.cancelled, "\(error)", cause: error)
        }
    }

    private func expire(_ id: UUID, _ error: K8sEnvError) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: error)
    }

    /// A slot was freed (an instance stopped): let the first waiter start a new instance.
    private func grantFreedSlot() {
        guard !waiters.isEmpty, total < size else { return }
        starting += 1
        waiters.removeFirst().continuation.resume(returning: .slot)
    }

    /// Takes an instance back. See ``PooledInstance/release(_:)``.
    func release(_ lease: PooledInstance, mode: ReleaseMode) async throws(K8sEnvError) {
        guard let entry = inUse[lease.id], entry.lease === lease else {
            throw K8sEnvError(
                .notAcquired, "\(lease.id) was released already (each acquire's instance is released once)")
        }
        inUse[lease.id] = nil
        // Before anything else: from here on, a request with the lease's tokens gets 401.
        lease.terms.revoke()
        resetting += 1
        resettingNames.insert(lease.id)
        releasing += 1
        defer {
            releasing -= 1
            if releasing == 0 {
                for continuation in drained { continuation.resume() }
                drained.removeAll()
            }
        }
        let slot = entry.slot
        if isShutDown || mode == .stop {
            await stopOnPurpose(slot.instance)
            doneResetting(lease.id)
            grantFreedSlot()
            return
        }
        var failure: K8sEnvError?
        do {
            try await slot.restorePoint.restore(mode)
        } catch {
            let what = mode == .clean ? "cleanup" : "reset"
            failure = K8sEnvError(
                .cleanup, "\(slot.instance.name): \(what) failed, so it was stopped (a new one replaces it): \(error)",
                cause: error)
        }
        if failure != nil || slot.instance.failure() != nil || isShutDown {
            await stopOnPurpose(slot.instance)
            doneResetting(lease.id)
            grantFreedSlot()
            if let failure { throw failure }
            return
        }
        doneResetting(lease.id)
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            do { waiter.continuation.resume(returning: .instance(try lend(slot))) } catch {
                idle.append(slot)
                waiter.continuation.resume(throwing: error)
            }
        } else {
            idle.append(slot)
        }
    }

    private func doneResetting(_ name: String) {
        resetting -= 1
        resettingNames.remove(name)
    }

    /// Lends an instance to `body` and releases it (cleaned) on every path, also when `body` throws.
    /// - Throws: what `body` throws, or ``K8sEnvError`` from acquire or release.
    public func withInstance<T: Sendable>(
        timeout: Duration? = nil,
        _ body: (PooledInstance) async throws -> T
    ) async throws -> T {
        let lease = try await acquire(timeout: timeout)
        let result: T
        do { result = try await body(lease) } catch {
            try? await lease.release()
            throw error
        }
        try await lease.release()
        return result
    }

    /// Stops every instance in parallel, after releases in flight have finished. Waiting
    /// acquires fail with `.shutDown`. Later calls do nothing.
    public func shutdown() async {
        guard !isShutDown else { return }
        isShutDown = true
        for supervisor in supervisors.values { supervisor.cancel() }
        supervisors.removeAll()
        for waiter in waiters {
            waiter.continuation.resume(throwing: K8sEnvError(.shutDown, "the pool of \(environment) was shut down"))
        }
        waiters.removeAll()
        if releasing > 0 { await withCheckedContinuation { drained.append($0) } }
        initialization?.cancel()
        for (_, lease) in inUse.values { lease.terms.revoke() }
        let all = idle.map(\.instance) + inUse.values.map(\.slot.instance)
        idle.removeAll()
        inUse.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for instance in all { group.addTask { await instance.stop() } }
        }
        await factory.close()
    }
}

/// What a pool tells its observer (``EnvironmentPool/publish(to:)``) about its instances.
package enum PoolEvent: Sendable {
    /// It started `instance`: one of the first `size`, or (`replacement`) one in place of an
    /// instance it stopped.
    case started(any PoolMember, replacement: Bool)
    /// A process of the instance stopped by itself (it stays the pool's until it is stopped).
    case failed(name: String, ProcessError)
    /// The pool stopped the instance on purpose (not at shutdown).
    case stopped(name: String)
}
