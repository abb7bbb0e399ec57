import ArgumentParser
import Foundation
import K8sEnvRunner

/// `diff --format json`: one entry an instance, in the run's order.
struct DiffOutput: Encodable {
    var instances: [InstanceDiff]
}

struct Diff: AsyncParsableCommand, ErrorExitStatus {
    static let configuration = CommandConfiguration(
        abstract:
            "Show what changed in a running run's instances since they were handed out: objects created, changed (field by field) and deleted.",
        discussion: "Exit status: 0 nothing changed, 1 something changed, 2 an error (as diff and kubectl diff).")

    @OptionGroup var config: ConfigFileOption

    @Argument(
        help:
            "An instance of the run (e.g. base-0); every instance when left out. The run: the detached `up`, else a `k8senv run` under way (also from inside its command)."
    )
    var instance: String?

    @OptionGroup var state: StateOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(
        help:
            "Show everything: also events, kube-node-lease and kube-system leases, the kubernetes service's endpoints, and each object's status and metadata.generation."
    )
    var all = false

    static let errorExitStatus: Int32 = 2

    func run() async throws {
        let diffs = try await compute()
        switch format {
        case .text: print(diffs.map(\.text).joined(separator: "\n"))
        case .json: printJSON(DiffOutput(instances: diffs))
        }
        if diffs.contains(where: { !$0.changes.isEmpty }) { throw ExitCode(1) }
    }

    private func compute() async throws(K8sEnvError) -> [InstanceDiff] {
        guard let record = state.folder(for: config.file).liveRun() else {
            throw K8sEnvError(
                .notRunning,
                "no k8senv up (detached or not) and no k8senv run is running for \(config.file); \(Lifecycle.startAdvice(config: config.file))"
            )
        }
        var selected = record.instances
        if let instance {
            selected = selected.filter { $0.name == instance }
            guard !selected.isEmpty else {
                throw K8sEnvError(
                    .notRunning,
                    "instance \"\(instance)\" is not running (running: \(record.instances.map(\.name).joined(separator: ", ")))"
                )
            }
        }
        var diffs: [InstanceDiff] = []
        for instance in selected {
            diffs.append(try await StateDiff.diff(instance, filter: StateDiff.Filter(all: all)))
        }
        return diffs
    }
}
