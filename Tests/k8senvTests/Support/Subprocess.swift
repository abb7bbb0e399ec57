import Foundation
import K8sEnvTestSupport

/// How a child ended.
enum Exit: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// A child process started with posix_spawn: default signal dispositions and an empty signal
/// mask (so the signals a test sends arrive as a user's would), stdin from /dev/null, stdout and
/// stderr into files (never a pipe nobody drains). Waiting polls `waitpid(pid, WNOHANG)` with
/// short sleeps, so a waiting test never blocks a thread of the cooperative pool.
final class Subprocess: @unchecked Sendable {
    // @unchecked: `exit` is read and written under `lock`; the other fields are immutable.
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    let command: [String]
    private let lock = NSLock()
    private var exit: Exit?

    /// Starts `executable` in `directory` (through `sh -c 'cd … && exec …'`, since Swift does not
    /// import posix_spawn_file_actions_addchdir_np; `exec` keeps the pid the program's).
    init(
        _ executable: String, _ arguments: [String], in directory: String, environment: [String: String],
        outputPrefix: String
    ) throws {
        stdoutPath = outputPrefix + ".stdout"
        stderrPath = outputPrefix + ".stderr"
        command = [executable] + arguments
        let argv =
            ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "k8senv-test", directory, executable] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var child: pid_t = 0
        let result = Self.withCStrings(argv) { argvPointer in
            Self.withCStrings(envp) { envPointer in
                posix_spawn(&child, "/bin/sh", &actions, &attributes, argvPointer, envPointer)
            }
        }
        guard result == 0 else {
            throw FixtureError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        pid = child
    }

    /// How it ended, or nil while it runs (reaps it when it has ended).
    var termination: Exit? {
        lock.withLock {
            if let exit { return exit }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            guard r == pid else { return nil }
            exit = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            return exit
        }
    }

    /// Waits until it ends; after `timeout`, SIGKILLs it and throws. The default only catches a
    /// hang: a cold `up` of the example takes 16 s alone, and five times that beside the other
    /// tests on a 2-core CI machine.
    @discardableResult
    func wait(timeout: Duration = .seconds(300)) async throws -> Exit {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let termination { return termination }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                throw FixtureError(
                    "\(command.joined(separator: " ")) did not finish within \(timeout)\nstdout: \(stdout)\nstderr: \(stderr)"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// SIGKILL unless it already ended, then reap.
    func kill9AndReap() {
        if termination == nil {
            kill(pid, SIGKILL)
            while termination == nil { usleep(5_000) }
        }
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R)
        -> R
    {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// What a finished k8senv printed, and how it ended.
struct Outcome: CustomStringConvertible {
    var exit: Exit
    var stdout: String
    var stderr: String

    var status: Int32? { if case .exited(let code) = exit { code } else { nil } }
    var description: String { "\(exit)\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)" }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; whether it held.
func eventually(within timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(50))
    }
}
