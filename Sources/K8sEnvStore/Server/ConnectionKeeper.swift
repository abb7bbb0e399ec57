import GRPCNIOTransportCore
import NIOCore
import Synchronization

/// Holds every connection the store's gRPC server accepts, from the moment it is set up until it
/// has closed and its outbound writer is finished — so that no connection can be released with an
/// unfinished writer, whatever happens to it in between.
///
/// Why: SwiftNIO's async server channel hands accepted connections to the gRPC transport through
/// a buffer. A connection in that buffer when the buffer is dropped — the serving task cancelled,
/// or the listening channel closing while a connection is being set up — is never given to
/// `executeThenClose`, and its `NIOAsyncWriter` traps in `deinit` ("Deinited NIOAsyncWriter
/// without calling finish()", apple/swift-nio#2813 and #3481). The store runs inside its user's
/// process, so that trap would kill a test run. With the keeper holding a reference, a dropped
/// connection is never deinitialised early; when it closes (by itself, or by ``closeAll()`` when
/// the server stops), the keeper finishes its writer — a no-op if gRPC already did — and lets go.
///
/// Once ``seal()`` is called (the server is stopping), a connection still being set up is closed
/// as soon as it arrives.
final class ConnectionKeeper: Sendable {
    private struct Held: Sendable {
        let channel: any Channel
        let connection: HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel
    }

    private struct State {
        var held: [ObjectIdentifier: Held] = [:]
        var sealed = false
        /// Connections whose writer could not be found (see ``finish(_:)``): kept for the life of
        /// the process rather than released unfinished.
        var immortal: [HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel] = []
    }

    private let state = Mutex(State())

    /// How many connections are held now.
    var count: Int { state.withLock { $0.held.count } }

    /// How many connections could not be finished and are kept forever (0 unless the transport's
    /// layout changed: a test checks it).
    var immortalCount: Int { state.withLock { $0.immortal.count } }

    /// Holds `connection` (set up on `channel`) until the channel has closed.
    func hold(_ connection: HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, on channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let sealed = state.withLock { state in
            state.held[id] = Held(channel: channel, connection: connection)
            return state.sealed
        }
        channel.closeFuture.whenComplete { _ in self.release(id) }
        if sealed { channel.close(promise: nil) }
    }

    /// From now on, a connection that arrives is closed at once.
    func seal() {
        state.withLock { $0.sealed = true }
    }

    /// Closes every held connection and waits until each has closed and been released.
    func closeAll() async {
        let channels = state.withLock { $0.held.values.map(\.channel) }
        for channel in channels {
            channel.close(promise: nil)
            try? await channel.closeFuture.get()
        }
    }

    private func release(_ id: ObjectIdentifier) {
        guard let held = state.withLock({ $0.held.removeValue(forKey: id) }) else { return }
        if !Self.finish(held.connection) {
            state.withLock { $0.immortal.append(held.connection) }
        }
    }

    /// Finishes the outbound writer of `connection`'s `NIOAsyncChannel`. The transport keeps that
    /// channel in an internal field, so it is found by reflection; false if it was not found.
    static func finish(_ connection: HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel) -> Bool {
        guard let channel = Mirror(reflecting: connection).descendant("connection") as? any OutboundFinishing else {
            return false
        }
        channel.finishOutbound()
        return true
    }
}

/// An async channel whose outbound writer can be finished without knowing its element types.
protocol OutboundFinishing {
    func finishOutbound()
}

extension NIOAsyncChannel: OutboundFinishing {
    func finishOutbound() { outbound.finish() }
}
