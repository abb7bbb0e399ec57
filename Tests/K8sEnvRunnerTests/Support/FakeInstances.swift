import Foundation
import K8sEnvRunner
import Synchronization
import Testing

/// Starts ``FakeMember``s: no process, no port.
final class FakeFactory: InstanceFactory {
    /// One client for every fake lease (it connects nowhere; nothing sends through it).
    static let client: KubeClient = {
        // swiftlint:disable:next force_try
        try! KubeClient(server: "https://127.0.0.1:1", caCertificate: Certificates.make().caCertificate, token: "fake")
    }()

    let environment = "base"
    private let members = Mutex<[FakeMember]>([])
    private let revokedTokens = Mutex<Set<String>>([])
    let failPreparations = Mutex(0)
    /// Starts of these indexes fail.
    let failingIndexes = Mutex<Set<Int>>([])
    let closed = Mutex(false)
    /// What ``startsFromSnapshot()`` answers: the environment's snapshot is in the cache.
    let snapshotCached = Mutex(false)
    private let calls = Mutex<[Int]>([])
    /// While set, each start waits for ``releaseHeldStart(failing:)``.
    private let held = Mutex<(hold: Bool, waiting: [CheckedContinuation<Bool, Never>])>((false, []))

    static func pool(size: Int) -> (EnvironmentPool, FakeFactory) {
        let factory = FakeFactory()
        return (
            EnvironmentPool(
                environment: factory.environment, size: size, acquireTimeout: .seconds(60), factory: factory), factory
        )
    }

    var started: [FakeMember] { members.withLock { $0 } }
    var revoked: Set<String> { revokedTokens.withLock { $0 } }

    func revoke(_ token: String) { _ = revokedTokens.withLock { $0.insert(token) } }

    func holdStarts() { held.withLock { $0.hold = true } }

    /// Starts waiting for ``releaseHeldStart(failing:)``: those under way at once.
    var heldStarts: Int { held.withLock { $0.waiting.count } }

    /// The index of every start asked for, in order.
    var startCalls: [Int] { calls.withLock { $0 } }

    func releaseHeldStart(failing: Bool) {
        let waiting = held.withLock { state in
            state.hold = false
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for continuation in waiting { continuation.resume(returning: failing) }
    }

    func prepare() async throws(K8sEnvError) {
        let fail = failPreparations.withLock { count in
            defer { count = max(count - 1, 0) }
            return count > 0
        }
        if fail { throw K8sEnvError(.process, "the snapshot could not be built") }
    }

    func startsFromSnapshot() async -> Bool { snapshotCached.withLock { $0 } }

    func start(index: Int) async throws(K8sEnvError) -> any PoolMember {
        let name = "\(environment)-\(index)"
        calls.withLock { $0.append(index) }
        let fail = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let resumeNow = held.withLock { state in
                if state.hold { state.waiting.append(continuation) }
                return !state.hold
            }
            if resumeNow { continuation.resume(returning: false) }
        }
        if fail || failingIndexes.withLock({ $0.contains(index) }) {
            throw K8sEnvError(.process, "\(name) would not start")
        }
        let member = FakeMember(name: name, factory: self)
        members.withLock { $0.append(member) }
        return member
    }

    func close() async { closed.withLock { $0 = true } }
}

/// An instance that is only state: alive until ``kill()`` or ``stop()``.
final class FakeMember: PoolMember {
    let name: String
    let factory: FakeFactory
    private let state = Mutex<(alive: Bool, stopped: Bool, watchers: [CheckedContinuation<ProcessError?, Never>])>(
        (true, false, []))
    let failReset = Mutex(false)
    let restores = Mutex(0)

    init(name: String, factory: FakeFactory) {
        self.name = name
        self.factory = factory
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Its "process" dies by itself.
    func kill() {
        let watchers = state.withLock { state in
            state.alive = false
            defer { state.watchers.removeAll() }
            return state.watchers
        }
        for watcher in watchers { watcher.resume(returning: failure()) }
    }

    func failure() -> ProcessError? {
        state.withLock { $0.alive || $0.stopped }
            ? nil : ProcessError(.exited, "\(name): kube-apiserver was killed by signal 9")
    }

    var processesAlive: Bool { state.withLock { $0.alive } }

    func ended() async -> ProcessError? {
        await withCheckedContinuation { continuation in
            let now: ProcessError?? = state.withLock { state in
                if state.stopped { return .some(nil) }
                if !state.alive {
                    return .some(ProcessError(.exited, "\(name): kube-apiserver was killed by signal 9"))
                }
                state.watchers.append(continuation)
                return .none
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    func stop() async {
        let watchers = state.withLock { state in
            state.stopped = true
            state.alive = false
            defer { state.watchers.removeAll() }
            return state.watchers
        }
        for watcher in watchers { watcher.resume(returning: nil) }
    }

    func takeRestorePoint() async throws(K8sEnvError) -> any MemberRestorePoint { FakeRestorePoint(member: self) }

    func lend(number: Int) throws(K8sEnvError) -> LeaseTerms {
        let token = "\(name)-lease-\(number)"
        let factory = self.factory
        return LeaseTerms(
            server: "https://127.0.0.1:1", caCertificate: "", token: token,
            kubeconfigPath: "/nonexistent/\(name)/leases/\(number)/kubeconfig",
            users: [], client: FakeFactory.client.with(token: token), webhook: nil, directory: "/nonexistent/\(name)",
            auditLogPath: nil, revoke: { factory.revoke(token) })
    }
}

struct FakeRestorePoint: MemberRestorePoint {
    let member: FakeMember

    func restore(_ mode: ReleaseMode) async throws {
        member.restores.withLock { $0 += 1 }
        if member.failReset.withLock({ $0 }) { throw K8sEnvError(.process, "the store would not go back") }
    }
}
