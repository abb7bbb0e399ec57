import Foundation

/// One environment's lease of `k8senv run`, wherever it came from: the pools of a run of its own
/// (in-process, through its ``PoolService``) or the pool service of a detached `up` it attached
/// to. The command's variables are built from the leases (``exports(_:poolSocket:)``), its
/// failure report reads their audit, and the run gives them back before it ends.
struct RunLease: Sendable {
    var environment: String
    /// The leased instance's name (`base-0`).
    var instance: String
    /// What the command is given of it: the lease's own kubeconfigs (admin and users), webhook.
    var exported: RunRecord.ExportedInstance
    /// The instance's audit log, nil when it writes none.
    var auditLog: String?
    /// The requests the instance received during the lease; nil when they cannot be told (the
    /// instance does not audit, or the service did not answer).
    let events: @Sendable () async -> [AuditEvent]?
    /// Gives the instance back (mode reset): nil, or why that failed.
    let release: @Sendable () async -> String?

    /// What a lease of `k8senv run` is held for, as the service names it to a test whose
    /// acquire times out.
    static let purpose = "`k8senv run` as its command's KUBECONFIG"

    /// The command's variables: ``RunRecord/exports(_:poolSocket:)`` of the leases, in order.
    static func exports(_ leases: [RunLease], poolSocket: String?) -> [(String, String)] {
        RunRecord.exports(leases.map(\.exported), poolSocket: poolSocket)
    }
}

/// Where `k8senv run` takes its leases from.
struct RunLeaseSource: Sendable {
    /// The pool service the command's tests lease from (`K8SENV_POOL`).
    var poolSocket: String?
    /// One try: a lease of the environment, or nil when no instance became free within the
    /// duration.
    let tryAcquire: @Sendable (_ environment: String, _ timeout: Duration) async throws(K8sEnvError) -> RunLease?

    /// A run of its own: leases of the session's pools, held through its pool service so that
    /// the service counts them (status shows them leased; a test's acquire that times out is
    /// told who holds the instance).
    static func session(_ service: PoolService) -> RunLeaseSource {
        RunLeaseSource(poolSocket: service.socketPath) { environment, timeout throws(K8sEnvError) in
            guard let (id, lease) = try await service.lendOwn(environment, timeout: timeout, purpose: RunLease.purpose)
            else { return nil }
            let users = lease.terms.users.map { RunRecord.UserRecord(name: $0.name, kubeconfig: $0.kubeconfigPath) }
            return RunLease(
                environment: environment, instance: lease.id,
                exported: RunRecord.ExportedInstance(
                    environment: environment, kubeconfig: lease.kubeconfigPath,
                    users: users, webhook: lease.webhook),
                auditLog: lease.terms.auditLogPath,
                events: { lease.audits ? lease.auditEvents() : nil },
                release: { await service.endOwn(id) })
        }
    }

    /// An attached run: leases of the pool service at `socket` (a detached `up`'s), each held by
    /// this process.
    static func service(_ socket: String) -> RunLeaseSource {
        let client = PoolClient(socketPath: socket)
        return RunLeaseSource(poolSocket: socket) { environment, timeout throws(K8sEnvError) in
            let request = LeaseRequest(
                environment: environment, timeoutSeconds: Double(timeout.components.seconds), holder: getpid(),
                purpose: RunLease.purpose)
            let body: [UInt8]
            do { body = Array(try JSONEncoder().encode(request)) } catch {
                throw K8sEnvError(.refused, "the lease request could not be encoded: \(error)")
            }
            let answer = try await client.send("POST", "/v1/leases", body: body, timeout: .seconds(60))
            if answer.status == 503, answer.errorCode == .acquireTimeout { return nil }
            guard answer.status == 201, let granted = LeaseGrant.decode(answer.body) else {
                throw K8sEnvError(
                    .refused,
                    answer.error.map { "\($0.message) (\($0.code))" } ?? "the pool service answered \(answer.status)")
            }
            // The instance folder: the lease's kubeconfig is in its leases/<n>/.
            let folder = ((granted.caFile as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
            let users = granted.sortedUsers.map { RunRecord.UserRecord(name: $0.name, kubeconfig: $0.user.kubeconfig) }
            return RunLease(
                environment: environment, instance: granted.instance,
                exported: RunRecord.ExportedInstance(
                    environment: environment, kubeconfig: granted.kubeconfig,
                    users: users, webhook: granted.webhook),
                auditLog: AuditLog.path(inInstanceFolder: folder),
                events: {
                    struct Events: Decodable { var events: [AuditEvent] }
                    guard
                        let answer = try? await client.send(
                            "GET", "/v1/leases/\(granted.lease)/audit", timeout: .seconds(30)),
                        answer.status == 200
                    else { return nil }
                    return (try? JSONDecoder().decode(Events.self, from: Data(answer.body)))?.events
                },
                release: {
                    do throws(K8sEnvError) {
                        let answer = try await client.send("DELETE", "/v1/leases/\(granted.lease)?mode=reset")
                        return answer.status == 200 ? nil : answer.error?.message ?? "status \(answer.status)"
                    } catch {
                        return error.message
                    }
                })
        }
    }
}
