import Foundation
import K8sEnvSpec

/// What a running `k8senv up` (or `run`) records in its run folder, so that `env`, `status`
/// and `down` can find it, and a later `up` can clean up after a crash.
package struct RunRecord: Codable, Sendable {
    package struct InstanceRecord: Codable, Sendable {
        package var name: String
        package var environment: String
        package var server: String
        package var kubeconfig: String
        package var apiServerPID: Int32
        package var storagePID: Int32
        package var apiServerBinary: String
        package var storageBinary: String
        /// Start times (clock ticks since boot): with pid and binary, the processes' identity.
        package var apiServerStartTime: UInt64?
        package var storageStartTime: UInt64?
        package var logs: [String]
        /// Where its webhooks call, when its environment has any.
        package var webhook: WebhookEndpoint?
        /// The declared users' kubeconfigs, in the config's order (absent in records of older
        /// k8senv releases and of configs without users).
        package var users: [UserRecord]?
        /// Its kube-controller-manager (pid, binary, start time), when its environment runs
        /// `controllers`; absent otherwise.
        package var controllerManagerPID: Int32?
        package var controllerManagerBinary: String?
        package var controllerManagerStartTime: UInt64?
        /// The store revision of its state when it was handed out, which `k8senv diff`
        /// compares with (absent in records of older k8senv releases).
        package var baselineRevision: Int64?
        /// When the instance started: the run's first instances, or a replacement a pool
        /// started later (absent in records of older k8senv releases).
        package var startedAt: Date?
    }

    /// A declared user of an instance: its name and kubeconfig.
    package struct UserRecord: Codable, Sendable, Hashable {
        package var name: String
        package var kubeconfig: String

        package init(name: String, kubeconfig: String) {
            self.name = name
            self.kubeconfig = kubeconfig
        }
    }

    package var version = 1
    /// The k8senv process that owns the instances: pid, executable and start time.
    package var ownerPID: Int32
    package var ownerBinary: String?
    package var ownerStartTime: UInt64?
    package var config: String
    package var profile: String?
    package var detached: Bool
    package var runDirectory: String
    /// The pool API's socket (`up` and `run` serve one).
    package var poolSocket: String?
    package var startedAt: Date
    package var instances: [InstanceRecord]

    /// KUBECONFIG (the first instance), K8SENV_KUBECONFIGS (all, colon-separated),
    /// K8SENV_KUBECONFIG_<ENV> (the first of each environment) and K8SENV_KUBECONFIG_<ENV>_<USER>
    /// (each declared user's, of that instance); the webhook variables.
    package var exports: [(String, String)] {
        Self.exports(
            instances.map {
                ExportedInstance(
                    environment: $0.environment, kubeconfig: $0.kubeconfig, users: $0.users ?? [],
                    webhook: $0.webhook)
            },
            poolSocket: poolSocket)
    }

    /// An instance as ``exports(_:poolSocket:)`` names it.
    package struct ExportedInstance: Sendable {
        package var environment: String
        package var kubeconfig: String
        package var users: [UserRecord]
        package var webhook: WebhookEndpoint?

        package init(environment: String, kubeconfig: String, users: [UserRecord] = [], webhook: WebhookEndpoint? = nil)
        {
            self.environment = environment
            self.kubeconfig = kubeconfig
            self.users = users
            self.webhook = webhook
        }
    }

    /// The variables of instances, in order, and of the pool API: what `up` prints and what
    /// `run` gives its command, started or attached.
    ///
    /// With webhooks: K8SENV_WEBHOOK_HOST, K8SENV_WEBHOOK_PORT and K8SENV_WEBHOOK_CERT_DIR of the
    /// first instance that has them, and K8SENV_WEBHOOK_PORT_<ENV> for each environment that does.
    package static func exports(_ instances: [ExportedInstance], poolSocket: String?) -> [(String, String)] {
        guard let first = instances.first else { return [] }
        var out = [
            ("KUBECONFIG", first.kubeconfig),
            ("K8SENV_KUBECONFIGS", instances.map(\.kubeconfig).joined(separator: ":")),
        ]
        var seen = Set<String>()
        for instance in instances where seen.insert(instance.environment).inserted {
            out.append((KubeconfigVariables.environment(instance.environment), instance.kubeconfig))
            for user in instance.users {
                out.append((KubeconfigVariables.user(user.name, environment: instance.environment), user.kubeconfig))
            }
        }
        if let poolSocket { out.append(("K8SENV_POOL", poolSocket)) }
        if let webhook = instances.lazy.compactMap(\.webhook).first {
            out += webhook.exports
            var seen = Set<String>()
            for instance in instances where instance.webhook != nil && seen.insert(instance.environment).inserted {
                out.append(
                    (
                        "K8SENV_WEBHOOK_PORT_" + KubeconfigVariables.suffix(instance.environment),
                        String(instance.webhook!.port)
                    ))
            }
        }
        return out
    }
}

