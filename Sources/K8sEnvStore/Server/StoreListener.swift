import GRPCNIOTransportCore
import NIOCore
import NIOPosix
import Synchronization

/// The gRPC transport's listener: takes over the store's own close-on-exec listening socket
/// (see ``ListeningSocket``), plaintext HTTP/2 with the client's PINGs answered in front of it
/// (``PingAnswerer``), and gives every accepted connection to the ``ConnectionKeeper`` before
/// the transport sees it.
struct StoreListenerFactory: HTTP2ServerTransport.ListenerFactory {
    let descriptor: Int32
    let eventLoopGroup: any EventLoopGroup
    let keeper: ConnectionKeeper
    let listener: ListeningChannel

    func makeListeningChannel(
        listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
        connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
    ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
        let keeper = self.keeper
        let listener = self.listener
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelInitializer { channel in
                listener.channel.withLock { $0 = channel }
                return listenerConfigurator.configure(channel: channel)
            }
            .bind(NIOBSDSocket.Handle(descriptor)) { channel in
                do {
                    try channel.pipeline.syncOperations.addHandler(PingAnswerer())
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                return connectionConfigurator.configure(channel: channel, tls: .none).map { connection in
                    keeper.hold(connection, on: channel)
                    return connection
                }
            }
    }
}

/// The server's listening channel, once bound.
final class ListeningChannel: Sendable {
    let channel = Mutex<(any Channel)?>(nil)

    /// Closes the listening socket (if the server has not already) and waits until it is closed.
    func close() async {
        guard let channel = channel.withLock({ $0 }) else { return }
        channel.close(promise: nil)
        try? await channel.closeFuture.get()
    }
}

/// Opens once; waiters learn whether it opened within their time.
final class Completion: Sendable {
    private struct State {
        var done = false
        var next = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        /// Waiters of ``wait()`` cancelled before they were registered.
        var cancelled: Set<Int> = []
    }
    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { state in
            state.done = true
            defer { state.waiters = [:] }
            return state.waiters
        }
        for waiter in waiters.values { waiter.resume(returning: true) }
    }

    var isOpen: Bool { state.withLock { $0.done } }

    /// True once open; false as soon as the calling task is cancelled.
    func wait() async -> Bool {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let result: Bool? = state.withLock { state in
                    if state.done { return true }
                    if state.cancelled.remove(id) != nil { return false }
                    state.waiters[id] = continuation
                    return nil
                }
                if let result { continuation.resume(returning: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                if !state.done { state.cancelled.insert(id) }
                return nil
            }
            waiter?.resume(returning: false)
        }
    }

    /// True once open, false if `timeout` passed first. The timer runs on `eventLoop`, so a
    /// cancelled caller still waits its time (a stop that runs because its task was cancelled).
    func wait(upTo timeout: Duration, on eventLoop: any EventLoop) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let id: Int? = state.withLock { state in
                if state.done { return nil }
                state.next += 1
                state.waiters[state.next] = continuation
                return state.next
            }
            guard let id else { return continuation.resume(returning: true) }
            eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                self.state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
            }
        }
    }
}
