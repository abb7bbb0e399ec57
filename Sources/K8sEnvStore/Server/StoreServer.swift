import GRPCCore
import GRPCNIOTransportCore
import NIOCore
import NIOPosix
import Synchronization

/// The store served over gRPC as etcd v3 on a TCP address: KV, Watch, Lease, Cluster and
/// Maintenance, plaintext HTTP/2 (what `--etcd-servers=http://…` dials). Owns a task that runs
/// the gRPC server and expires leases; ``stop(grace:)`` ends both.
///
/// Stopping never cancels a server that may still accept connections: the listener closes and
/// the server drains gracefully; connections still open after the grace are closed; only if the
/// server still has not returned is its task cancelled — and even then every accepted connection
/// is held by a ``ConnectionKeeper``, so none can be dropped with an unfinished writer (the trap
/// that killed test runs: docs/explanation/store.md, "Stopping").
package final class StoreServer: Sendable {
    package struct Options: Sendable {
        package var host = "127.0.0.1"
        /// 0: any free port.
        package var port = 0
        /// Listen on a Unix socket at this path (made 0600) instead of `host:port`: only who may
        /// enter its folder can reach the store.
        package var socketPath: String?
        /// The member name `MemberList` reports.
        package var name = "k8senv"
        /// How often watchers that asked for it get a progress notification (etcd: 10 minutes).
        package var progressInterval: Duration = .seconds(600)
        /// How often leases are checked for expiry.
        package var leaseCheckInterval: Duration = .milliseconds(500)
        package init() {}
    }

    package let store: KeyValueStore
    /// The port the server listens on (0 on a Unix socket).
    package let port: Int
    /// What an etcd client dials: `http://HOST:PORT`, or `unix://PATH`.
    package let url: String
    private let server: GRPCServer<HTTP2ServerTransport.Custom<StoreListenerFactory>>
    private let task: Task<Void, Never>
    private let ended: Completion
    private let listener: ListeningChannel
    private let keeper: ConnectionKeeper
    private let failureBox: Failure

    private init(
        store: KeyValueStore, port: Int, url: String,
        server: GRPCServer<HTTP2ServerTransport.Custom<StoreListenerFactory>>,
        task: Task<Void, Never>, ended: Completion, listener: ListeningChannel, keeper: ConnectionKeeper,
        failure: Failure
    ) {
        self.store = store
        self.port = port
        self.url = url
        self.server = server
        self.task = task
        self.ended = ended
        self.listener = listener
        self.keeper = keeper
        self.failureBox = failure
    }

    /// Binds and starts serving; returns once the port accepts connections.
    /// - Throws: the bind error (e.g. the port is taken).
    package static func start(store: KeyValueStore, options: Options = Options()) async throws -> StoreServer {
        let endpoint = Endpoint()
        let executor = StoreExecutor.shared
        let listener = ListeningChannel()
        let keeper = ConnectionKeeper()
        let socket: (descriptor: Int32, port: Int)
        let url: String
        if let path = options.socketPath {
            socket = (try ListeningSocket.makeUnix(path: path), 0)
            url = "unix://" + path
        } else {
            socket = try ListeningSocket.make(host: options.host, port: options.port)
            url = "http://\(options.host):\(socket.port)"
        }
        var config = HTTP2ServerTransport.Custom<StoreListenerFactory>.Config.defaults
        // etcd accepts requests up to --max-request-bytes plus gRPC's overhead.
        config.rpc.maxRequestPayloadSize = KeyValueStore.maximumRequestBytes + 512 * 1024
        // The Go etcd client pings every 30 s; allow it, as etcd does (min 5 s).
        config.connection.keepalive.clientBehavior = .init(
            minPingIntervalWithoutCalls: .seconds(5), allowWithoutCalls: true)
        // Each response goes out at once: coalescing waits up to 100 µs per flush, and
        // kube-apiserver's calls are one at a time per object (measured: +6% creates/s).
        config.connection.flushCoalescing = nil
        let transport = HTTP2ServerTransport.Custom(
            listenerFactory: StoreListenerFactory(
                descriptor: socket.descriptor, eventLoopGroup: StoreExecutor.group,
                keeper: keeper, listener: listener),
            config: config)
        let server = GRPCServer(
            transport: transport,
            services: [
                KVService(store: store),
                WatchService(store: store, progressInterval: options.progressInterval),
                LeaseService(store: store),
                ClusterService(store: store, name: options.name, endpoint: endpoint),
                MaintenanceService(store: store),
            ])
        let failure = Failure()
        let ended = Completion()
        let leaseCheckInterval = options.leaseCheckInterval
        // On the store's own thread: see StoreExecutor. Child tasks (each RPC) inherit it.
        let task = Task(executorPreference: executor) {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await server.serve()
                        failure.record(StoreError(.internal, "its gRPC server stopped"))
                    } catch {
                        failure.record(error)
                    }
                }
                group.addTask {
                    while (try? await Task.sleep(for: leaseCheckInterval)) != nil {
                        _ = try? store.expireLeases()
                        // A database file removed or replaced under the store: what it writes
                        // from now on is lost (SQLite's "how to corrupt", 2.4), so it has failed.
                        if !failure.happened.isOpen, let problem = store.fileProblem() {
                            failure.record(StoreError(.internal, problem))
                        }
                    }
                }
                await group.next()
                group.cancelAll()
            }
            ended.open()
        }
        let started = StoreServer(
            store: store, port: socket.port, url: url, server: server, task: task, ended: ended,
            listener: listener, keeper: keeper, failure: failure)
        guard await transport.listeningAddress != nil else {  // nil: the server failed to start
            await started.stop(grace: .seconds(1))
            throw failure.error ?? StoreError(.internal, "the store's gRPC server did not start")
        }
        endpoint.url.withLock { $0 = url }
        return started
    }

    /// Stops serving: the listener closes, open calls get `grace` to end (unless `drain` is
    /// false), then their connections are closed; returns once everything is closed.
    /// - Parameters:
    ///   - grace: how long each of the two steps may take (the config's `timeouts.stop`).
    ///   - drain: whether open calls may finish first. An instance that is thrown away has
    ///     nothing to finish (its kube-apiserver is being killed): its connections close at once.
    package func stop(grace: Duration = .seconds(10), drain: Bool = true) async {
        failureBox.stopping()
        let eventLoop = StoreExecutor.group.next()
        // 1. No new connections; open ones are told to go away and may finish their calls.
        server.beginGracefulShutdown()
        let drained = drain ? await ended.wait(upTo: grace, on: eventLoop) : false
        if !drained {
            // 2. Calls that outlast the grace (watches never end by themselves): close their
            //    connections; each call sees its stream end and returns.
            await keeper.closeAll()
            if await !ended.wait(upTo: grace, on: eventLoop) {
                // 3. Last resort. The keeper holds every accepted connection, so a connection the
                //    cancelled server drops is still finished before it is released.
                task.cancel()
            }
        }
        await task.value
        await listener.close()
        // A connection accepted while the listener closed: closed as it arrives from now on.
        keeper.seal()
        await keeper.closeAll()
        if url.hasPrefix("unix://") { unlink(String(url.dropFirst("unix://".count))) }
    }

    /// Nil while the store serves; otherwise why it stopped serving on its own (its gRPC server
    /// failed, or its database file was removed or replaced under it). A ``stop(grace:)`` is not
    /// a failure.
    package var failure: (any Error)? { failureBox.error }

    /// Returns when the store has failed (see ``failure``), with the error; nil at once when the
    /// calling task is cancelled.
    package func ended() async -> (any Error)? {
        guard await failureBox.happened.wait() else { return nil }
        return failureBox.error
    }

    /// How many accepted connections the server holds now, and how many it could not finish
    /// (kept for the life of the process instead; 0 unless the gRPC transport changed shape).
    package var connections: (held: Int, unfinishable: Int) { (keeper.count, keeper.immortalCount) }
}

/// The first error the store failed with, if any; what happens after a stop is not a failure.
private final class Failure: Sendable {
    private let state = Mutex<(error: (any Error)?, stopping: Bool)>((nil, false))
    /// Opens at the first failure.
    let happened = Completion()

    var error: (any Error)? { state.withLock { $0.error } }

    func record(_ error: any Error) {
        let first = state.withLock { state in
            guard state.error == nil, !state.stopping else { return false }
            state.error = error
            return true
        }
        if first { happened.open() }
    }

    func stopping() { state.withLock { $0.stopping = true } }
}
