import Foundation
import Synchronization

/// `k8senv run` attached to a running pool service (`up --detach` of the same config and state
/// folder), and how a run waits for its leases, attached or not.
extension Lifecycle {
    /// The detached `up` of this config (same file, same profile) that serves a pool, if there is one.
    package static func attachable(_ options: Options) -> RunRecord? {
        guard !options.fresh, let record = options.stateFolder.current(), let socket = record.poolSocket,
            record.profile == options.profile, sameFile(record.config, options.file)
        else { return nil }
        var status = stat()
        guard stat(socket, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return record
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat()
        var y = stat()
        return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// One lease per environment of `names`, from `source`, in order. SIGINT or SIGTERM while
    /// they are waited for ends the run (130), as during a start: the wait is a series of
    /// 1-second tries, the signal checked between them, for at most two minutes.
    /// - Returns: the leases, or the run's exit status after what was leased was given back.
    static func acquireLeases(
        _ names: [String], from source: RunLeaseSource, signals: SignalWatcher,
        output: @escaping @Sendable (String) -> Void
    ) async -> Result<[RunLease], ExitStatus> {
        var leases: [RunLease] = []
        let interrupted = Mutex(false)
        let watcher = Task { if await signals.next() != nil { interrupted.withLock { $0 = true } } }
        defer { watcher.cancel() }
        let deadline = ContinuousClock.now + .seconds(120)
        for name in names {
            while true {
                if interrupted.withLock({ $0 }) {
                    output("interrupted while waiting for an instance; released what was leased")
                    _ = await release(leases)
                    return .failure(ExitStatus(130))
                }
                do throws(K8sEnvError) {
                    if let lease = try await source.tryAcquire(name, .seconds(1)) {
                        leases.append(lease)
                        break
                    }
                    guard ContinuousClock.now < deadline else {
                        throw K8sEnvError(.acquireTimeout, "no instance of \(name) became free within 2 minutes")
                    }
                } catch {
                    output("error: \(error.message)")
                    _ = await release(leases)
                    return .failure(ExitStatus(1))
                }
            }
        }
        watcher.cancel()
        if interrupted.withLock({ $0 }) {
            output("interrupted while waiting for an instance; released what was leased")
            _ = await release(leases)
            return .failure(ExitStatus(130))
        }
        return .success(leases)
    }

    /// A run's exit status as a failure of ``acquireLeases(_:from:signals:output:)``.
    struct ExitStatus: Error {
        var code: Int32
        init(_ code: Int32) { self.code = code }
    }

    /// Gives every lease back (mode reset).
    /// - Returns: what could not be released, `instance: why`.
    static func release(_ leases: [RunLease]) async -> [String] {
        var problems: [String] = []
        for lease in leases {
            if let problem = await lease.release() { problems.append("\(lease.instance): \(problem)") }
        }
        return problems
    }

    /// After a failed command: each lease's mutating requests (``AuditReport/section(instance:events:log:)``),
    /// the same lines for a run of its own and an attached one; a hint when no leased instance audits.
    /// - Returns: whether a leased instance audits (a run of its own then keeps its logs).
    static func reportAudit(_ leases: [RunLease], output: @Sendable (String) -> Void) async -> Bool {
        var lines: [String] = []
        var audited = false
        for lease in leases {
            guard let log = lease.auditLog, let events = await lease.events() else { continue }
            audited = true
            lines += AuditReport.section(instance: lease.instance, events: events, log: log)
        }
        guard audited else {
            output(auditHint)
            return false
        }
        printAuditReport(lines, output: output)
        return true
    }
}
