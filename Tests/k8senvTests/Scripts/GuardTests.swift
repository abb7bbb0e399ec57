import Foundation
import Testing

/// scripts/lib/guard.sh, which scripts/test.sh wraps around every test run: what a test run
/// leaves running (after a crash, say) is named, killed, and fails the run.
@Suite("The test runs' guard", .tags(.integration), .timeLimit(.minutes(1)))
struct GuardTests {
    @Test(
        "a command that leaves a process behind fails the guard, which names and kills it; a clean one passes with its status"
    )
    func leftovers() async throws {
        try await Workspace.with(name: "guard", apiServers: false) { ws in
            let token = "k8senv-guard-test-\(UUID().uuidString.prefix(8))"
            // The child leaves `sleep` running in its own session, as a detached supervisor is.
            let leaky = try await bash(
                ws,
                """
                . '\(Repository.root)/scripts/lib/guard.sh'
                guarded sh -c 'setsid bash -c "exec -a \(token) sleep 300" </dev/null >/dev/null 2>&1 & exit 0'
                """)
            #expect(leaky.status == 1, "\(leaky)")
            #expect(leaky.stderr.contains("still running") && leaky.stderr.contains(token), "\(leaky)")
            // SIGKILLed by the guard: gone once the kernel has delivered it.
            let gone = try await eventually(within: .seconds(5)) { Procfs.processes(mentioning: token).isEmpty }
            #expect(gone, "\(Procfs.processes(mentioning: token))")

            let clean = try await bash(ws, ". '\(Repository.root)/scripts/lib/guard.sh'; guarded sh -c 'exit 3'")
            #expect(clean.status == 3, "\(clean)")
            #expect(clean.stderr.contains("nothing left running"), "\(clean)")
        }
    }

    private func bash(_ ws: Workspace, _ script: String) async throws -> Outcome {
        try await ws.finish(ws.launch("/bin/bash", ["-c", script]))
    }
}
