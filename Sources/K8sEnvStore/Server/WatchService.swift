import GRPCCore
import Synchronization

/// etcd's Watch service: one bidirectional stream carries many watchers. Responses go through
/// one unbounded buffer per stream, filled under the store's lock as writes commit (so events
/// keep revision order and no write waits for a slow reader) and drained by the stream's writer.
struct WatchService: Etcdserverpb_Watch.SimpleServiceProtocol {
    let store: KeyValueStore
    /// How often watchers that asked for progress notifications get one (etcd: 10 minutes).
    let progressInterval: Duration

    func watch(
        request: RPCAsyncSequence<Etcdserverpb_WatchRequest, any Error>,
        response: RPCWriter<Etcdserverpb_WatchResponse>,
        context: ServerContext
    ) async throws {
        let (outbox, continuation) = AsyncStream<Etcdserverpb_WatchResponse>.makeStream()
        let stream = WatchStream(store: store, outbox: continuation)
        defer { stream.close() }
        // The transport cancels the call (not the task) when its stream or connection goes away;
        // ending the outbox then ends the writer, and with it the call.
        try await withRPCCancellationHandler {
            try await serve(request: request, response: response, outbox: outbox, stream: stream)
        } onCancelRPC: {
            continuation.finish()
        }
    }

    private func serve(
        request: RPCAsyncSequence<Etcdserverpb_WatchRequest, any Error>,
        response: RPCWriter<Etcdserverpb_WatchResponse>,
        outbox: AsyncStream<Etcdserverpb_WatchResponse>,
        stream: WatchStream
    ) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            // The writer ends when the outbox does: the call is over.
            group.addTask {
                for await message in outbox { try await response.write(message) }
                return true
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: progressInterval)
                    stream.sendProgress()
                }
            }
            // etcd keeps a stream open when the client stops sending; it ends when the client
            // cancels the call (the request sequence throws) or the call is cancelled.
            group.addTask {
                for try await message in request { stream.handle(message) }
                return false
            }
            while let over = try await group.next(), !over {}
            group.cancelAll()
        }
    }
}

/// The watchers of one Watch stream.
final class WatchStream: Sendable {
    private let store: KeyValueStore
    private let outbox: AsyncStream<Etcdserverpb_WatchResponse>.Continuation
    private struct State {
        var watchers: [Int64: (registration: KeyValueStore.WatchRegistration, progress: Bool)] = [:]
        var nextID: Int64 = 0
        var closed = false
    }
    private let state = Mutex(State())

    init(store: KeyValueStore, outbox: AsyncStream<Etcdserverpb_WatchResponse>.Continuation) {
        self.store = store
        self.outbox = outbox
    }

    func handle(_ message: Etcdserverpb_WatchRequest) {
        switch message.requestUnion {
        case .createRequest(let create)?: self.create(create)
        case .cancelRequest(let cancel)?: self.cancel(cancel.watchID)
        case .progressRequest?:
            // Not tied to one watcher: the client hands it to all (etcd's watch id -1).
            var reply = Etcdserverpb_WatchResponse()
            reply.header = store.header()
            reply.watchID = -1
            outbox.yield(reply)
        case nil: break
        }
    }

    private func create(_ create: Etcdserverpb_WatchCreateRequest) {
        let id: Int64? = state.withLock { state in
            if create.watchID != 0 {
                return state.watchers[create.watchID] == nil ? create.watchID : nil
            }
            while state.watchers[state.nextID] != nil { state.nextID += 1 }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else {
            var reply = Etcdserverpb_WatchResponse()
            reply.header = store.header()
            reply.watchID = -1
            reply.created = true
            reply.canceled = true
            reply.cancelReason = "mvcc: duplicate watch ID provided on the WatchStream"
            outbox.yield(reply)
            return
        }
        let outbox = self.outbox
        let store = self.store
        let range = KeyRange(key: create.key, rangeEnd: create.rangeEnd)
        do {
            let registration = try store.watch(
                range, from: create.startRevision, prevKV: create.prevKv,
                noPut: create.filters.contains(.noput), noDelete: create.filters.contains(.nodelete),
                before: { revision in
                    var reply = Etcdserverpb_WatchResponse()
                    reply.header = store.header(revision: revision)
                    reply.watchID = id
                    reply.created = true
                    outbox.yield(reply)
                },
                send: { events, revision in
                    var reply = Etcdserverpb_WatchResponse()
                    reply.header = store.header(revision: revision)
                    reply.watchID = id
                    reply.events = events
                    outbox.yield(reply)
                })
            let closed = state.withLock { state in
                if !state.closed { state.watchers[id] = (registration, create.progressNotify) }
                return state.closed
            }
            if closed { store.cancelWatch(registration) }
        } catch {
            // Created, then cancelled with the compaction revision: the Go client turns this
            // into ErrCompacted.
            var created = Etcdserverpb_WatchResponse()
            created.header = store.header()
            created.watchID = id
            created.created = true
            outbox.yield(created)
            var reply = Etcdserverpb_WatchResponse()
            reply.header = store.header()
            reply.watchID = id
            reply.canceled = true
            reply.compactRevision = store.compactRevision
            reply.cancelReason = "mvcc: required revision has been compacted"
            outbox.yield(reply)
        }
    }

    private func cancel(_ id: Int64) {
        guard let watcher = state.withLock({ $0.watchers.removeValue(forKey: id) }) else { return }
        store.cancelWatch(watcher.registration)
        var reply = Etcdserverpb_WatchResponse()
        reply.header = store.header()
        reply.watchID = id
        reply.canceled = true
        outbox.yield(reply)
    }

    func sendProgress() {
        let ids = state.withLock { state in state.watchers.filter(\.value.progress).map(\.key) }
        let header = store.header()
        for id in ids.sorted() {
            var reply = Etcdserverpb_WatchResponse()
            reply.header = header
            reply.watchID = id
            outbox.yield(reply)
        }
    }

    func close() {
        let watchers = state.withLock { state in
            state.closed = true
            defer { state.watchers.removeAll() }
            return state.watchers.values.map(\.registration)
        }
        for registration in watchers { store.cancelWatch(registration) }
        outbox.finish()
    }
}
