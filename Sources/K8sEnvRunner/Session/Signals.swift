import Dispatch
import Foundation

/// Delivers SIGINT and SIGTERM as values instead of killing the process, so `up` can tear
/// down cleanly. Children are started with default signal handling (see k8senv_spawn).
package final class SignalWatcher: @unchecked Sendable {
    // @unchecked: `sources` is set once in init and only cancelled in deinit; the stream is Sendable.
    private let sources: [any DispatchSourceSignal]
    package let signals: AsyncStream<Int32>

    package init(_ numbers: [Int32] = [SIGINT, SIGTERM]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        signals = stream
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// The next signal.
    package func next() async -> Int32? {
        var iterator = signals.makeAsyncIterator()
        return await iterator.next()
    }

    deinit {
        for s in sources { s.cancel() }
    }
}
