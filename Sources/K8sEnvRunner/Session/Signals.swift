import Dispatch
import Foundation

/// Delivers SIGINT and SIGTERM as values instead of killing the process, so `up` can tear
/// down cleanly. Children are started with default signal handling (see k8senv_spawn).
/// Waiting for a signal can be cancelled without losing later signals.
package final class SignalWatcher: @unchecked Sendable {
    // @unchecked: `sources` is set once in init; everything else is behind `lock`.
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []
    private var pending: [Int32] = []
    private var waiters: [(id: UUID, continuation: CheckedContinuation<Int32?, Never>)] = []
    private var cancelled: Set<UUID> = []

    package init(_ numbers: [Int32] = [SIGINT, SIGTERM]) {
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.deliver(number) }
            source.resume()
            return source
        }
    }

    private func deliver(_ number: Int32) {
        let waiter = lock.withLock { () -> CheckedContinuation<Int32?, Never>? in
            if !waiters.isEmpty { return waiters.removeFirst().continuation }
            pending.append(number)
            return nil
        }
        waiter?.resume(returning: number)
    }

    /// The next signal; nil when the waiting task is cancelled.
    package func next() async -> Int32? {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
                let ready = lock.withLock { () -> Int32?? in
                    if !pending.isEmpty { return .some(pending.removeFirst()) }
                    if cancelled.remove(id) != nil { return .some(nil) }
                    waiters.append((id, continuation))
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = lock.withLock { () -> CheckedContinuation<Int32?, Never>? in
                if let index = waiters.firstIndex(where: { $0.id == id }) {
                    return waiters.remove(at: index).continuation
                }
                cancelled.insert(id)
                return nil
            }
            waiter?.resume(returning: nil)
        }
    }

    deinit {
        for s in sources { s.cancel() }
    }
}
