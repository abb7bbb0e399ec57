import Foundation
import K8sEnvRunner
import Synchronization
import Testing

/// The pool's queue — waiters, timeouts, LIFO reuse, cancellation, replacement, release —
/// against a fake ``InstanceFactory`` that starts no process: each test takes milliseconds. The
/// same pool against real kube-apiservers is PoolTests.
@Suite("EnvironmentPool's queue (fake instances)", .tags(.fast), .timeLimit(.minutes(1)))
struct PoolQueueTests {
    @Test("an acquire lends a ready instance named after the environment; a release gives it back for the next acquire")
    func acquireAndRelease() async throws {
        let (pool, factory) = FakeFactory.pool(size: 2)
        let first = try await pool.acquire()
        #expect(first.id == "base-0")
        try await first.release()
        let second = try await pool.acquire()
        #expect(second.id == "base-0", "reused, not started again")
        #expect(second.token != first.token, "each lease has credentials of its own")
        #expect(factory.revoked.contains(first.token), "the first lease's credentials ended with it")
        #expect(factory.started.count == 1)
        #expect(factory.started[0].restores.withLock { $0 } == 1, "the release put the instance back")
        try await second.release()
        await pool.shutdown()
    }

    @Test("idle instances are lent last in, first out")
    func lastInFirstOut() async throws {
        let (pool, _) = FakeFactory.pool(size: 3)
        let a = try await pool.acquire()
        let b = try await pool.acquire()
        let c = try await pool.acquire()
        try await b.release()
        try await a.release()
        try await c.release()
        #expect(try await pool.acquire().id == "base-2")
        #expect(try await pool.acquire().id == "base-0")
        #expect(try await pool.acquire().id == "base-1")
        await pool.shutdown()
    }

