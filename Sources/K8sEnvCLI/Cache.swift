import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

struct Cache: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Inspect, prune, export and import the snapshot cache (${XDG_CACHE_HOME:-~/.cache}/k8senv/snapshots).",
        subcommands: [List.self, Prune.self, Path.self, Export.self, Import.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the cached snapshots.")

        @Option(help: "Output format: text or json.")
        var format: OutputFormat = .text

        /// Rows as columns as wide as their widest cell (never cut: `embedded` stays whole).
        static func table(_ rows: [[String]]) -> [String] {
            let widths = rows.reduce(into: [Int]()) { widths, row in
                for (i, cell) in row.enumerated() {
                    if i < widths.count { widths[i] = max(widths[i], cell.count) } else { widths.append(cell.count) }
                }
            }
            return rows.map { row in
                row.enumerated().map { i, cell in
                    i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
                }.joined(separator: "  ")
            }
        }

        func run() {
            let entries = SnapshotStore(root: SnapshotStore.defaultRoot).list()
            switch format {
            case .json:
                printJSON(entries.map(\.metadata))
            case .text:
                if entries.isEmpty {
                    print("no snapshots in \(SnapshotStore.defaultRoot)")
                    return
                }
                let formatter = ISO8601DateFormatter()
                var rows = [
                    ["KEY", "ENVIRONMENT", "STORAGE", "KUBE-APISERVER", "OBJECTS", "SIZE", "BUILT IN", "CREATED"]
                ]
                for e in entries.map(\.metadata) {
                    // meta.json may come from a bundle: its texts are shown, never obeyed by the terminal.
                    let text = ControlCharacters.escaped
                    rows.append([
                        String(e.key.prefix(12)), text(e.environment), text(e.storage), text(e.kubeAPIServerVersion),
                        String(e.objects),
                        "\(e.size / 1024) kB", String(format: "%.1fs", e.buildSeconds),
                        formatter.string(from: e.createdAt),
                    ])
                }
                for line in Self.table(rows) { print(line) }
            }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove cached snapshots (all, or those older than a duration).")

        @Option(help: "Remove only snapshots created longer ago than this Go-style duration (e.g. 168h).")
        var olderThan: String?

        func validate() throws {
            if let olderThan, GoDuration(olderThan) == nil {
                throw ValidationError(
                    "--older-than: \"\(olderThan)\" is not a Go-style duration such as 30m, 24h or 168h")
            }
        }

        func run() {
            let store = SnapshotStore(root: SnapshotStore.defaultRoot)
            store.cleanLeftovers()
            let cutoff = olderThan.flatMap(GoDuration.init).map { Date().addingTimeInterval(-$0.seconds) }
            var removed = 0
            for entry in store.list() where cutoff == nil || entry.metadata.createdAt < cutoff! {
                store.remove(entry.metadata.key)
                removed += 1
            }
            print("removed \(removed) snapshot\(removed == 1 ? "" : "s")")
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the cache folder.")
        func run() { print(SnapshotStore.defaultRoot) }
    }
}