extension RunRecord.InstanceRecord {
    /// Whether kube-apiserver answers `/readyz` with 200 within 2 s, asked with the instance's
    /// own CA and token (from its folder): a stopped (SIGSTOP) or wedged server is not ready,
    /// though its pid is alive.
    package func isReady() async -> Bool {
        guard let client = makeClient() else { return false }
        let response = try? await client.send("GET", "/readyz", timeout: .seconds(2))
        await client.shutdown()
        return response?.status == 200
    }

    /// A client of its kube-apiserver with the instance's own CA and token (from its folder),
    /// or nil when they cannot be read. The caller shuts it down.
    package func makeClient() -> KubeClient? {
        let folder = (kubeconfig as NSString).deletingLastPathComponent
        let files = InstanceLayout(folder)
        guard let ca = try? String(contentsOfFile: files.caCertificate, encoding: .utf8),
            let token = try? String(contentsOfFile: files.token, encoding: .utf8)
        else { return nil }
        return try? KubeClient(
            server: server, caCertificate: ca, token: token.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// The state folder (`.k8senv/` next to the config by default): `runs/<id>/` per run, and
/// `current` naming the detached run.
package struct StateFolder: Sendable {
    package var path: String

    /// - Parameter path: made absolute (from the current folder) and standardized, so every
    ///   command names a run folder the same way wherever it runs. Symlinks are resolved in its
    ///   parent only: the state folder itself is used by its own name, so ``refusal`` sees a
    ///   symlink there instead of the folder it points to.
    package init(path: String) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let name = (absolute as NSString).lastPathComponent
        if name.isEmpty || name == "." || name == ".." || name == "/" {
            self.path = (absolute as NSString).standardizingPath
        } else {
            let parent = ((absolute as NSString).deletingLastPathComponent as NSString).standardizingPath
            self.path = (parent == "/" ? "" : parent) + "/" + name
        }
    }

    /// `.k8senv` in the config file's folder.
    package static func forConfig(_ configPath: String) -> StateFolder {
        let directory = (configPath as NSString).deletingLastPathComponent
        let absolute =
            directory.isEmpty
            ? FileManager.default.currentDirectoryPath
            : (directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory)
        return StateFolder(path: (absolute as NSString).standardizingPath + "/.k8senv")
    }

    package var runsPath: String { path + "/runs" }
    package var currentPath: String { path + "/current" }

    /// Why k8senv will not use this state folder (a symlink, another user's, not a folder), or
    /// nil. It never writes, deletes or signals anything through such a folder.
    package var refusal: String? {
        for folder in [path, runsPath] {
            if let reason = Ownership.refusal(folder) {
                return
                    "\(reason): k8senv only uses a state folder it can prove is yours (see \(DocsLink.page("explanation/security.md"))); left alone"
            }
        }
        return nil
    }

    /// A new run folder, 0700, marked as made by this user's k8senv.
    package func makeRunDirectory() throws(ProcessError) -> String {
        if let refusal { throw ProcessError(.files, refusal) }
        try PrivateFiles.makeDirectory(path)
        try PrivateFiles.makeDirectory(runsPath, below: path)
        if let refusal { throw ProcessError(.files, refusal) }
        let stamp = Int(Date().timeIntervalSince1970)
        let run = runsPath + "/\(stamp)-\(getpid())"
        guard mkdir(run, 0o700) == 0 else {
            throw ProcessError(.files, "cannot create the folder \(run): \(String(cString: strerror(errno)))")
        }
        try Ownership.markFolder(run)
        return run
    }

    /// Takes the state folder's lock (blocking until it is free): one `up --detach` at a time
    /// checks and claims the folder. Released when the returned descriptor is closed, or the
    /// process ends.
    package func lock() throws(ProcessError) -> Int32 {
        if let refusal { throw ProcessError(.files, refusal) }
        try PrivateFiles.makeDirectory(path)
        if let refusal { throw ProcessError(.files, refusal) }
        let fd = open(path + "/lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw ProcessError(.files, "cannot open \(path)/lock: \(String(cString: strerror(errno)))")
        }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ProcessError(.files, "cannot lock \(path)/lock: \(reason)")
        }
        return fd
    }

    package func write(_ record: RunRecord) throws(ProcessError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data: Data
        do { data = try encoder.encode(record) } catch {
            throw ProcessError(.files, "cannot encode the run record: \(error)")
        }
        try PrivateFiles.write(String(decoding: data, as: UTF8.self) + "\n", to: record.runDirectory + "/run.json")
    }

    /// The record of a run folder k8senv made (marked), written for that folder.
    package static func read(runDirectory: String) -> RunRecord? {
        guard Ownership.isMarked(runDirectory),
            let data = FileManager.default.contents(atPath: runDirectory + "/run.json")
        else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let record = try? decoder.decode(RunRecord.self, from: data), record.runDirectory == runDirectory else {
            return nil
        }
        return record
    }

    /// Whether the record's owner is the very process that wrote it (not a recycled pid).
    package static func ownerRuns(_ record: RunRecord) -> Bool {
        guard let binary = record.ownerBinary else { return false }
        return Ownership.isSame(record.ownerPID, binary: binary, startTime: record.ownerStartTime)
    }

    /// Marks a run as the detached one.
    package func setCurrent(_ runDirectory: String) throws(ProcessError) {
        try PrivateFiles.write(runDirectory + "\n", to: currentPath)
    }

    /// The detached run, if one is recorded in a run folder of ours and its owner is the
    /// process that recorded it.
    package func current() -> RunRecord? {
        guard refusal == nil, let text = try? String(contentsOfFile: currentPath, encoding: .utf8) else { return nil }
        let dir = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard dir.hasPrefix(runsPath + "/"), !dir.dropFirst(runsPath.count + 1).contains("/"),
            let record = Self.read(runDirectory: dir), Self.ownerRuns(record)
        else { return nil }
        return record
    }

    /// The run to read when none is named: the detached one, else the newest run folder whose
    /// owner still runs (a `k8senv run` under way, also asked from inside its command).
    package func liveRun() -> RunRecord? {
        if let record = current() { return record }
        return runFoldersNewestFirst().lazy.compactMap { Self.read(runDirectory: $0) }.first { Self.ownerRuns($0) }
    }

    /// The run folders k8senv made here (marked), newest first by the time in their names
    /// (`<seconds>-<pid>`); empty for a state folder we do not trust.
    package func runFoldersNewestFirst() -> [String] {
        guard refusal == nil, let names = try? FileManager.default.contentsOfDirectory(atPath: runsPath) else {
            return []
        }
        return names.compactMap { name -> (Int, String)? in
            guard let seconds = name.split(separator: "-").first.flatMap({ Int($0) }) else { return nil }
            return (seconds, runsPath + "/" + name)
        }
        .sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 > $1.1 }
        .map(\.1)
        .filter { Ownership.isMarked($0) }
    }

