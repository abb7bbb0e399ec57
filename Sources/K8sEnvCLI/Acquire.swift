import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

/// `k8senv acquire`: a lease of an instance from the pool service, for scripts.
struct Acquire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Lease an instance from the pool service of a running `k8senv up` (for scripts and tests in any language).",
        discussion: """
            Prints `export KUBECONFIG=…`, `export K8SENV_LEASE=…`, `export K8SENV_INSTANCE=…`, `export K8SENV_SERVER=…` \
            and, per user of the config's `users`, `export K8SENV_KUBECONFIG_<USER>=…` lines for `eval "$(k8senv acquire)"` \
            (and K8SENV_WEBHOOK_HOST, K8SENV_WEBHOOK_PORT and K8SENV_WEBHOOK_CERT_DIR when the environment has webhooks). \
            The lease is held for the parent process (the shell that evals it; past a subshell forked for a command \
            substitution, as in `x=$(k8senv acquire 2>/dev/null)`, the shell it was forked from) unless --holder names another: \
            it ends when that process exits, or with `k8senv release`. The service refuses pid 1, itself, and an ancestor of it \
            from another session (they never exit). The socket is $K8SENV_POOL, else the state folder's pool.sock.
            """
    )

    @OptionGroup var config: ConfigFileOption

    @Option(
        name: [.short, .customLong("environment")],
        help: "The environment (may be omitted when the service serves one).")
    var environment: String?

    @Option(help: "Seconds to wait for a free instance.")
    var timeout: Double = 60

    @Option(
        help:
            "The process whose exit ends the lease (default: the parent of this command, past forked subshells; in a script, `--holder $$` names the script)."
    )
    var holder: Int32?

    @Option(help: "Seconds after which the lease ends even if its holder lives.")
    var ttl: Double?

    @OptionGroup var state: StateOptions

    @Option(help: "Output format: env (export lines) or json (the service's answer).")
    var format: LeaseFormat = .env

    enum LeaseFormat: String, ExpressibleByArgument, CaseIterable { case env, json }

    func validate() throws {
        if !(timeout >= 0) { throw ValidationError("--timeout must be 0 or more seconds") }
        if let ttl, !(ttl > 0) { throw ValidationError("--ttl must be more than 0 seconds") }
        if let holder, holder <= 0 { throw ValidationError("--holder must be a process id") }
    }

    func run() async throws {
        let client = PoolClient(socketPath: PoolClient.locate(stateFolder: state.folder(for: config.file).path))
        let body = try JSONEncoder().encode(
            LeaseRequest(
                environment: environment, timeoutSeconds: timeout, holder: holder ?? Holder.defaultHolder(),
                ttlSeconds: ttl))
        let answer = try await client.send(
            "POST", "/v1/leases", body: Array(body), timeout: .seconds(Int64(timeout) + 60))
        guard answer.status == 201 else { throw refusal(answer) }
        switch format {
        case .json:
            print(String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        case .env:
            guard let granted = LeaseGrant.decode(answer.body) else { throw refusal(answer) }
            let users = granted.sortedUsers.map { (KubeconfigVariables.leasedUser($0.name), $0.user.kubeconfig) }
            for (key, value) in [
                ("KUBECONFIG", granted.kubeconfig), ("K8SENV_LEASE", granted.lease),
                ("K8SENV_INSTANCE", granted.instance), ("K8SENV_SERVER", granted.server),
            ]
                + users + (granted.webhook.map(\.exports) ?? [])
            {
                print("export \(key)=\(Lifecycle.shellQuote(value))")
            }
        }
    }
}

/// `k8senv release`: ends a lease.
struct Release: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End a lease of the pool service: the instance is reset for its next holder.",
        discussion: "LEASE defaults to $K8SENV_LEASE (what `eval \"$(k8senv acquire)\"` exports)."
    )

    @OptionGroup var config: ConfigFileOption

    @Argument(help: "The lease id (default: $K8SENV_LEASE).")
    var lease: String?

    @Option(
        help:
            "reset (back to the state it was lent in), clean (delete through the API what was created), stop (the pool replaces the instance) or keep (written as a post-mortem bundle into postmortem.dir, then reset)."
    )
    var mode: String = "reset"

    @OptionGroup var state: StateOptions

    func validate() throws {
        if ReleaseMode(rawValue: mode) == nil && mode != "keep" {
            throw ValidationError("--mode must be reset, clean, stop or keep")
        }
    }

    func run() async throws {
        guard let id = lease ?? ProcessInfo.processInfo.environment["K8SENV_LEASE"].flatMap({ $0.isEmpty ? nil : $0 })
        else {
            throw ValidationError("name the lease, or export K8SENV_LEASE (eval \"$(k8senv acquire)\" does)")
        }
        guard id.allSatisfy({ $0.isHexDigit }), !id.isEmpty else {
            throw ValidationError("\(id) is not a lease id (32 hex digits)")
        }
        let client = PoolClient(socketPath: PoolClient.locate(stateFolder: state.folder(for: config.file).path))
        let answer = try await client.send("DELETE", "/v1/leases/\(id)?mode=\(mode)")
        guard answer.status == 200 else { throw refusal(answer) }
        struct Released: Decodable {
            var instance: String
            var replaced: Bool
            var bundle: String?
        }
        if let released = try? JSONDecoder().decode(Released.self, from: Data(answer.body)) {
            printError(
                "released \(id) (\(released.instance)\(released.replaced ? ": its reset failed, the pool replaces it" : ""))"
            )
            if let bundle = released.bundle { printLine(bundle) }
        }
    }
}

/// An error answer of the pool service as the error a command reports.
func refusal(_ answer: PoolClient.Answer) -> K8sEnvError {
    guard let (code, message) = answer.error else {
        return K8sEnvError(
            .refused,
            "the pool service answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
    }
    return K8sEnvError(.refused, "\(message) (\(code))")
}
