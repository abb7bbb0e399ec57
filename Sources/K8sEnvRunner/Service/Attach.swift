import Foundation
import Synchronization

/// `k8senv run` attached to a running pool service (`up --detach` of the same config and state
/// folder): one lease per environment instead of a start, the same variables, the command, the
/// leases released. No kube-apiserver starts.
extension Lifecycle {
    /// The detached `up` of this config (same file, same profile) that serves a pool, if there is one.
    package static func attachable(_ options: Options) -> RunRecord? {
        guard !options.fresh, let record = options.stateFolder.current(), let socket = record.poolSocket,
              record.profile == options.profile, sameFile(record.config, options.file) else { return nil }
        var status = stat()
        guard stat(socket, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return record
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// Runs `command` on leases of the service `record` names.
    static func runAttached(_ options: Options, record: RunRecord, command: [String], signals: SignalWatcher,
                            output: @escaping @Sendable (String) -> Void) async -> Int32 {
        guard let socket = record.poolSocket else { return 1 }
        let client = PoolClient(socketPath: socket)
        var names = options.environments
        if names.isEmpty {
            for instance in record.instances where !names.contains(instance.environment) { names.append(instance.environment) }
        }
        var leases: [(environment: String, granted: LeaseGrant)] = []
        func releaseAll() async -> [String] {
            var problems: [String] = []
            for (_, granted) in leases {
                do {
                    let answer = try await client.send("DELETE", "/v1/leases/\(granted.lease)?mode=reset")
                    if answer.status != 200 { problems.append("\(granted.instance): \(answer.error?.message ?? "status \(answer.status)")") }
                } catch {
                    problems.append("\(granted.instance): \(error.message)")
                }
            }
            return problems
        }
        // SIGINT or SIGTERM while the leases are waited for ends the run (130), as during a
        // start: the wait is a series of 1-second acquires, the signal checked between them.
        let interrupted = Mutex(false)
        let watcher = Task { if await signals.next() != nil { interrupted.withLock { $0 = true } } }
        defer { watcher.cancel() }
        let deadline = ContinuousClock.now + .seconds(120)
        for name in names {
            while true {
                if interrupted.withLock({ $0 }) {
                    output("interrupted while waiting for an instance; released what was leased")
                    _ = await releaseAll()
                    return 130
                }
                do {
                    let body = Array(try JSONEncoder().encode(LeaseRequest(environment: name, timeoutSeconds: 1, holder: getpid())))
                    let answer = try await client.send("POST", "/v1/leases", body: body, timeout: .seconds(60))
                    if answer.status == 503, answer.errorCode == .acquireTimeout, ContinuousClock.now < deadline { continue }
                    guard answer.status == 201, let granted = LeaseGrant.decode(answer.body) else {
                        output("error: \(answer.error.map { "\($0.message) (\($0.code))" } ?? "the pool service answered \(answer.status)")")
                        _ = await releaseAll()
                        return 1
                    }
                    leases.append((name, granted))
                    break
                } catch {
                    output("error: \((error as? K8sEnvError)?.message ?? "\(error)")")
                    _ = await releaseAll()
                    return 1
                }
            }
        }
        watcher.cancel()
        if interrupted.withLock({ $0 }) {
            output("interrupted while waiting for an instance; released what was leased")
            _ = await releaseAll()
            return 130
        }
        if !options.quiet {
            output("attached to the pool service of k8senv up (pid \(record.ownerPID)): "
                   + leases.map { "\($0.environment) → \($0.granted.instance)" }.joined(separator: ", ") + " (--fresh starts instances of its own)")
        }
        var environment = ProcessInfo.processInfo.environment
        let exported = leases.map { lease in
            RunRecord.ExportedInstance(environment: lease.environment, kubeconfig: lease.granted.kubeconfig,
                                       users: lease.granted.sortedUsers.map { RunRecord.UserRecord(name: $0.name, kubeconfig: $0.user.kubeconfig) },
                                       webhook: lease.granted.webhook)
        }
        for (key, value) in RunRecord.exports(exported, poolSocket: socket) {
            environment[key] = value
        }
        let status = await runCommand(command, environment: environment, signals: signals, output: output)
        if status != 0 { await reportAudit(client, leases: leases.map(\.granted), output: output) }
        let problems = await releaseAll()
        for problem in problems { output("error: a lease could not be released: \(problem)") }
        // A service that went away under the command: its results are not to be trusted.
        return problems.isEmpty || status != 0 ? status : 1
    }
}

extension Lifecycle {
    /// After a failed command of an attached `run`: each lease's mutating requests (asked of the
    /// service before the leases are released), as ``reportAudit(_:since:output:)`` prints them
    /// for a run of its own; a hint when no leased instance audits.
    static func reportAudit(_ client: PoolClient, leases: [LeaseGrant], output: @Sendable (String) -> Void) async {
        struct Events: Decodable { var events: [AuditEvent] }
        var lines: [String] = []
        var audited = false
        for lease in leases {
            guard let answer = try? await client.send("GET", "/v1/leases/\(lease.lease)/audit", timeout: .seconds(30)),
                  answer.status == 200, let decoded = try? JSONDecoder().decode(Events.self, from: Data(answer.body)) else { continue }
            audited = true
            // The instance folder: the lease's kubeconfig is in its leases/<n>/.
            let folder = ((lease.caFile as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
            lines += AuditReport.section(instance: lease.instance, events: decoded.events, log: AuditLog.path(inInstanceFolder: folder))
        }
        guard audited else {
            output(auditHint)
            return
        }
        printAuditReport(lines, output: output)
    }
}
