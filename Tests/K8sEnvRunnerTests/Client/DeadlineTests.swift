import K8sEnvRunner
import K8sEnvSystem
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// `Deadline.run`, under every request of `KubeClient`: the answer when it comes in time, nil
/// when the deadline passes first — even for work that ignores cancellation — and the work on
/// the event loop it was given.
@Suite("Deadline: a request's deadline", .timeLimit(.minutes(1)))
struct DeadlineTests {
    let executor = EventLoopExecutor(MultiThreadedEventLoopGroup.singleton.next())

    @Test("an answer before the deadline is returned, from work that ran on the executor's loop")
    func answerInTime() async throws {
        let loop = executor.eventLoop
        let answer = try await Deadline.run(.seconds(30), on: executor) {
            loop.inEventLoop ? "on the loop" : "elsewhere"
        }
        #expect(answer == "on the loop")
    }

    @Test("an error of the work is the caller's error")
    func workFails() async {
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await Deadline.run(.seconds(30), on: executor) { () async throws -> Int in throw Refused() }
        }
    }

    @Test(
        "work that never answers and ignores cancellation: nil once the deadline passes, without waiting for it; it is cancelled"
    )
    func deadlinePasses() async throws {
        let work = Parked()
        let answer = try await Deadline.run(.milliseconds(200), on: executor) { () async -> Int in
            await work.park()
            work.ended(cancelled: Task.isCancelled)
            return 1
        }
        #expect(answer == nil)
        work.release()
        #expect(await work.wasCancelled() == true)
    }

    @Test("a cancelled caller: the work is cancelled and the caller gets its error")
    func callerCancelled() async {
        let executor = self.executor
        let caller = Task {
            try await Deadline.run(.seconds(60), on: executor) { () async throws -> Int in
                try await Task.sleep(for: .seconds(60))
                return 1
            }
        }
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
    }

    /// Work that waits, deaf to cancellation, until the test releases it, and tells the test
    /// whether it was cancelled by then.
    final class Parked: Sendable {
        private struct State {
            var parked: CheckedContinuation<Void, Never>?
            var released = false
            var cancelled: Bool?
            var waiter: CheckedContinuation<Bool, Never>?
        }
        private let state = Mutex(State())

        func park() async {
            await withCheckedContinuation { continuation in
                let released = state.withLock { state in
                    if !state.released { state.parked = continuation }
                    return state.released
                }
                if released { continuation.resume() }
            }
        }

        func release() {
            state.withLock { state in
                state.released = true
                defer { state.parked = nil }
                return state.parked
            }?.resume()
        }

        func ended(cancelled: Bool) {
            state.withLock { state in
                state.cancelled = cancelled
                defer { state.waiter = nil }
                return state.waiter
            }?.resume(returning: cancelled)
        }

        func wasCancelled() async -> Bool {
            await withCheckedContinuation { continuation in
                let known = state.withLock { state in
                    if state.cancelled == nil { state.waiter = continuation }
                    return state.cancelled
                }
                if let known { continuation.resume(returning: known) }
            }
        }
    }
}