    @Test(
        "a full pool's acquire fails with acquireTimeout when nothing is released in time; the held lease is untouched")
    func acquireTimeout() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        let held = try await pool.acquire()
        let error = await #expect(throws: K8sEnvError.self) { try await pool.acquire(timeout: .milliseconds(20)) }
        #expect(error?.code == .acquireTimeout, "\(String(describing: error))")
        #expect(await pool.states.waiting == 0)
        #expect(!factory.revoked.contains(held.token))
        try await held.release()
        #expect(await pool.idleAndInUse == [1, 0])
        await pool.shutdown()
    }

    @Test("a release hands its instance straight to the first waiter, with new credentials")
    func releaseHandsToWaiter() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        let held = try await pool.acquire()
        let waiter = Task { try await pool.acquire(timeout: .seconds(30)) }
        try await eventually { await pool.states.waiting == 1 }
        try await held.release()
        let granted = try await waiter.value
        #expect(granted.id == "base-0")
        #expect(granted.token != held.token && factory.revoked.contains(held.token))
        #expect(await pool.idleAndInUse == [0, 1])
        try await granted.release()
        await pool.shutdown()
    }

    @Test("waiters are served in the order they came")
    func waitersInOrder() async throws {
        let (pool, _) = FakeFactory.pool(size: 1)
        let held = try await pool.acquire()
        let first = Task { try await pool.acquire(timeout: .seconds(30)) }
        try await eventually { await pool.states.waiting == 1 }
        let second = Task { try await pool.acquire(timeout: .seconds(30)) }
        try await eventually { await pool.states.waiting == 2 }
        try await held.release()
        let granted = try await first.value
        #expect(await pool.states.waiting == 1, "the second still waits")
        try await granted.release()
        try await second.value.release()
        await pool.shutdown()
    }

    @Test(
        "a cancelled waiting acquire fails with cancelled and leaves the queue: the next release keeps its instance idle"
    )
    func cancelledWaiter() async throws {
        let (pool, _) = FakeFactory.pool(size: 1)
        let held = try await pool.acquire()
        let waiter = Task { try await pool.acquire(timeout: .seconds(30)) }
        try await eventually { await pool.states.waiting == 1 }
        waiter.cancel()
        let error = await #expect(throws: K8sEnvError.self) { try await waiter.value }
        #expect(error?.code == .cancelled, "\(String(describing: error))")
        #expect(await pool.states.waiting == 0)
        try await held.release()
        #expect(await pool.idleAndInUse == [1, 0], "nothing was lent to the cancelled acquire")
        await pool.shutdown()
    }

    @Test("an idle instance whose processes died is stopped and replaced by the next acquire")
    func deadIdleInstanceReplaced() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        try await pool.acquire().release()
        factory.started[0].kill()
        let replacement = try await pool.acquire()
        #expect(replacement.id == "base-1")
        #expect(factory.started[0].isStopped)
        try await replacement.release()
        await pool.shutdown()
    }

    @Test("a failed reset is reported as cleanup, the instance is stopped, and the next acquire gets a new one")
    func failedResetReplaced() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        let lease = try await pool.acquire()
        factory.started[0].failReset.withLock { $0 = true }
        let error = await #expect(throws: K8sEnvError.self) { try await lease.release() }
        #expect(
            error?.code == .cleanup && error?.message.contains("base-0: reset failed") == true,
            "\(String(describing: error))")
        #expect(factory.started[0].isStopped)
        #expect(try await pool.acquire().id == "base-1")
        await pool.shutdown()
    }

    @Test("a release with mode stop stops the instance, and a waiter gets a new one in its place")
    func stopModeFreesSlotForWaiter() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        let held = try await pool.acquire()
        let waiter = Task { try await pool.acquire(timeout: .seconds(30)) }
        try await eventually { await pool.states.waiting == 1 }
        try await held.release(.stop)
        #expect(try await waiter.value.id == "base-1")
        #expect(factory.started[0].isStopped)
        await pool.shutdown()
    }

    @Test("a start that fails gives its place to a waiter, which starts an instance of its own")
    func failedStartFreesSlotForWaiter() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        factory.holdStarts()
        let failing = Task { try await pool.acquire() }
        try await eventually { await pool.states.starting == 1 }
        let waiter = Task { try await pool.acquire(timeout: .seconds(30)) }
        try await eventually { await pool.states.waiting == 1 }
        factory.releaseHeldStart(failing: true)
        let error = await #expect(throws: K8sEnvError.self) { try await failing.value }
        #expect(error?.message.contains("base-0 would not start") == true, "\(String(describing: error))")
        #expect(try await waiter.value.id == "base-1")
        await pool.shutdown()
    }

    @Test("releasing a lease twice is notAcquired and leaves the instance's next holder alone")
    func doubleRelease() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        let first = try await pool.acquire()
        try await first.release()
        let second = try await pool.acquire()
        let error = await #expect(throws: K8sEnvError.self) { try await first.release() }
        #expect(error?.code == .notAcquired, "\(String(describing: error))")
        #expect(await pool.idleAndInUse == [0, 1])
        #expect(!factory.revoked.contains(second.token))
        try await second.release()
        await pool.shutdown()
    }

    @Test("withInstance releases the instance also when its body throws")
    func withInstanceReleasesOnThrow() async throws {
        struct Boom: Error {}
        let (pool, _) = FakeFactory.pool(size: 1)
        await #expect(throws: Boom.self) {
            try await pool.withInstance { (_: PooledInstance) async throws -> Int in throw Boom() }
        }
        #expect(await pool.idleAndInUse == [1, 0])
        await pool.shutdown()
    }

    @Test("a failed preparation fails the acquire with its error, and the next acquire prepares again")
    func failedPreparationRetried() async throws {
        let (pool, factory) = FakeFactory.pool(size: 1)
        factory.failPreparations.withLock { $0 = 1 }
        let error = await #expect(throws: K8sEnvError.self) { try await pool.acquire() }
        #expect(error?.message == "the snapshot could not be built", "\(String(describing: error))")
        #expect(try await pool.acquire().id == "base-0")
        await pool.shutdown()
    }

    @Test(
        "warm starts instances up to the pool's size, idle; the observer hears of each start, replacement, stop on purpose and failure"
    )
    func warmAndEvents() async throws {
        let (pool, factory) = FakeFactory.pool(size: 2)
        let heard = Mutex<[String]>([])
        await pool.publish { event in
            let line: String
            switch event {
            case .started(let member, let replacement): line = "\(replacement ? "replaced" : "started") \(member.name)"
            case .failed(let name, let failure): line = "failed \(name): \(failure.message)"
            case .stopped(let name): line = "stopped \(name)"
            }
            heard.withLock { $0.append(line) }
        }
        try await pool.warm()
        #expect(await pool.idleAndInUse == [2, 0])
        #expect(Set(heard.withLock { $0 }) == ["started base-0", "started base-1"])
        try await pool.acquire().release(.stop)  // base-1, the last idle
        let kept = try await pool.acquire()
        let replacement = try await pool.acquire()
        #expect(kept.id == "base-0" && replacement.id == "base-2")
        factory.started[0].kill()
        try await eventually { heard.withLock { $0.count } == 5 }
        #expect(
            Array(heard.withLock { $0 }.dropFirst(2)) == [
                "stopped base-1", "replaced base-2", "failed base-0: base-0: kube-apiserver was killed by signal 9",
            ])
        // The replacement is supervised like the first ones.
        factory.started[2].kill()
        try await eventually { heard.withLock { $0.count } == 6 }
        #expect(heard.withLock { $0.last } == "failed base-2: base-2: kube-apiserver was killed by signal 9")
        _ = (kept, replacement)
        await pool.shutdown()
        #expect(heard.withLock { $0.count } == 6, "shutdown stops without telling: the run ends")
    }

    @Test("a warm that cannot start every instance stops the ones it started and fails with why")
    func failedWarm() async throws {
        let (pool, factory) = FakeFactory.pool(size: 3)
        factory.failingIndexes.withLock { $0 = [2] }
        let error = await #expect(throws: K8sEnvError.self) { try await pool.warm() }
        #expect(error?.message == "base-2 would not start", "\(String(describing: error))")
        #expect(factory.started.count == 2 && factory.started.allSatisfy(\.isStopped))
        #expect(await pool.idleAndInUse == [0, 0])
        await pool.shutdown()
    }

    @Test("warm starts every instance together when each starts from a snapshot already in the cache")
    func warmTogetherFromCachedSnapshot() async throws {
        let (pool, factory) = FakeFactory.pool(size: 4)
        factory.snapshotCached.withLock { $0 = true }
        factory.holdStarts()
        let warming = Task { try await pool.warm() }
        try await eventually { factory.heldStarts == 4 }
        factory.releaseHeldStart(failing: false)
        try await warming.value
        #expect(await pool.idleAndInUse == [4, 0])
        await pool.shutdown()
    }

    @Test("warm starts the first instance alone when it builds the snapshot: when it fails, no other start was tried")
    func warmFirstAloneOnCacheMiss() async throws {
        let (pool, factory) = FakeFactory.pool(size: 3)
        factory.holdStarts()
        let warming = Task { try await pool.warm() }
        try await eventually { factory.heldStarts == 1 }
        factory.releaseHeldStart(failing: true)
        let error = await #expect(throws: K8sEnvError.self) { try await warming.value }
        #expect(error?.message == "base-0 would not start", "\(String(describing: error))")
        #expect(factory.startCalls == [0])
        #expect(await pool.idleAndInUse == [0, 0])
        await pool.shutdown()
    }

    @Test("shutdown fails a waiting acquire with shutDown, stops every instance, and later acquires fail with shutDown")
    func shutdown() async throws {
        let (pool, factory) = FakeFactory.pool(size: 2)
        let a = try await pool.acquire()
        let b = try await pool.acquire()
        let waiter = Task { try await pool.acquire(timeout: .seconds(30)) }
        try await eventually { await pool.states.waiting == 1 }
        await pool.shutdown()
        let waited = await #expect(throws: K8sEnvError.self) { try await waiter.value }
        #expect(waited?.code == .shutDown, "\(String(describing: waited))")
        #expect(factory.started.allSatisfy(\.isStopped) && factory.started.count == 2)
        #expect(factory.revoked.contains(a.token) && factory.revoked.contains(b.token), "no lease outlives the pool")
        #expect(factory.closed.withLock { $0 })
        let later = await #expect(throws: K8sEnvError.self) { try await pool.acquire() }
        #expect(later?.code == .shutDown, "\(String(describing: later))")
    }
}

/// Polls `condition` until it holds (a test of the queue waits for a waiter to be queued).
private func eventually(_ condition: () async -> Bool) async throws {
    for _ in 0..<10_000 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("the condition did not hold")
    throw CancellationError()
}
