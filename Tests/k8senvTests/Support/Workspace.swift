import Foundation
import K8sEnvTestSupport
import Testing

/// A test's own folder (its own `.k8senv/`, so tests run in parallel), the k8senv processes it
/// started, and a teardown that runs on every path out: whatever is still running is killed
/// (the test has already asserted what it expected) and the folder is removed.
final class Workspace: @unchecked Sendable {
    // @unchecked: `children` is only touched under `lock`; everything else is immutable.
    let path: String
    /// Where k8senv runs: the folder of the config (the example's copy, or `path`).
    let directory: String
    private let lock = NSLock()
    private var children: [Subprocess] = []

    private init(path: String, directory: String) {
        self.path = path
        self.directory = directory
    }

    /// The time limit of the suites whose tests start kube-apiservers (see ``Integration/timeLimit``).
    static let integrationLimit = Integration.timeLimit

    /// A config with one environment of one instance, no CRDs or seeds, on the storage K8SENV_STORAGE names (default embedded); `extra` is
    /// added at the top level.
    static func smallConfig(_ extra: String = "", start: String = "120s") -> String {
        """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        binaries:
          kubeAPIServer: ${K8SENV_KUBE_APISERVER:-kube-apiserver}
          etcd: ${K8SENV_ETCD:-etcd}
          kine: ${K8SENV_KINE:-kine}
        storage: ${K8SENV_STORAGE:-embedded}
        timeouts:
          start: \(start)
          stop: 10s
        \(extra)
        environments:
          one:
            pool: {size: 1}

        """
    }