    package func clearCurrent(ifRunDirectory dir: String) {
        if let text = try? String(contentsOfFile: currentPath, encoding: .utf8),
            text.trimmingCharacters(in: .whitespacesAndNewlines) == dir
        {
            try? FileManager.default.removeItem(atPath: currentPath)
        }
    }

    /// Whether a process runs: it exists and is not a zombie (an exited process nobody reaped,
    /// as under a PID 1 that does not reap).
    package static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = ProcFS.stat(pid) else { return true }
        return !stat.hasEnded
    }

    /// What ``cleanStaleRuns()`` removed, and what it left alone and why.
    package struct Cleanup: Sendable {
        package var cleaned: [String] = []
        package var refused: [String] = []
    }

    /// Removes what crashed runs left — only run folders k8senv made (marked, real folders of
    /// this user) whose owner is gone — killing their processes only when each is still the
    /// very process recorded (pid, binary and start time). Anything else is reported and left.
    @discardableResult
    package func cleanStaleRuns() -> Cleanup {
        var cleanup = Cleanup()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: runsPath) else { return cleanup }
        if let refusal {
            cleanup.refused.append(refusal)
            return cleanup
        }
        for name in names.sorted() where !name.hasPrefix(".") {
            let dir = runsPath + "/" + name
            guard Ownership.isMarked(dir) else {
                cleanup.refused.append("\(dir): not a run folder k8senv made for you (no valid mark); left alone")
                continue
            }
            if let record = Self.read(runDirectory: dir) {
                guard !Self.ownerRuns(record) else { continue }
                for instance in record.instances {
                    var processes = [
                        (instance.apiServerPID, instance.apiServerBinary, instance.apiServerStartTime),
                        (instance.storagePID, instance.storageBinary, instance.storageStartTime),
                    ]
                    if let pid = instance.controllerManagerPID, let binary = instance.controllerManagerBinary {
                        processes.append((pid, binary, instance.controllerManagerStartTime))
                    }
                    for (pid, binary, start) in processes where Ownership.isSame(pid, binary: binary, startTime: start)
                    {
                        kill(-pid, SIGKILL)
                        kill(pid, SIGKILL)
                    }
                }
            } else {
                // A run that never wrote its record: remove it once its owner (in the name) is gone.
                // (Also the logs a failed run kept for the user: kept until the next run.)
                guard let pid = name.split(separator: "-").last.flatMap({ Int32($0) }), !Self.isAlive(pid) else {
                    continue
                }
            }
            clearCurrent(ifRunDirectory: dir)
            SocketFolder.removeLinked(from: dir)  // the pool API's, when the state folder's path was too long
            for instance in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                SocketFolder.removeLinked(from: dir + "/" + instance)
            }
            try? FileManager.default.removeItem(atPath: dir)
            cleanup.cleaned.append(dir)
        }
        return cleanup
    }
}
