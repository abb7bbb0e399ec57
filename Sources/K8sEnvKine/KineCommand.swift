import ArgumentParser
import Foundation
import K8sEnvStore
import Synchronization

/// The k8senv store as a kine-compatible executable: the flags kine takes, an etcd v3 server on
/// `--listen-address` over the SQLite file `--endpoint` names. Flags of kine that do not apply
/// (TLS to a database, metrics, connection pools) are accepted and ignored, so a command line
/// written for kine runs unchanged. The main of `k8senv-kine`, and of `k8senv` when it runs under
/// that name (the release ships k8senv-kine as a link to k8senv: Sources/k8senv/main.swift).
public struct KineCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "k8senv-kine",
        abstract: "Serve the etcd v3 API over SQLite, with kine's command line.")

    @Option(help: "Storage endpoint: sqlite://PATH[?params] (default: ./db/state.db).")
    var endpoint = "sqlite://"

    @Option(help: "Address to listen on: HOST:PORT, tcp://HOST:PORT, or unix://PATH (a socket made 0600).")
    var listenAddress = "0.0.0.0:2379"

    @Option(help: "Ignored (kine's metrics listener).")
    var metricsBindAddress: String?

    @Option(help: "Seconds between progress notifications to watchers that ask for them.")
    var watchProgressNotifyInterval: Int = 600

    @Option(help: "Ignored (kine's database TLS and pool settings).")
    var caFile: String?
    @Option(help: "Ignored.") var certFile: String?
    @Option(help: "Ignored.") var keyFile: String?
    @Option(help: "Ignored.") var serverCertFile: String?
    @Option(help: "Ignored.") var serverKeyFile: String?
    @Option(help: "Ignored.") var datastoreMaxIdleConnections: Int?
    @Option(help: "Ignored.") var datastoreMaxOpenConnections: Int?
    @Option(help: "Ignored.") var datastoreConnectionMaxLifetime: String?
    @Option(help: "Ignored.") var slowSqlThreshold: String?
    @Option(help: "Ignored.") var compactInterval: String?
    @Option(help: "Ignored.") var compactTimeout: String?
    @Option(help: "Ignored.") var compactMinRetain: Int?
    @Option(help: "Ignored.") var compactBatchSize: Int?
    @Option(help: "Ignored.") var pollBatchSize: Int?
    @Flag(help: "Ignored.") var debug = false
    @Flag(help: "Ignored.") var metricsEnableProfiling = false

    public init() {}

    /// The program's main (`k8senv-kine`'s, and `k8senv`'s run under that name): parses the
    /// command line and runs; a usage error or a failure is printed and ends the process.
    public static func main() async {
        do {
            var command = try parse()
            try await command.run()
        } catch {
            exit(withError: error)
        }
    }

    public func run() async throws {
        let path = try KineEndpoint.databasePath(endpoint)
        let address = try KineEndpoint.listenAddress(listenAddress)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent.isEmpty
                ? "." : (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        let store = try KeyValueStore(path: path)
        var options = StoreServer.Options()
        switch address {
        case .tcp(let host, let port):
            options.host = host
            options.port = port
        case .unix(let path):
            options.socketPath = path
        }
        options.progressInterval = .seconds(watchProgressNotifyInterval)
        let server = try await StoreServer.start(store: store, options: options)
        FileHandle.standardError.write(Data("k8senv-kine: serving etcd v3 on \(server.url) over \(path)\n".utf8))
        await Self.waitForTermination()
        await server.stop()
    }

    /// Keeps the signal sources alive for the life of the process; set once, on the task that
    /// runs the command, before anything else reads it.
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    /// Returns on SIGINT or SIGTERM (a stop by either is a clean exit, as for kine).
    static func waitForTermination() async {
        let resumed = Once()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            signalSources = [SIGINT, SIGTERM].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { if resumed.first() { continuation.resume() } }
                source.resume()
                return source
            }
        }
    }
}

/// True the first time only.
private final class Once: Sendable {
    private let done = Mutex(false)
    func first() -> Bool {
        done.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