    /// Runs `body` in a fresh folder holding either a copy of examples/ and crds/ (k8senv runs in
    /// the copy of examples/) or `config` as k8senv.yaml. `name` becomes part of the folder's name.
    /// Tests that start kube-apiservers take one of the ``IntegrationSlots`` first, shared with
    /// the runner's suites (2 cores: more at once only makes each start slower).
    static func with<T>(
        example: Bool = false, config: String? = nil, name: String = "ws", apiServers: Bool = true,
        _ body: (Workspace) async throws -> T
    ) async throws -> T {
        _ = try Repository.requireBinary()
        let base = FileManager.default.temporaryDirectory.path
        let path =
            (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/k8senv-cli-test-\(name)-"
            + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let directory: String
        if example {
            try FileManager.default.copyItem(atPath: Repository.examples, toPath: path + "/examples")
            try FileManager.default.copyItem(atPath: Repository.crds, toPath: path + "/crds")
            try? FileManager.default.removeItem(atPath: path + "/examples/.k8senv")
            directory = path + "/examples"
        } else {
            directory = path
        }
        let workspace = Workspace(path: path, directory: directory)
        if let config { try workspace.write("k8senv.yaml", config) }
        func run() async throws -> T {
            defer { workspace.tearDown() }
            return try await body(workspace)
        }
        return apiServers ? try await IntegrationSlots.shared.withSlot(run) : try await run()
    }

    /// Kills what is left: our k8senv processes, the owners recorded in run folders (a detached
    /// supervisor; its children die with it), and any process naming this folder.
    private func tearDown() {
        for child in lock.withLock({ children }) { child.kill9AndReap() }
        for record in runRecords() {
            if let owner = record["ownerPID"] as? Int, Procfs.isRunning(Int32(owner)),
                let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(owner)/exe"),
                exe.hasSuffix("/k8senv")
            {
                kill(Int32(owner), SIGKILL)
            }
        }
        for line in Procfs.processes(mentioning: path) {
            if let pid = Int32(line.prefix(while: { $0 != ":" })) { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The absolute path of `relative` inside the working folder.
    func callAsFunction(_ relative: String) -> String { directory + "/" + relative }

    @discardableResult
    func write(_ relative: String, _ text: String, mode: Int = 0o644) throws -> String {
        let full = self(relative)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        // Close-on-exec: a child another test spawns meanwhile must not inherit the descriptor
        // (an executable still open for writing cannot be run: "Text file busy").
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw FixtureError("cannot write \(full)") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode_t(mode))
        close(fd)
        guard written == bytes.count else { throw FixtureError("cannot write \(full)") }
        return full
    }

    /// Copies `source` to `target` (absolute, or relative to the working folder) with cp(1),
    /// mode kept, never with FileManager: a descriptor FileManager holds open for writing would
    /// be inherited by a child another test spawns meanwhile, and a copied program would then
    /// not run ("Text file busy") for as long as that child lives.
    func copy(_ source: String, to target: String) async throws {
        let outcome = try await finish(
            launch("/bin/cp", ["-a", source, target.hasPrefix("/") ? target : self(target)]))
        guard outcome.status == 0 else { throw FixtureError("cp \(source) \(target): \(outcome)") }
    }

    /// The environment of k8senv: ours, with `overrides` (nil removes a variable).
    func environment(_ overrides: [String: String?]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECONFIG"] = nil
        // The test's own snapshot cache: no test reads what another (or the user) left.
        environment["XDG_CACHE_HOME"] = path + "/cache"
        // kubectl's discovery cache is keyed by host:port, and ports are reused by later
        // instances with other CRDs: each test gets its own.
        environment["KUBECACHEDIR"] = path + "/kubectl-cache"
        for (key, value) in overrides { environment[key] = value }
        return environment
    }

    /// Starts `k8senv ARGS` in the working folder and returns at once.
    func start(_ arguments: [String], environment overrides: [String: String?] = [:]) throws -> Subprocess {
        try launch(Repository.binary, arguments, environment: overrides)
    }

    func launch(_ executable: String, _ arguments: [String], environment overrides: [String: String?] = [:]) throws
        -> Subprocess
    {
        let index = lock.withLock { children.count }
        let child = try Subprocess(
            executable, arguments, in: directory, environment: environment(overrides),
            outputPrefix: path + "/.output-\(index)")
        lock.withLock { children.append(child) }
        return child
    }

    /// Runs `k8senv ARGS` in the working folder to completion.
    func k8senv(_ arguments: String..., environment overrides: [String: String?] = [:]) async throws -> Outcome {
        try await finish(start(arguments, environment: overrides))
    }

    /// Runs a shell command line (for `eval "$(k8senv env)"`) in the working folder, with the
    /// built k8senv first on PATH.
    func shell(_ script: String) async throws -> Outcome {
        let bin = (Repository.binary as NSString).deletingLastPathComponent
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return try await finish(launch("/bin/sh", ["-c", script], environment: ["PATH": path]))
    }

    func finish(_ child: Subprocess) async throws -> Outcome {
        let exit = try await child.wait()
        return Outcome(exit: exit, stdout: child.stdout, stderr: child.stderr)
    }

    /// Waits until the child's stdout or stderr contains `text` (or it exits, or 300 s pass:
    /// a hang, see ``Subprocess/wait(timeout:)``).
    func waitForOutput(_ child: Subprocess, _ text: String) async throws {
        let deadline = ContinuousClock.now + .seconds(300)
        while !child.stdout.contains(text) && !child.stderr.contains(text) {
            if let exit = child.termination {
                throw FixtureError(
                    "k8senv \(exit) before printing \"\(text)\"\nstdout: \(child.stdout)\nstderr: \(child.stderr)")
            }
            if ContinuousClock.now >= deadline { throw FixtureError("no \"\(text)\" within 300 s: \(child.stdout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: - What a user (or ps) can see

    var stateFolder: String { self(".k8senv") }

    /// The folders in `.k8senv/runs/`.
    func runFolders() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: stateFolder + "/runs")) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted().map { stateFolder + "/runs/" + $0 }
    }

    /// The run.json of each run folder, parsed.
    func runRecords() -> [[String: Any]] {
        runFolders().compactMap { folder in
            guard let data = FileManager.default.contents(atPath: folder + "/run.json") else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }
    }

    /// The kube-apiserver and storage pids of every instance in run.json files.
    func recordedPIDs() -> [Int32] {
        runRecords().flatMap { record in
            ((record["instances"] as? [[String: Any]]) ?? []).flatMap { instance in
                [instance["apiServerPID"], instance["storagePID"]].compactMap { ($0 as? Int).map(Int32.init) }
            }
        }
    }

    /// Running processes whose command line names this folder (etcd's data dir,
    /// kube-apiserver's certificates), except the test process.
    func leftovers() -> [String] { Procfs.processes(mentioning: path) }
}

/// Parses JSON text into a dictionary, or records why not.
func parseJSONObject(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any]? {
    do {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            Issue.record("not a JSON object: \(text)", sourceLocation: sourceLocation)
            return nil
        }
        return object
    } catch {
        Issue.record("not JSON (\(error)): \(text)", sourceLocation: sourceLocation)
        return nil
    }
}
