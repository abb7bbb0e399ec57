import ArgumentParser
import Foundation
import K8sEnvRunner

/// `audit --format json`.
struct AuditOutput: Encodable {
    var runDirectory: String
    var events: [AuditEvent]
}

enum AuditFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the requests the instances received, from their audit logs (needs `audit:` in k8senv.yaml).",
        discussion:
            "Reads the run of a detached `k8senv up`, else the newest run folder with audit logs in the state folder (a `k8senv run` under way, or one whose failed command kept its logs), or the folder given with --run. Oldest first; one line per request."
    )

    @OptionGroup var config: ConfigFileOption

    @Argument(help: "An instance (base-0); all instances of the run when absent.")
    var instance: String?

    @Option(
        help:
            "Only requests since then: a Go duration back from now (5m, 90s) or an RFC 3339 time (2026-12-01T19:29:41Z)."
    )
    var since: String?

    @Option(help: "Output format: table or json.")
    var format: AuditFormat = .table

    @OptionGroup var state: StateOptions

    @Option(name: .customLong("run"), help: "A run folder to read (as `run` names it when its command failed).")
    var runDirectory: String?

    func validate() throws {
        if let since, AuditSince.parse(since) == nil {
            throw ValidationError(
                "--since \(since): give a Go duration (5m, 90s) or an RFC 3339 time (2026-12-01T19:29:41Z)")
        }
    }

    func run() throws {
        let state = self.state.folder(for: config.file)
        guard let run = runDirectory ?? state.auditedRun() else {
            throw K8sEnvError(
                .notRunning,
                "no audit logs in \(state.path): start a detached `k8senv up` (or `k8senv run`) of a config with `audit:`, or give --run"
            )
        }
        let instances = AuditLog.instances(inRun: run).map(\.name)
        if instances.isEmpty {
            throw K8sEnvError(.notRunning, "\(run) holds no audit logs (does the config have `audit:`?)")
        }
        if let instance, !instances.contains(instance) {
            throw K8sEnvError(
                .notRunning,
                "no audit log of instance \"\(instance)\" in \(run) (instances: \(instances.joined(separator: ", ")))")
        }
        let events = AuditLog.read(run: run, instance: instance, since: since.flatMap { AuditSince.parse($0) })
        switch format {
        case .table:
            for line in AuditTable.render(events, showInstance: instance == nil) { print(line) }
        case .json:
            printJSON(AuditOutput(runDirectory: run, events: events))
        }
    }
}
