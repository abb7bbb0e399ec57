import GRPCCore
import GRPCNIOTransportHTTP2Posix
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
    private let executor: StoreExecutor
    private let failure: Failure

    private init(store: KeyValueStore, port: Int, server: GRPCServer<HTTP2ServerTransport.Posix>,
                 task: Task<Void, Never>, executor: StoreExecutor, failure: Failure) {
        self.store = store
        self.port = port
        self.server = server
        self.task = task
        self.executor = executor
        self.failure = failure
    }

    /// Binds and starts serving; returns once the port accepts connections.
    /// - Throws: the bind error (e.g. the port is taken).
    package static func start(store: KeyValueStore, options: Options = Options()) async throws -> StoreServer {
        let endpoint = Endpoint()
        let executor = StoreExecutor()
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: options.host, port: options.port),
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
            let address = try await transport.listeningAddress
            guard let port = address.ipv4?.port else { throw StoreError(.internal, "the store is not listening on IPv4") }
            endpoint.url.withLock { $0 = "http://\(options.host):\(port)" }
            return StoreServer(store: store, port: port, server: server, task: task, executor: executor, failure: failure)
        } catch {
            server.beginGracefulShutdown()
            task.cancel()
            await task.value
            await executor.shutdown()
            throw failure.error.withLock { $0 } ?? error
        }
    }

    /// Runs until the task calling it is cancelled, then stops.
    package func run() async {
        await withTaskCancellationHandler {
            await task.value
            await executor.shutdown()
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
        await executor.shutdown()
    }
}

/// The error the gRPC server stopped with, if any.
private final class Failure: Sendable {
    let error = Mutex<(any Error)?>(nil)
}
