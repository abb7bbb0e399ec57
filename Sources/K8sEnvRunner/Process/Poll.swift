import Foundation

/// The one way k8senv waits for something to happen: it asks a condition at once, then every
/// `interval`, until the condition holds, the deadline passes or the task is cancelled — and
/// when it gives up, it says why (``GaveUp``), for the caller to word its own error.
///
/// A condition that sees the wait is pointless (the process it waits for exited) throws: the
/// error comes out of the poll at once, as it is.
package struct Poll: Sendable {
    /// How long to sleep between two asks (less before the deadline, when it is nearer).
    package var interval: Duration
    /// When to give up; nil: only when cancelled.
    package var deadline: ContinuousClock.Instant?

    package init(every interval: Duration, until deadline: ContinuousClock.Instant? = nil) {
        self.interval = interval
        self.deadline = deadline
    }

    package init(every interval: Duration, for timeout: Duration) {
        self.init(every: interval, until: .now + timeout)
    }

    /// Why a poll gave up.
    package struct GaveUp: Error, Sendable, Equatable, CustomStringConvertible {
        package enum Reason: Sendable, Equatable {
            /// The deadline passed with the condition still unmet.
            case deadline
            /// The task was cancelled.
            case cancelled
        }

        package var reason: Reason
        /// How long the poll asked.
        package var waited: Duration
        /// How many times it asked.
        package var attempts: Int

        package var description: String {
            let after = "after \(Self.seconds(waited)) and \(attempts) attempt\(attempts == 1 ? "" : "s")"
            switch reason {
            case .deadline: return "gave up \(after): the deadline passed"
            case .cancelled: return "cancelled \(after)"
            }
        }

        /// `1.5 s`, `20 ms`.
        static func seconds(_ d: Duration) -> String {
            let (s, attoseconds) = d.components
            if s == 0 { return "\(attoseconds / 1_000_000_000_000_000) ms" }
            let tenths = attoseconds / 100_000_000_000_000_000
            return tenths == 0 ? "\(s) s" : "\(s).\(tenths) s"
        }
    }

    /// Asks `condition` until it gives a value.
    /// - Returns: the condition's first value, or why the poll gave up.
    /// - Throws: what `condition` throws, at once.
    package func value<T, E: Error>(_ condition: () async throws(E) -> T?) async throws(E) -> Result<T, GaveUp> {
        let clock = ContinuousClock()
        let started = clock.now
        var attempts = 0
        while true {
            attempts += 1
            if let value = try await condition() { return .success(value) }
            if Task.isCancelled {
                return .failure(GaveUp(reason: .cancelled, waited: clock.now - started, attempts: attempts))
            }
            guard let pause = pause(at: clock.now) else {
                return .failure(GaveUp(reason: .deadline, waited: clock.now - started, attempts: attempts))
            }
            try? await Task.sleep(for: pause)
        }
    }

    /// Asks `condition` until it is true.
    /// - Returns: success, or why the poll gave up.
    /// - Throws: what `condition` throws, at once.
    package func until<E: Error>(_ condition: () async throws(E) -> Bool) async throws(E) -> Result<Void, GaveUp> {
        try await value { () throws(E) -> Void? in try await condition() ? () : nil }
    }

    /// ``until(_:)`` on a thread that is not a task's (it blocks the thread between asks; there
    /// is no cancellation).
    package func blockingUntil(_ condition: () -> Bool) -> Result<Void, GaveUp> {
        let clock = ContinuousClock()
        let started = clock.now
        var attempts = 0
        while true {
            attempts += 1
            if condition() { return .success(()) }
            guard let pause = pause(at: clock.now) else {
                return .failure(GaveUp(reason: .deadline, waited: clock.now - started, attempts: attempts))
            }
            let (seconds, attoseconds) = pause.components
            var time = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            var left = timespec()
            while nanosleep(&time, &left) != 0, errno == EINTR { time = left }
        }
    }

    /// How long to sleep before the next ask, or nil when the deadline has passed.
    private func pause(at now: ContinuousClock.Instant) -> Duration? {
        guard let deadline else { return interval }
        guard now < deadline else { return nil }
        return min(interval, deadline - now)
    }
}
