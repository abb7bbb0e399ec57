import Foundation
import K8sEnvSpec
import Synchronization

/// What an instance is started from.
package struct InstanceConfiguration: Sendable {
    /// `base-0`: the environment and the index in its pool.
    package var name: String
    /// The instance's own folder (made 0700; keys, token, kubeconfig, logs, data).
    package var directory: String
    package var binaries: ResolvedBinaries
    package var extraArgs: [String]
    /// `apiServer.featureGates`: gate name to on/off.
    package var featureGates: [String: Bool]
    /// `apiServer.runtimeConfig`: API (`batch/v1beta1`, `api/alpha`) to on/off.
    package var runtimeConfig: [String: Bool]
    /// `users`: each gets a token of this instance and a kubeconfig in `users/`.
    package var users: [UserIdentity]
    /// kube-apiserver's `--authorization-mode` (``Config/authorization``).
    package var authorization: AuthorizationMode
    package var startTimeout: Duration
    package var stopTimeout: Duration
    /// A storage snapshot to start from (an etcd data folder, or a folder with the SQLite file
    /// of kine or the embedded store), if any.
    package var snapshot: String?
    /// Where its webhooks call (the environment's, when it has webhooks or a CRD with a
    /// conversion webhook): what a session exports and a lease hands out with it.
    package var webhook: WebhookEndpoint?
    /// `audit`: how kube-apiserver audits into `logs/audit.log`; nil: no audit log.
    package var audit: InstanceAudit?
    /// The kube-controller-manager controllers that run beside it once started
    /// (``Instance/startControllerManager(deadline:)``); empty: none, and no kube-controller-manager.
    package var controllers: [String]

    package var storage: StorageKind { binaries.storage.kind }

    /// The names of the files in ``directory``.
    package var layout: InstanceLayout { InstanceLayout(directory) }

    /// `logs/audit.log` in the instance's folder, when it audits.
    package var auditLogPath: String? { audit == nil ? nil : layout.auditLog }

    package init(
        name: String, directory: String, binaries: ResolvedBinaries,
        extraArgs: [String], featureGates: [String: Bool] = [:], runtimeConfig: [String: Bool] = [:],
        users: [UserIdentity] = [], authorization: AuthorizationMode? = nil,
        startTimeout: Duration, stopTimeout: Duration, snapshot: String? = nil, webhook: WebhookEndpoint? = nil,
        audit: InstanceAudit? = nil, controllers: [String] = []
    ) {
        self.name = name
        self.directory = directory
        self.binaries = binaries
        self.extraArgs = extraArgs
        self.featureGates = featureGates
        self.runtimeConfig = runtimeConfig
        self.users = users
        self.authorization = authorization ?? (users.isEmpty ? .alwaysAllow : .rbac)
        self.startTimeout = startTimeout
        self.stopTimeout = stopTimeout
        self.snapshot = snapshot
        self.webhook = webhook
        self.audit = audit
        self.controllers = controllers
    }
}

