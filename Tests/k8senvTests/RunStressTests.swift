import Foundation
import K8sEnvTestSupport
import Testing

/// `k8senv run` many times in a row on the embedded store while clients keep talking to the
/// instance across each teardown: kubectl polling kube-apiserver throughout, and on some runs a
/// client opening HTTP/2 connections to the store's own socket. The store lives in the k8senv
/// process; a stop that drops a connection unfinished killed it (exit 132, SIGILL) instead of
/// ending with the command's status.
///
/// K8SENV_STRESS_RUNS sets how many runs (default 24, the suite's share of CI time; the first
/// third of them also under a connection hammer on the store's socket). `scripts/bench/stress-stop.sh`
/// runs 150: 100 with kubectl polling, 50 of them more with the hammer too (issue #11's counts).
@Suite(
    "k8senv run under clients across teardown (embedded store)", .tags(.integration), .serialized,
    .timeLimit(.minutes(30)))
struct RunStressTests {
    static var runs: Int { Int(ProcessInfo.processInfo.environment["K8SENV_STRESS_RUNS"] ?? "") ?? 24 }

    @Test("every run ends with its command's status; nothing is left running")
    func manyRuns() async throws {
        _ = try RealBinaries.require()
        // The store is the embedded one whatever K8SENV_STORAGE says: it is what lives in k8senv.
        let config = Workspace.smallConfig().replacingOccurrences(of: "${K8SENV_STORAGE:-embedded}", with: "embedded")
        // No slot: it runs one kube-apiserver at a time for minutes, and the other suites'
        // time limits count their wait for a slot.
        try await Workspace.with(config: config, name: "run-stress", apiServers: false) { ws in
            // kubectl polls whichever instance is up, for the whole test (the command copies
            // its kubeconfig to kubeconfig.current, which outlives the run).
            let poller = try ws.launch(
                "/bin/sh",
                [
                    "-c",
                    """
                    while :; do
                      [ -f kubeconfig.current ] && kubectl --kubeconfig kubeconfig.current --request-timeout=2s get namespaces -o name >/dev/null 2>&1
                      [ -f stop-polling ] && exit 0
                      sleep 0.1
                    done
                    """,
                ])
            let hammer = ConnectionHammer(threads: 1)
            defer { hammer.finish() }
            let hammered = Self.runs / 3
            for run in 1...Self.runs {
                try? FileManager.default.removeItem(atPath: ws("go"))
                let status = Int32(run % 100 + 1)
                let child = try ws.start([
                    "run", "-f", "k8senv.yaml", "--", "sh", "-c",
                    "cp \"$KUBECONFIG\" kubeconfig.current; touch ready; while [ ! -e go ]; do sleep 0.02; done; exit \(status)",
                ])
                while !FileManager.default.fileExists(atPath: ws("ready")) {
                    if let exit = child.termination {
                        Issue.record("run \(run): k8senv \(exit) before its command started\n\(child.stderr)")
                        return
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                try? FileManager.default.removeItem(atPath: ws("ready"))
                // Run 1 builds the snapshot (a second store, briefly): the hammer starts at run 2.
                if (2...hammered + 1).contains(run) {
                    // The store (in the k8senv process itself) is the one kube-apiserver dials.
                    let pid = ws.recordedPIDs().first ?? 0
                    let commandLine = String(
                        decoding: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data(), as: UTF8.self)
                    let sockets = commandLine.split(separator: "\0").compactMap { argument -> String? in
                        guard argument.hasPrefix("--etcd-servers=unix://") else { return nil }
                        return String(argument.dropFirst("--etcd-servers=unix://".count))
                    }
                    try #require(sockets.count == 1, "run \(run): no --etcd-servers=unix://… in \(commandLine)")
                    let target = ConnectionHammer.Target.unixSocket(sockets[0])
                    hammer.target(target)
                    while hammer.opened(on: target) < 2 { try await Task.sleep(for: .milliseconds(5)) }
                }
                FileManager.default.createFile(atPath: ws("go"), contents: nil)
                let outcome = try await ws.finish(child)
                hammer.target(nil)
                #expect(outcome.exit == .exited(status), "run \(run): \(outcome)")
                #expect(!outcome.stderr.contains("Fatal error"), "run \(run): \(outcome.stderr)")
                if outcome.exit != .exited(status) { break }
            }
            FileManager.default.createFile(atPath: ws("stop-polling"), contents: nil)
            _ = try await poller.wait(timeout: .seconds(30))
            let counts = hammer.finish()
            #expect(counts.total >= 2 * hammered, "the hammer opened \(counts.total) connections")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
        }
    }
}
