import Foundation
import Testing

/// How many tests that start kube-apiservers run at once in one test process, across every test
/// target: the CLI's suites (through `Workspace.with`) and the runner's (through the
/// ``Trait/integrationSlot`` trait) take one slot per test from this one counter.
///
/// On 2 cores more at once only makes each start slower, and a test whose kube-apiserver does not
/// become ready within its `timeouts.start` fails. Before there was one counter, the runner's
/// suites started theirs without waiting while the CLI's waited for one of two slots, and in
/// one CI run of four the CLI's pool-service tests ran out of their start timeout.
/// `K8SENV_TEST_SLOTS` changes the count (a machine with more cores).
public actor IntegrationSlots {
    public static let shared = IntegrationSlots(count: configuredCount())

    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(count: Int) { free = max(1, count) }

    public func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty { free += 1 } else { waiters.removeFirst().resume() }
    }

    /// Runs `body` holding a slot, released on every path out.
    public nonisolated func withSlot<T>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        await release()
        return try result.get()
    }

    static func configuredCount() -> Int {
        if let text = ProcessInfo.processInfo.environment["K8SENV_TEST_SLOTS"], let count = Int(text), count > 0 {
            return count
        }
        return 4
    }
}

/// Each test of a suite with this trait holds one of the ``IntegrationSlots`` while it runs.
public struct IntegrationSlotTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    /// One slot per test case: not around a whole suite, nor around a test function's cases together.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        try await IntegrationSlots.shared.withSlot(function)
    }
}

extension Trait where Self == IntegrationSlotTrait {
    /// The test starts kube-apiservers: it waits for one of the ``IntegrationSlots`` first.
    public static var integrationSlot: Self { IntegrationSlotTrait() }
}

/// What the integration suites of every test target share.
public enum Integration {
    /// The time limit of suites whose tests start kube-apiservers: a hang guard, not a timing.
    /// It counts a test's wait for one of the ``IntegrationSlots`` too, and the suites start their
    /// tests together, so it is sized for the whole queue of them on 2 cores, not for one test.
    public static let timeLimit = TimeLimitTrait.Duration.minutes(12)
}
