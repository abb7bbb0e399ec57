import Foundation
import K8sEnvSpec
import K8sEnvStore

/// What an instance is started from.
package struct InstanceConfiguration: Sendable {
    /// `base-0`: the environment and the index in its pool.
    package var name: String
    /// The instance's own folder (made 0700; keys, token, kubeconfig, logs, data).
    package var directory: String
    package var storage: StorageKind
    package var binaries: ResolvedBinaries
    package var extraArgs: [String]
    package var startTimeout: Duration
    package var stopTimeout: Duration
    /// A storage snapshot to start from (an etcd data folder, or a folder with the SQLite file
    /// of kine or the embedded store), if any.
    package var snapshot: String?

    package init(name: String, directory: String, storage: StorageKind, binaries: ResolvedBinaries,
                 extraArgs: [String], startTimeout: Duration, stopTimeout: Duration, snapshot: String? = nil) {
        self.name = name
        self.directory = directory
        self.storage = storage
        self.binaries = binaries
        self.extraArgs = extraArgs
        self.startTimeout = startTimeout
        self.stopTimeout = stopTimeout
        self.snapshot = snapshot
    }
}

/// The programs of a config, found and asked for their versions once.
package struct ResolvedBinaries: Sendable {
    package var kubeAPIServer: String
    package var kubeAPIServerVersion: KubeVersion
    /// The storage program (etcd or kine) for the config's storage; for the embedded store, the
    /// running k8senv itself.
    package var storage: String
    /// etcd only: whether it takes --unsafe-no-fsync.
    package var etcdNoFsync: Bool
    /// etcd only: etcdctl, which saves and restores snapshots (nil when not found).
    package var etcdctl: String?

    package init(kubeAPIServer: String, kubeAPIServerVersion: KubeVersion, storage: String, etcdNoFsync: Bool,
                 etcdctl: String? = nil) {
        self.kubeAPIServer = kubeAPIServer
        self.kubeAPIServerVersion = kubeAPIServerVersion
        self.storage = storage
        self.etcdNoFsync = etcdNoFsync
        self.etcdctl = etcdctl
    }

    /// Finds the binaries a config names and reads the kube-apiserver version.
    /// - Throws: ``ProcessError`` naming the config key and where it looked.
    package static func resolve(_ config: Config) async throws(ProcessError) -> ResolvedBinaries {
        let apiServer = try BinaryLocator.locate(config.binaries.kubeAPIServer, role: "binaries.kubeAPIServer", relativeTo: config.directory)
        let storage: String
        switch config.storage {
        case .etcd: storage = try BinaryLocator.locate(config.binaries.etcd, role: "binaries.etcd", relativeTo: config.directory)
        case .kine: storage = try BinaryLocator.locate(config.binaries.kine, role: "binaries.kine", relativeTo: config.directory)
        case .embedded: storage = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        }
        let version = try await BinaryVersion.read(apiServer)
        let noFsync = config.storage == .etcd ? await StorageArguments.etcdSupportsNoFsync(storage) : false
        var etcdctl: String?
        if config.storage == .etcd {
            etcdctl = try? BinaryLocator.locate(config.binaries.etcdctl, role: "binaries.etcdctl", relativeTo: config.directory)
            if etcdctl == nil, !config.binaries.etcdctl.contains("/") {
                // Beside etcd, as release archives and packages ship it.
                let sibling = (storage as NSString).deletingLastPathComponent + "/etcdctl"
                if FileManager.default.isExecutableFile(atPath: sibling) { etcdctl = sibling }
            }
        }
        return ResolvedBinaries(kubeAPIServer: apiServer, kubeAPIServerVersion: version, storage: storage,
                                etcdNoFsync: noFsync, etcdctl: etcdctl)
    }
}

