import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvStore
import K8sEnvTestSupport
import Synchronization
import Testing

/// `kubectl get --watch --output-watch-events` in the background (started as k8senv starts its
/// children: own process group, default signal handling), its output in a file. Each line is a
/// watch event: custom columns name fields of `.type` and `.object`.
final class KubectlWatch: Sendable {
    let output: String
    private let process: ChildProcess

    init(kubeconfig: String, cacheDirectory: String, arguments: [String]) throws {
        let kubectl = try #require(TestBinaries.kubectl, "kubectl is needed")
        output = cacheDirectory + "-watch-\(UUID().uuidString).txt"
        process = try ChildProcess.launch(
            executable: kubectl,
            arguments: [
                "--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory, "get", "--watch", "--output-watch-events",
                "--no-headers",
            ] + arguments,
            environment: ProcessInfo.processInfo.environment, logPath: output)
    }

    var state: String {
        process.termination.map { "kubectl \($0)" } ?? "kubectl running, output \(output)"
    }

    var lines: [String] {
        (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        } ?? []
    }

    /// Waits (up to 30 s) until the output has every line of `expected`, as often as it is listed.
    func waitFor(_ expected: [String]) async throws -> Bool {
        for _ in 0..<300 {
            let seen = Dictionary(lines.map { ($0, 1) }, uniquingKeysWith: +)
            let wanted = Dictionary(expected.map { ($0, 1) }, uniquingKeysWith: +)
            if wanted.allSatisfy({ seen[$0.key, default: 0] >= $0.value }) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func stop() async {
        await process.stop(grace: .seconds(2))
        try? FileManager.default.removeItem(atPath: output)
    }
}