/// The programs of a config, found and asked for their versions once.
package struct ResolvedBinaries: Sendable {
    package var kubeAPIServer: String
    package var kubeAPIServerVersion: KubeVersion
    /// The storage backend of the config, with its program.
    package var storage: any StorageBackend
    /// `binaries.kubeControllerManager` and its version: found only when an environment runs
    /// `controllers`.
    package var kubeControllerManager: (path: String, version: KubeVersion)?

    package init(
        kubeAPIServer: String, kubeAPIServerVersion: KubeVersion, storage: any StorageBackend,
        kubeControllerManager: (path: String, version: KubeVersion)? = nil
    ) {
        self.kubeAPIServer = kubeAPIServer
        self.kubeAPIServerVersion = kubeAPIServerVersion
        self.storage = storage
        self.kubeControllerManager = kubeControllerManager
    }

    /// Finds the binaries a config names and reads the kube-apiserver version.
    /// - Throws: ``ProcessError`` naming the config key and where it looked, or the version
    ///   when it is not the config's `kubeVersion`.
    package static func resolve(_ config: Config) async throws(ProcessError) -> ResolvedBinaries {
        let apiServer = try BinaryLocator.locate(
            config.binaries.kubeAPIServer, role: "binaries.kubeAPIServer", relativeTo: config.directory)
        let version = try await BinaryVersion.read(apiServer)
        if let mismatch = config.kubeVersionMismatch(reported: version.text, by: apiServer) {
            throw ProcessError(.unexpectedOutput, mismatch, domain: .binary)
        }
        let storage = try await StorageBackends.make(config)
        var controllerManager: (path: String, version: KubeVersion)?
        if config.usesControllers {
            let path = try BinaryLocator.locate(
                config.binaries.kubeControllerManager, role: "binaries.kubeControllerManager",
                relativeTo: config.directory)
            controllerManager = (path, try await BinaryVersion.read(path))
        }
        return ResolvedBinaries(
            kubeAPIServer: apiServer, kubeAPIServerVersion: version, storage: storage,
            kubeControllerManager: controllerManager)
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
    /// The declared users, in the config's order, with their tokens and kubeconfigs.
    package let users: [InstanceUser]
    package let store: any RunningStore
    package let apiServerProcess: ChildProcess
    package let client: KubeClient
    /// kube-controller-manager's token (in `pki/tokens.csv`), when the instance runs controllers.
    package let controllerManagerToken: String?
    /// The secret its kube-apiserver sends to k8senv's token webhook, and under which
    /// ``LeaseTokens`` keeps the tokens of its leases.
    package let tokenReviewer: String
    /// Its kube-controller-manager, once started.
    let controllerManagerSlot = Mutex<ChildProcess?>(nil)
    /// The one stop: later and concurrent calls of ``stop()`` await the first one's.
    private let stopping = Mutex<Task<Void, Never>?>(nil)

    package var name: String { configuration.name }

    private init(
        configuration: InstanceConfiguration, port: Int, caCertificate: String, token: String,
        kubeconfigPath: String, users: [InstanceUser], store: any RunningStore, apiServerProcess: ChildProcess,
        client: KubeClient,
        controllerManagerToken: String?, tokenReviewer: String
    ) {
        self.tokenReviewer = tokenReviewer
        self.configuration = configuration
        self.port = port
        self.server = "https://127.0.0.1:\(port)"
        self.caCertificate = caCertificate
        self.token = token
        self.kubeconfigPath = kubeconfigPath
        self.users = users
        self.store = store
        self.apiServerProcess = apiServerProcess
        self.client = client
        self.controllerManagerToken = controllerManagerToken
    }

    /// Times of the steps of a start, for the summary.
    package struct StartTimes: Sendable {
        package var storage: Duration = .zero
        package var apiServer: Duration = .zero
    }

    /// Starts storage, then kube-apiserver, and waits until `/livez` answers 200 and the
    /// `default` namespace exists. A port that another process took between our choice and the
    /// process's bind (``Ports/isTaken(_:)``, asked after the process ended) is retried with a new
    /// port (3 tries); any other failure is reported at once.
    /// - Parameter choosePort: picks kube-apiserver's port (tests hand out a taken one).
    /// - Throws: ``ProcessError`` with the command line and log tail of the process that failed;
    ///   nothing is left running.
    package static func start(
        _ configuration: InstanceConfiguration,
        choosingPortsWith choosePort: @Sendable () throws(ProcessError) -> Int = { () throws(ProcessError) in
            try Ports.free()
        }
    )
        async throws(ProcessError) -> (Instance, StartTimes)
    {
        let files = try await Trace.span("instance files (certificates, tokens, users)", track: configuration.name) {
            () async throws(ProcessError) in
            try StartFiles.write(configuration)
        }
        let deadline = ContinuousClock.now + configuration.startTimeout
        var conflict: ProcessError?
        for _ in 0..<3 {
            do throws(ProcessError) {
                return try await attempt(configuration, files, port: try choosePort(), deadline: deadline)
            } catch let error where error.code == .portTaken {
                conflict = error
            }
        }
        throw conflict ?? ProcessError(.launchFailed, "\(configuration.name): could not find free ports")
    }

    /// One try at a start on `port`: storage and kube-apiserver start together (the apiserver's
    /// etcd client retries until storage answers, and the apiserver's own start, seconds, hides
    /// storage's). On failure everything of this try is stopped.
    private static func attempt(
        _ configuration: InstanceConfiguration, _ files: StartFiles, port: Int,
        deadline: ContinuousClock.Instant
    ) async throws(ProcessError) -> (Instance, StartTimes) {
        let clock = ContinuousClock()
        var times = StartTimes()
        let storageStart = clock.now
        let store = try await Trace.span("store start", track: configuration.name) { () async throws(ProcessError) in
            try await configuration.binaries.storage.spawn(
                name: configuration.name, directory: configuration.directory, snapshot: configuration.snapshot,
                deadline: deadline)
        }
        let server = "https://127.0.0.1:\(port)"
        let apiStart = clock.now
        let apiServer: ChildProcess
        let users: [InstanceUser]
        let client: KubeClient
        do throws(ProcessError) {
            users = try files.writeKubeconfigs(server: server)
            apiServer = try launchAPIServer(configuration, files, port: port, storageURL: store.url)
        } catch {
            await store.stop(grace: configuration.stopTimeout)
            throw error
        }
        do throws(ProcessError) {
            // Nested in kube-apiserver's start, which runs meanwhile (recorded below).
            try await Trace.span("store serving", track: configuration.name) { () async throws(ProcessError) in
                try await store.waitUntilServing(deadline: deadline)
            }
            times.storage = clock.now - storageStart
            do {
                client = try KubeClient(
                    server: server, caCertificate: files.certificates.caCertificate, token: files.token)
            } catch {
                throw ProcessError(.launchFailed, "cannot load our own CA certificate: \(error)")
            }
        } catch {
            await apiServer.stop(grace: .zero)
            await store.stop(grace: configuration.stopTimeout)
            throw error
        }
        let instance = Instance(
            configuration: configuration, port: port, caCertificate: files.certificates.caCertificate,
            token: files.token, kubeconfigPath: files.layout.kubeconfig, users: users, store: store,
            apiServerProcess: apiServer, client: client, controllerManagerToken: files.controllerManagerToken,
            tokenReviewer: files.tokenReviewer)
        do throws(ProcessError) {
            try await instance.waitUntilReady(deadline: deadline)
        } catch {
            await instance.stop()
            // Asked once kube-apiserver is gone: its bind failed if another process holds the port.
            throw error.asPortConflict(ports: [port])
        }
        times.apiServer = clock.now - apiStart
        Trace.current?.complete(
            "kube-apiserver start to ready", track: configuration.name, start: apiStart, end: clock.now,
            arguments: ["port": "\(port)"])
        return (instance, times)
    }

    /// Launches kube-apiserver on `port` with the instance's files, serving from `storageURL`.
    private static func launchAPIServer(
        _ configuration: InstanceConfiguration, _ files: StartFiles, port: Int,
        storageURL: String
    ) throws(ProcessError) -> ChildProcess {
        let layout = files.layout
        let apiServerLayout = APIServerLayout(
            port: port, storageURL: storageURL, certificateDirectory: layout.pki,
            servingCertificate: layout.servingCertificate, servingKey: layout.servingKey,
            serviceAccountKey: layout.serviceAccountKey, serviceAccountPublicKey: layout.serviceAccountPublicKey,
            tokenFile: layout.tokenFile, authenticationConfig: files.authenticationConfig,
            tokenWebhookConfig: layout.tokenWebhookConfig)
        let arguments = APIServerArguments.make(
            version: configuration.binaries.kubeAPIServerVersion, layout: apiServerLayout,
            authorization: configuration.authorization,
            featureGates: configuration.featureGates,
            runtimeConfig: configuration.runtimeConfig, audit: files.audit,
            extraArgs: configuration.extraArgs)
        return try ChildProcess.launch(
            executable: configuration.binaries.kubeAPIServer, arguments: arguments,
            environment: childEnvironment(), logPath: layout.apiServerLog)
    }

    /// The environment of children: ours, without variables that would redirect them.
    static func childEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("ETCD_") || key == "KUBECONFIG" { environment[key] = nil }
        return environment
    }

    /// Starts storage and waits until it serves (tests of the backends).
    package static func startStorage(_ configuration: InstanceConfiguration, deadline: ContinuousClock.Instant)
        async throws(ProcessError) -> any RunningStore
    {
        let store = try await configuration.binaries.storage.spawn(
            name: configuration.name, directory: configuration.directory, snapshot: configuration.snapshot,
            deadline: deadline)
        do {
            try await store.waitUntilServing(deadline: deadline)
        } catch {
            await store.stop(grace: configuration.stopTimeout)
            throw error
        }
        return store
    }

    /// Polls `check` every 20 ms until it holds; gives up the moment the process exits (also
    /// while a check is under way), and at the deadline.
    static func poll(
        _ process: ChildProcess, what: String, deadline: ContinuousClock.Instant,
        check: @escaping @Sendable () async -> Bool
    ) async throws(ProcessError) {
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
        let store = self.store
        try await Self.poll(apiServerProcess, what: "kube-apiserver", deadline: deadline) {
            if store.failure() != nil { return true }  // reported below
            let response = try? await client.send("GET", "/livez", timeout: .seconds(2))
            return response?.status == 200
        }
        try checkStorage()
        try await Self.poll(apiServerProcess, what: "kube-apiserver", deadline: deadline) {
            if store.failure() != nil { return true }
            let response = try? await client.send("GET", "/api/v1/namespaces/default", timeout: .seconds(2))
            return response?.status == 200
        }
        try checkStorage()
    }

    func checkStorage() throws(ProcessError) {
        if let failure = store.failure() { throw failure }
    }

    /// Nil while the store serves and kube-apiserver runs; otherwise which one stopped, with its
    /// log tail.
    /// Why the store, kube-apiserver or kube-controller-manager stopped by itself; nil while they serve, and nil for an
    /// instance stopped on purpose (``stop()``: a pool's release with mode stop, a failed reset).
    package func failure() -> ProcessError? {
        if isStopping { return nil }
        if let failure = store.failure() { return failure }
        if let t = apiServerProcess.termination {
            return apiServerProcess.error(.exited, "\(name): kube-apiserver \(t)")
        }
        if let controllerManager, let t = controllerManager.termination {
            return controllerManager.error(.exited, "\(name): kube-controller-manager \(t)")
        }
        return nil
    }

    /// Returns when the store, kube-apiserver or kube-controller-manager stops, with which and why; nil at once when the
    /// calling task is cancelled, and nil when the instance was stopped on purpose (``stop()``).
    package func ended() async -> ProcessError? {
        let apiServer = apiServerProcess
        let name = self.name
        let store = self.store
        let controllerManager = self.controllerManager
        let first = await withTaskGroup(of: ProcessError?.self) { group in
            group.addTask { await store.ended() }
            group.addTask { await apiServer.exitError("\(name): kube-apiserver") }
            if let controllerManager {
                group.addTask { await controllerManager.exitError("\(name): kube-controller-manager") }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return isStopping ? nil : first
    }

    /// Whether ``stop()`` was called.
    package var isStopping: Bool { stopping.withLock { $0 != nil } }

    /// Whether kube-apiserver, the storage process and kube-controller-manager are still alive, asked of the kernel: a
    /// process killed a moment ago is a zombie (or gone) before ``failure()`` learns of it.
    package var processesAlive: Bool {
        StateFolder.isAlive(apiServerProcess.pid) && (store.process.map { StateFolder.isAlive($0.pid) } ?? true)
            && (controllerManager.map { StateFolder.isAlive($0.pid) } ?? true)
    }

    /// Kills kube-apiserver (and kube-controller-manager), then stops the store while they exit. Later and
    /// concurrent calls await the first one's.
    ///
    /// Nothing of a stopped instance is kept (its snapshot was saved before, from a running
    /// store; its folder is removed or kept only for its logs), so nothing needs a graceful
    /// stop: kube-apiserver's process group and a store's (etcd, kine) are killed at once and
    /// awaited. The embedded store, in this process, closes its connections at once, without
    /// letting calls finish, and waits up to `timeouts.stop` for them to have closed.
    package func stop() async {
        await beginStop().value
    }

    /// Starts ``stop()`` and returns its task (the first call's, for every caller).
    /// - Parameter closingStore: false for a process that exits right after (`up`, `run`): the
    ///   embedded store, in this process, is left to the exit instead of closing its
    ///   connections one by one; processes are killed and awaited all the same.
    @discardableResult
    package func beginStop(closingStore: Bool = true) -> Task<Void, Never> {
        stopping.withLock { task in
            if let task { return task }
            let controllerManager = self.controllerManager
            LeaseTokens.shared.forget(reviewer: tokenReviewer)
            let made = Task { [client, apiServerProcess, store, configuration] in
                // Killed first, so that nothing it does meets a store that is going away; then
                // its exit, the store's stop and the client's are awaited together (the kernel
                // takes tens of milliseconds to tear down a kube-apiserver). kube-controller-manager
                // too: nothing of it is kept either.
                apiServerProcess.signalGroup(SIGKILL)
                controllerManager?.signalGroup(SIGKILL)
                async let controllers = controllerManager?.stop(grace: .zero)
                async let apiServer = apiServerProcess.stop(grace: .zero)
                async let storage: Void =
                    closingStore || store.process != nil ? store.stop(grace: configuration.stopTimeout) : ()
                async let http: Void = client.shutdown()
                _ = await (apiServer, storage, http, controllers)
            }
            task = made
            return made
        }
    }
}
