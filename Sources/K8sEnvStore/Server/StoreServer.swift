import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOCore
import Synchronization

/// The store served over gRPC as etcd v3 on a TCP address: KV, Watch, Lease, Cluster and
/// Maintenance, plaintext HTTP/2 (what `--etcd-servers=http://…` dials). Owns a task that runs
/// the gRPC server and expires leases; ``stop()`` ends both.
package final class StoreServer: Sendable {
    package struct Options: Sendable {
        package var host = "127.0.0.1"
        /// 0: any free port.
        package var port = 0
        /// The member name `MemberList` reports.
        package var name = "k8senv"
        /// How often watchers that asked for it get a progress notification (etcd: 10 minutes).
        package var progressInterval: Duration = .seconds(600)
        /// How often leases are checked for expiry.
        package var leaseCheckInterval: Duration = .milliseconds(500)
        package init() {}
    }

    package let store: KeyValueStore
    /// The port the server listens on.
    package let port: Int
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let task: Task<Void, Never>
    private let listener: Listener
    private let failure: Failure

    private init(store: KeyValueStore, port: Int, server: GRPCServer<HTTP2ServerTransport.Posix>,
                 task: Task<Void, Never>, listener: Listener, failure: Failure) {
        self.store = store
        self.port = port
        self.server = server
        self.task = task
        self.listener = listener
        self.failure = failure
    }

    /// Binds and starts serving; returns once the port accepts connections.
    /// - Throws: the bind error (e.g. the port is taken).
    package static func start(store: KeyValueStore, options: Options = Options()) async throws -> StoreServer {
        let endpoint = Endpoint()
        let executor = StoreExecutor.shared
        let listener = Listener()
        let socket = try ListeningSocket.make(host: options.host, port: options.port)
        let transport = HTTP2ServerTransport.Posix(
            listeningSocketDescriptor: Int(socket.descriptor),
            transportSecurity: .plaintext,
            config: .defaults { config in
                // etcd accepts requests up to --max-request-bytes plus gRPC's overhead.
                config.rpc.maxRequestPayloadSize = KeyValueStore.maximumRequestBytes + 512 * 1024
                // The Go etcd client pings every 30 s; allow it, as etcd does (min 5 s).
                config.connection.keepalive.clientBehavior = .init(
                    minPingIntervalWithoutCalls: .seconds(5), allowWithoutCalls: true)
                // Each response goes out at once: coalescing waits up to 100 µs per flush, and
                // kube-apiserver's calls are one at a time per object (measured: +6% creates/s).
                config.connection.flushCoalescing = nil
                // The listening channel, so that stop can wait until its socket is closed (the
                // server's own shutdown closes it a little later, on the event loop).
                config.channelDebuggingCallbacks.onBindTCPListener = { channel in
                    listener.channel.withLock { $0 = channel }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
            },
            eventLoopGroup: executor.group)
        let server = GRPCServer(transport: transport, services: [
            KVService(store: store),
            WatchService(store: store, progressInterval: options.progressInterval),
            LeaseService(store: store),
            ClusterService(store: store, name: options.name, endpoint: endpoint),
            MaintenanceService(store: store),
        ])
        let failure = Failure()
        let leaseCheckInterval = options.leaseCheckInterval
        // On the store's own thread: see StoreExecutor. Child tasks (each RPC) inherit it.
        let task = Task(executorPreference: executor) {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do { try await server.serve() } catch { failure.error.withLock { $0 = error } }
                }
                group.addTask {
                    while (try? await Task.sleep(for: leaseCheckInterval)) != nil {
                        _ = try? store.expireLeases()
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
        do {
            _ = try await transport.listeningAddress  // serving (throws if the server failed to start)
            let port = socket.port
            endpoint.url.withLock { $0 = "http://\(options.host):\(port)" }
            return StoreServer(store: store, port: port, server: server, task: task, listener: listener, failure: failure)
        } catch {
            server.beginGracefulShutdown()
            task.cancel()
            await task.value
            await listener.close()
            throw failure.error.withLock { $0 } ?? error
        }
    }

    /// Runs until the task calling it is cancelled, then stops.
    package func run() async {
        await withTaskCancellationHandler {
            await task.value
            await listener.close()
        } onCancel: {
            server.beginGracefulShutdown()
            task.cancel()
        }
    }

    /// Stops serving: open streams end, the listener closes.
    package func stop() async {
        server.beginGracefulShutdown()
        task.cancel()
        await task.value
        await listener.close()
    }
}

/// The error the gRPC server stopped with, if any.
private final class Failure: Sendable {
    let error = Mutex<(any Error)?>(nil)
}

/// The server's listening channel, once bound.
private final class Listener: Sendable {
    let channel = Mutex<(any Channel)?>(nil)

    /// Closes the listening socket (if the server has not already) and waits until it is closed.
    func close() async {
        guard let channel = channel.withLock({ $0 }) else { return }
        channel.close(promise: nil)
        try? await channel.closeFuture.get()
    }
}
