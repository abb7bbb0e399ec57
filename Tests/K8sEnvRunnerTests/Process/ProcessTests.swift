import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Child processes", .tags(.fast))
struct ProcessTests {
    @Test("a process runs, writes its log, and reports its exit status")
    func exitStatus() async throws {
        let dir = try TemporaryDirectory()
        let log = dir.path + "/out.log"
        let process = try ChildProcess.launch(
            executable: "/bin/sh", arguments: ["-c", "echo hello; echo oops >&2; exit 3"],
            environment: [:], logPath: log)
        #expect(await process.waitForExit() == .exited(3))
        #expect(process.logTail() == "hello\noops")
        let mode = try FileManager.default.attributesOfItem(atPath: log)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a program that does not exist is a not-found error naming it")
    func missingProgram() throws {
        let dir = try TemporaryDirectory()
        #expect {
            try ChildProcess.launch(
                executable: dir.path + "/nope", arguments: [], environment: [:], logPath: dir.path + "/log")
        } throws: { error in
            let e = error as! ProcessError
            return e.code == .notFound && e.description.contains(dir.path + "/nope")
        }
    }

    @Test("stop sends SIGTERM, then SIGKILL after the grace, to the whole group")
    func stopEscalates() async throws {
        let dir = try TemporaryDirectory()
        // The shell ignores SIGTERM and starts a grandchild that would outlive it.
        let process = try ChildProcess.launch(
            executable: "/bin/sh",
            arguments: ["-c", "trap '' TERM; sleep 300 & echo $! > \(dir.path)/grandchild; wait"],
            environment: [:], logPath: dir.path + "/log")
        var grandchild: Int32?
        for _ in 0..<100 where grandchild == nil {
            grandchild = (try? String(contentsOfFile: dir.path + "/grandchild", encoding: .utf8))
                .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            try await Task.sleep(for: .milliseconds(20))
        }
        let sleeper = try #require(grandchild)
        #expect(isRunning(sleeper))
        let termination = await process.stop(grace: .milliseconds(300))
        #expect(termination == .signaled(SIGKILL))
        // SIGKILL is sent to the group at once; the grandchild is gone once the kernel has run its
        // exit, which on a loaded machine can take longer than any fixed sleep.
        for _ in 0..<250 where isRunning(sleeper) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!isRunning(sleeper), "the grandchild in the group was killed too")
    }

    @Test("a process that stops on SIGTERM ends cleanly within the grace")
    func stopClean() async throws {
        let dir = try TemporaryDirectory()
        let process = try ChildProcess.launch(
            executable: "/bin/sleep", arguments: ["300"], environment: [:], logPath: dir.path + "/log")
        #expect(await process.stop(grace: .seconds(5)) == .signaled(SIGTERM))
    }

    @Test(
        "a stop asked for by a cancelled task (an interrupted start) still gives the grace and returns only once the process has ended"
    )
    func stopWhenCancelled() async throws {
        let dir = try TemporaryDirectory()
        // Ends on SIGTERM with its own status, after a short clean-up of its own.
        let process = try ChildProcess.launch(
            executable: "/bin/sh", arguments: ["-c", "trap 'sleep 0.3; exit 7' TERM; while :; do sleep 0.05; done"],
            environment: [:], logPath: dir.path + "/log")
        let stopper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            let termination = await process.stop(grace: .seconds(10))
            return (termination, isRunning(process.pid))
        }
        let (termination, stillRunning) = await stopper.value
        #expect(termination == .exited(7), "the grace was skipped: \(termination)")
        #expect(!stillRunning)
    }

    @Test("arguments reach the program unchanged: no shell in between")
    func noShell() async throws {
        let dir = try TemporaryDirectory()
        let tricky = ["$(touch \(dir.path)/pwned)", "a b", "'quoted'", "; rm -rf /"]
        let process = try ChildProcess.launch(
            executable: "/usr/bin/printf", arguments: ["%s\\n"] + tricky,
            environment: [:], logPath: dir.path + "/log")
        #expect(await process.waitForExit() == .exited(0))
        #expect(process.logTail() == tricky.joined(separator: "\n"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/pwned"))
    }
}
