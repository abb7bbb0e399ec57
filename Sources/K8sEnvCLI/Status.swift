import ArgumentParser
import Foundation
import K8sEnvRunner

/// `status --format json`; `pid` is left out when nothing runs.
struct StatusOutput: Encodable {
    struct Item: Encodable {
        var name, environment: String
        var healthy: Bool
        var server, kubeconfig: String
        /// When the instance started (a replacement: when the pool started it).
        var since: Date?
    }
    var running: Bool
    var pid: Int32?
    var instances: [Item]
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the running detached environments and whether each instance is healthy.")

    @OptionGroup var config: ConfigOptions

    @OptionGroup var state: StateOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let state = self.state.folder(for: config.file)
        guard let record = state.current() else {
            if format == .json {
                printJSON(StatusOutput(running: false, pid: nil, instances: []))
            } else {
                print("not running")
            }
            return
        }
        var rows: [(RunRecord.InstanceRecord, Bool)] = []
        for instance in record.instances {
            // Alive is not enough: a stopped (SIGSTOP) kube-apiserver has a pid and answers nothing.
            let alive =
                StateFolder.isAlive(instance.apiServerPID) && StateFolder.isAlive(instance.storagePID)
                && (instance.controllerManagerPID.map(StateFolder.isAlive) ?? true)
            rows.append((instance, alive ? await instance.isReady() : false))
        }
        switch format {
        case .text:
            print("running (pid \(record.ownerPID), since \(Self.time(record.startedAt)))")
            for (instance, healthy) in rows {
                let since = instance.startedAt.map { "  since \(Self.time($0))" } ?? ""
                print(
                    "  \(instance.name)  \(healthy ? "up" : "DOWN")  \(instance.server)  \(instance.kubeconfig)\(since)"
                )
            }
        case .json:
            printJSON(
                StatusOutput(
                    running: true, pid: record.ownerPID,
                    instances: rows.map { instance, healthy in
                        StatusOutput.Item(
                            name: instance.name, environment: instance.environment, healthy: healthy,
                            server: instance.server, kubeconfig: instance.kubeconfig, since: instance.startedAt)
                    }))
        }
    }

    /// A time as status prints it: RFC 3339 in UTC, to the millisecond (one word).
    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