/// One running kube-apiserver with its storage, on 127.0.0.1, reachable with its kubeconfig.
package final class Instance: Sendable {
    package let configuration: InstanceConfiguration
    package let port: Int
    package let server: String
    package let caCertificate: String
    package let token: String
    package let kubeconfigPath: String
    package let storage: RunningStorage
    package let apiServerProcess: ChildProcess
    package let client: KubeClient
    /// The storage process (etcd, kine); nil for the embedded store.
    package var storageProcess: ChildProcess? { storage.process }
    /// The embedded store, when the instance runs on it.
    package var embeddedStore: KeyValueStore? { storage.embedded?.store }
    /// `http://127.0.0.1:PORT` of the store, etcd or kine.
    package let storageURL: String

    package var name: String { configuration.name }

    private init(configuration: InstanceConfiguration, port: Int, caCertificate: String, token: String,
                 kubeconfigPath: String, storage: RunningStorage, apiServerProcess: ChildProcess, client: KubeClient,
                 storageURL: String) {
        self.storageURL = storageURL
        self.configuration = configuration
        self.port = port
        self.server = "https://127.0.0.1:\(port)"
        self.caCertificate = caCertificate
        self.token = token
        self.kubeconfigPath = kubeconfigPath
        self.storage = storage
        self.apiServerProcess = apiServerProcess
        self.client = client
    }

    /// Times of the steps of a start, for the summary.
    package struct StartTimes: Sendable {
        package var storage: Duration = .zero
        package var apiServer: Duration = .zero
    }

    /// Starts storage, then kube-apiserver, and waits until `/livez` answers 200 and the
    /// `default` namespace exists. Ports taken by someone else between our check and the
    /// process's bind are retried with new ports (3 tries).
    /// - Throws: ``ProcessError`` with the command line and log tail of the process that failed;
    ///   nothing is left running.
    package static func start(_ configuration: InstanceConfiguration) async throws(ProcessError) -> (Instance, StartTimes) {
        let dir = configuration.directory
        try PrivateFiles.makeDirectory(dir)
        try PrivateFiles.makeDirectory(dir + "/pki")
        try PrivateFiles.makeDirectory(dir + "/logs")
        let certificates = try Certificates.make(commonName: "k8senv-\(configuration.name)")
        let token = makeToken()
        let pki = dir + "/pki"
        try PrivateFiles.write(certificates.caCertificate, to: pki + "/ca.crt")
        try PrivateFiles.write(certificates.servingCertificate, to: pki + "/serving.crt")
        try PrivateFiles.write(certificates.servingKey, to: pki + "/serving.key")
        try PrivateFiles.write(certificates.serviceAccountKey, to: pki + "/service-account.key")
        try PrivateFiles.write(certificates.serviceAccountPublicKey, to: pki + "/service-account.pub")
        try PrivateFiles.write("\(token),k8senv-admin,k8senv-admin,\"system:masters\"\n", to: pki + "/tokens.csv")
        try PrivateFiles.write(token + "\n", to: dir + "/token")
        let version = configuration.binaries.kubeAPIServerVersion
        var authenticationConfig: String?
        if APIServerArguments.probesAnonymously(version) {
            authenticationConfig = pki + "/authentication-config.yaml"
            try PrivateFiles.write(APIServerArguments.anonymousHealthConfig, to: authenticationConfig!)
        }

        var times = StartTimes()
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.startTimeout
        var lastError: ProcessError?
        for _ in 0..<3 {
            // Storage and kube-apiserver start together: the apiserver's etcd client retries
            // until storage answers, and the apiserver's own start (seconds) hides storage's.
            let storageStart = clock.now
            let spawned = try await spawnStorage(configuration, deadline: deadline)
            let storage = spawned.storage, storageURL = spawned.url
            let port = try Ports.free()
            let layout = APIServerLayout(
                port: port, storageURL: storageURL, certificateDirectory: pki,
                servingCertificate: pki + "/serving.crt", servingKey: pki + "/serving.key",
                serviceAccountKey: pki + "/service-account.key", serviceAccountPublicKey: pki + "/service-account.pub",
                tokenFile: pki + "/tokens.csv", authenticationConfig: authenticationConfig)
            let arguments = APIServerArguments.make(version: version, layout: layout, extraArgs: configuration.extraArgs)
            let kubeconfigPath = dir + "/kubeconfig"
            let server = "https://127.0.0.1:\(port)"
            try PrivateFiles.write(Kubeconfig.render(name: "k8senv-\(configuration.name)", server: server,
                                                     caCertificate: certificates.caCertificate, token: token),
                                   to: kubeconfigPath)
            let apiStart = clock.now
            let apiServer: ChildProcess
            do {
                apiServer = try ChildProcess.launch(executable: configuration.binaries.kubeAPIServer, arguments: arguments,
                                                    environment: childEnvironment(), logPath: dir + "/logs/kube-apiserver.log")
            } catch {
                await storage.stop(grace: configuration.stopTimeout)
                throw error
            }
            do {
                try await waitForStorage(storage, port: spawned.port, storage: configuration.storage, deadline: deadline)
            } catch {
                await apiServer.stop(grace: configuration.stopTimeout)
                await storage.stop(grace: configuration.stopTimeout)
                if error.isAddressInUse {
                    lastError = error
                    continue
                }
                throw error
            }
            times.storage = clock.now - storageStart
            let client: KubeClient
            do {
                client = try KubeClient(server: server, caCertificate: certificates.caCertificate, token: token)
            } catch {
                await apiServer.stop(grace: configuration.stopTimeout)
                await storage.stop(grace: configuration.stopTimeout)
                throw ProcessError(.launchFailed, "cannot load our own CA certificate: \(error)")
            }
            let instance = Instance(configuration: configuration, port: port, caCertificate: certificates.caCertificate,
                                    token: token, kubeconfigPath: kubeconfigPath, storage: storage,
                                    apiServerProcess: apiServer, client: client, storageURL: storageURL)
            do {
                try await instance.waitUntilReady(deadline: deadline)
                times.apiServer = clock.now - apiStart
                return (instance, times)
            } catch {
                await instance.stop()
                if error.isAddressInUse {
                    lastError = error
                    continue
                }
                throw error
            }
        }
        throw lastError ?? ProcessError(.launchFailed, "\(configuration.name): could not find free ports")
    }

    /// The environment of children: ours, without variables that would redirect them.
    static func childEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("ETCD_") || key == "KUBECONFIG" { environment[key] = nil }
        return environment
    }

    /// Starts storage and waits until its client port answers.
    package static func startStorage(_ configuration: InstanceConfiguration, deadline: ContinuousClock.Instant) async throws(ProcessError) -> (RunningStorage, String) {
        let spawned = try await spawnStorage(configuration, deadline: deadline)
        do {
            try await waitForStorage(spawned.storage, port: spawned.port, storage: configuration.storage, deadline: deadline)
        } catch {
            await spawned.storage.stop(grace: configuration.stopTimeout)
            throw error
        }
        return (spawned.storage, spawned.url)
    }

    /// Starts storage (from the snapshot, if any) without waiting for it.
    static func spawnStorage(_ configuration: InstanceConfiguration, deadline: ContinuousClock.Instant) async throws(ProcessError)
        -> (storage: RunningStorage, url: String, port: Int) {
        let dir = configuration.directory
        let clientPort: Int
        let process: ChildProcess
        switch configuration.storage {
        case .embedded:
            let server = try await startEmbedded(configuration)
            return (.embedded(server), "http://127.0.0.1:\(server.port)", server.port)
        case .etcd:
            clientPort = try Ports.free()
            let peerPort = try Ports.free()
            let dataDirectory = dir + "/etcd-data"
            try? FileManager.default.removeItem(atPath: dataDirectory)  // a retry starts clean
            if let snapshot = configuration.snapshot {
                try await SnapshotFiles.restoreEtcd(snapshot + "/etcd.db", into: dataDirectory, peerPort: peerPort,
                                                    etcdctl: configuration.binaries.etcdctl, log: dir + "/logs/etcdctl.log",
                                                    deadline: deadline)
            } else {
                try PrivateFiles.makeDirectory(dataDirectory)
            }
            process = try ChildProcess.launch(
                executable: configuration.binaries.storage,
                arguments: StorageArguments.etcd(dataDirectory: dataDirectory, clientPort: clientPort, peerPort: peerPort,
                                                 noFsync: configuration.binaries.etcdNoFsync),
                environment: childEnvironment(), logPath: dir + "/logs/etcd.log")
        case .kine:
            clientPort = try Ports.free()
            let database = kineDatabase(in: dir)
            try prepareSQLite(database, from: configuration.snapshot)
            process = try ChildProcess.launch(
                executable: configuration.binaries.storage,
                arguments: StorageArguments.kine(databasePath: database, port: clientPort, metricsPort: try Ports.free()),
                environment: childEnvironment(), logPath: dir + "/logs/kine.log")
        }
        return (.process(process), "http://127.0.0.1:\(clientPort)", clientPort)
    }

    /// Opens the instance's SQLite file (copied from the snapshot, if any) and serves it on a
    /// port of 127.0.0.1 the kernel picks, in this process.
    static func startEmbedded(_ configuration: InstanceConfiguration) async throws(ProcessError) -> StoreServer {
        let database = configuration.directory + "/store/state.db"
        try prepareSQLite(database, from: configuration.snapshot)
        do {
            let store = try KeyValueStore(path: database)
            return try await StoreServer.start(store: store)
        } catch {
            throw ProcessError(.launchFailed, "\(configuration.name): the embedded store could not start: \(error)")
        }
    }

    /// The SQLite file kine serves, in the instance folder `directory`.
    static func kineDatabase(in directory: String) -> String { directory + "/kine/state.db" }

    /// A fresh folder for the SQLite file `database` of kine or the embedded store (a retry
    /// starts clean), with the snapshot's file copied in when there is one.
    static func prepareSQLite(_ database: String, from snapshot: String?) throws(ProcessError) {
        let folder = (database as NSString).deletingLastPathComponent
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.makeDirectory(folder)
        if let snapshot { try SnapshotFiles.copySQLite(from: snapshot, toDatabase: database) }
    }

    static func waitForStorage(_ storage: RunningStorage, port: Int, storage kind: StorageKind, deadline: ContinuousClock.Instant) async throws(ProcessError) {
        // The embedded store is serving once started.
        guard let process = storage.process else { return }
        try await poll(process, what: kind.rawValue, deadline: deadline) { Ports.isOpen(port) }
    }

    /// Polls `check` every 20 ms until it holds; gives up the moment the process exits (also
    /// while a check is under way), and at the deadline.
    static func poll(_ process: ChildProcess, what: String, deadline: ContinuousClock.Instant,
                     check: @escaping @Sendable () async -> Bool) async throws(ProcessError) {
        while true {
            if let termination = process.termination {
                throw process.error(.exited, "\(what) \(termination) before it was ready")
            }
            let ready = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await check() }
                group.addTask {
                    _ = await process.waitForExit()
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if ready { return }
            if let termination = process.termination {
                throw process.error(.exited, "\(what) \(termination) before it was ready")
            }
            if Task.isCancelled { throw process.error(.timeout, "\(what): start cancelled") }
            if ContinuousClock.now >= deadline {
                throw process.error(.timeout, "\(what) was not ready within the start timeout (timeouts.start)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// `/livez` 200, then the `default` namespace exists.
    func waitUntilReady(deadline: ContinuousClock.Instant) async throws(ProcessError) {
        let client = self.client
        let storage = self.storage
        try await Self.poll(apiServerProcess, what: "kube-apiserver", deadline: deadline) {
            if storage.termination != nil { return true }  // reported below
            let response = try? await client.send("GET", "/livez", timeout: .seconds(2))
            return response?.status == 200
        }
        try checkStorage()
        try await Self.poll(apiServerProcess, what: "kube-apiserver", deadline: deadline) {
            if storage.termination != nil { return true }
            let response = try? await client.send("GET", "/api/v1/namespaces/default", timeout: .seconds(2))
            return response?.status == 200
        }
        try checkStorage()
    }

    func checkStorage() throws(ProcessError) {
        if let process = storageProcess, let termination = process.termination {
            throw process.error(.exited, "\(configuration.storage.rawValue) \(termination)")
        }
    }

    /// Nil while both processes run; otherwise which one stopped, with its log tail.
    package func failure() -> ProcessError? {
        if let process = storageProcess, let t = process.termination {
            return process.error(.exited, "\(name): \(configuration.storage.rawValue) \(t)")
        }
        if let t = apiServerProcess.termination {
            return apiServerProcess.error(.exited, "\(name): kube-apiserver \(t)")
        }
        return nil
    }

    /// Whether kube-apiserver and the storage process are still alive, asked of the kernel: a
    /// process killed a moment ago is a zombie (or gone) before ``failure()`` learns of it.
    package var processesAlive: Bool {
        StateFolder.isAlive(apiServerProcess.pid) && (storageProcess.map { StateFolder.isAlive($0.pid) } ?? true)
    }

    /// Stops kube-apiserver, then storage: SIGTERM to each group, grace (timeouts.stop), SIGKILL.
    package func stop() async {
        await client.shutdown()
        await apiServerProcess.stop(grace: configuration.stopTimeout)
        await storage.stop(grace: configuration.stopTimeout)
    }
}

/// The storage behind a running instance: a child process (etcd, kine) or the store served in
/// this process.
package enum RunningStorage: Sendable {
    case process(ChildProcess)
    case embedded(StoreServer)

    package var process: ChildProcess? {
        if case .process(let process) = self { process } else { nil }
    }

    package var embedded: StoreServer? {
        if case .embedded(let server) = self { server } else { nil }
    }

    /// How the process ended; nil while it runs (always, for the embedded store).
    var termination: Termination? { process?.termination }

    /// The pid to record: the storage process's, or this process's for the embedded store.
    package var pid: Int32 { process?.pid ?? getpid() }

    package var logPath: String? { process?.logPath }

    package func stop(grace: Duration) async {
        switch self {
        case .process(let process): await process.stop(grace: grace)
        case .embedded(let server): await server.stop(grace: grace)
        }
    }
}

extension ProcessError {
    /// The process failed because its port was taken.
    var isAddressInUse: Bool {
        (logTail ?? "").contains("address already in use")
    }
}
