import Foundation

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
        package var logs: [String]
    }

    package var version = 1
    /// The k8senv process that owns the instances.
    package var ownerPID: Int32
    package var config: String
    package var profile: String?
    package var detached: Bool
    package var runDirectory: String
    package var startedAt: Date
    package var instances: [InstanceRecord]

    /// KUBECONFIG (the first instance), K8SENV_KUBECONFIGS (all, colon-separated) and
    /// K8SENV_KUBECONFIG_<ENV> (the first of each environment).
    package var exports: [(String, String)] {
        guard let first = instances.first else { return [] }
        var out = [("KUBECONFIG", first.kubeconfig),
                   ("K8SENV_KUBECONFIGS", instances.map(\.kubeconfig).joined(separator: ":"))]
        var seen = Set<String>()
        for instance in instances where seen.insert(instance.environment).inserted {
            let name = instance.environment.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
            out.append(("K8SENV_KUBECONFIG_" + String(name), instance.kubeconfig))
        }
        return out
    }
}

/// The state folder (`.k8senv/` next to the config by default): `runs/<id>/` per run, and
/// `current` naming the detached run.
package struct StateFolder: Sendable {
    package var path: String

    package init(path: String) {
        self.path = path
    }

    /// `.k8senv` in the config file's folder.
    package static func forConfig(_ configPath: String) -> StateFolder {
        let directory = (configPath as NSString).deletingLastPathComponent
        let absolute = directory.isEmpty ? FileManager.default.currentDirectoryPath
            : (directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory)
        return StateFolder(path: (absolute as NSString).standardizingPath + "/.k8senv")
    }

    package var runsPath: String { path + "/runs" }
    package var currentPath: String { path + "/current" }

    /// A new run folder, 0700.
    package func makeRunDirectory() throws(ProcessError) -> String {
        try PrivateFiles.makeDirectory(runsPath)
        let stamp = Int(Date().timeIntervalSince1970)
        let run = runsPath + "/\(stamp)-\(getpid())"
        try PrivateFiles.makeDirectory(run)
        return run
    }

    package func write(_ record: RunRecord) throws(ProcessError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data: Data
        do { data = try encoder.encode(record) } catch {
            throw ProcessError(.launchFailed, "cannot encode the run record: \(error)")
        }
        try PrivateFiles.write(String(decoding: data, as: UTF8.self) + "\n", to: record.runDirectory + "/run.json")
    }

    package static func read(runDirectory: String) -> RunRecord? {
        guard let data = FileManager.default.contents(atPath: runDirectory + "/run.json") else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(RunRecord.self, from: data)
    }

    /// Marks a run as the detached one.
    package func setCurrent(_ runDirectory: String) throws(ProcessError) {
        try PrivateFiles.write(runDirectory + "\n", to: currentPath)
    }

    /// The detached run, if one is recorded and its owner is alive.
    package func current() -> RunRecord? {
        guard let text = try? String(contentsOfFile: currentPath, encoding: .utf8) else { return nil }
        let dir = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let record = Self.read(runDirectory: dir), Self.isAlive(record.ownerPID) else { return nil }
        return record
    }

    package func clearCurrent(ifRunDirectory dir: String) {
        if let text = try? String(contentsOfFile: currentPath, encoding: .utf8),
           text.trimmingCharacters(in: .whitespacesAndNewlines) == dir {
            try? FileManager.default.removeItem(atPath: currentPath)
        }
    }

    /// Whether a process runs: it exists and is not a zombie (an exited process nobody reaped,
    /// as under a PID 1 that does not reap).
    package static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex else { return true }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Whether pid runs the given binary (so a recycled pid is never killed).
    static func runs(_ pid: Int32, binary: String) -> Bool {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe") else { return false }
        return link == binary || link.hasPrefix(binary + " ")
    }

    /// Removes what crashed runs left: kills their processes (checking the pid still runs the
    /// recorded binary) and deletes their folders.
    /// - Returns: the run folders cleaned.
    @discardableResult
    package func cleanStaleRuns() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: runsPath) else { return [] }
        var cleaned: [String] = []
        for name in names {
            let dir = runsPath + "/" + name
            guard let record = Self.read(runDirectory: dir) else {
                // A run that never wrote its record: remove it once its owner (in the name) is gone.
                // (Also the logs a failed run kept for the user: kept until the next run.)
                if let pid = name.split(separator: "-").last.flatMap({ Int32($0) }), !Self.isAlive(pid) {
                    try? FileManager.default.removeItem(atPath: dir)
                }
                continue
            }
            guard !Self.isAlive(record.ownerPID) else { continue }
            for instance in record.instances {
                for (pid, binary) in [(instance.apiServerPID, instance.apiServerBinary), (instance.storagePID, instance.storageBinary)]
                where Self.runs(pid, binary: binary) {
                    kill(-pid, SIGKILL)
                    kill(pid, SIGKILL)
                }
            }
            clearCurrent(ifRunDirectory: dir)
            try? FileManager.default.removeItem(atPath: dir)
            cleaned.append(dir)
        }
        return cleaned
    }
}
