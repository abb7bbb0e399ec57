import CK8sEnvSupport
import Foundation

/// How a process ended.
package enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    package var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "was killed by signal \(signal) (\(Termination.signalName(signal)))"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGKILL: return "SIGKILL"
        case SIGINT: return "SIGINT"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        default: return "signal \(signal)"
        }
    }
}

/// How a child is started.
package struct SpawnOptions: OptionSet, Sendable {
    package let rawValue: Int32
    package init(rawValue: Int32) { self.rawValue = rawValue }
    /// Its own process group, so a stop reaches everything it started.
    package static let newGroup = SpawnOptions(rawValue: Int32(K8SENV_SPAWN_NEW_GROUP))
    /// SIGKILL when k8senv dies, however it dies.
    package static let dieWithParent = SpawnOptions(rawValue: Int32(K8SENV_SPAWN_DIE_WITH_PARENT))
    /// A new session: a detached supervisor that outlives this k8senv.
    package static let newSession = SpawnOptions(rawValue: Int32(K8SENV_SPAWN_NEW_SESSION))
    /// Keep k8senv's standard input (for the command of `k8senv run`).
    package static let inheritStdin = SpawnOptions(rawValue: Int32(K8SENV_SPAWN_INHERIT_STDIN))
    package static let service: SpawnOptions = [.newGroup, .dieWithParent]
}

/// A child process in its own process group, writing stdout and stderr to a log file, that
/// dies with k8senv: it is forked from a thread that lives as long as the child (and waits for
/// it), with SIGKILL as its parent-death signal.
package final class ChildProcess: Sendable {
    package let pid: pid_t
    package let command: [String]
    package let logPath: String?
    private let state: ExitState

    /// Starts a process.
    /// - Parameters:
    ///   - executable: an absolute path (see ``BinaryLocator``).
    ///   - arguments: the arguments after the program name; never passed through a shell.
    ///   - environment: the complete environment of the child.
    ///   - logPath: stdout and stderr are appended here (created 0600); nil keeps k8senv's.
    ///   - options: process group, parent-death signal, session, stdin.
    /// - Throws: ``ProcessError`` if the log cannot be opened or exec fails.
    package static func launch(
        executable: String, arguments: [String], environment: [String: String],
        logPath: String?, workingDirectory: String? = nil, options: SpawnOptions = .service
    ) throws(ProcessError) -> ChildProcess {
        let command = [executable] + arguments
        var logFD: Int32 = -1
        if let logPath {
            logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard logFD >= 0 else {
                throw ProcessError(
                    .files, "cannot open the log file \(logPath): \(String(cString: strerror(errno)))", command: command
                )
            }
        }
        let fd = logFD
        let flags = options.rawValue
        let ownGroup = options.contains(.newGroup) || options.contains(.newSession)
        let state = ExitState()
        let started = DispatchSemaphore(value: 0)
        let spawnResult = SpawnResult()
        let env = environment.map { "\($0.key)=\($0.value)" }
        let thread = Thread {
            var pid: pid_t = -1
            var spawnErrno: Int32 = 0
            // ETXTBSY: the program was just written, and a child another thread of this process
            // forked meanwhile still holds it open for writing until it execs (its descriptors
            // are closed only then). That passes within milliseconds: try again, for up to 2 s.
            _ = Poll(every: .milliseconds(50), for: .seconds(2)).blockingUntil {
                pid = withCStrings(command) { argv in
                    withCStrings(env) { envp in
                        k8senv_spawn(executable, argv, envp, fd, workingDirectory, flags)
                    }
                }
                spawnErrno = pid < 0 ? errno : 0
                return !(pid < 0 && spawnErrno == ETXTBSY)
            }
            spawnResult.set(pid: pid, errno: spawnErrno)
            if fd >= 0 { close(fd) }
            started.signal()
            guard pid > 0 else { return }
            // This thread now waits for the child: the parent-death signal follows the thread
            // that forked it, so the thread must live exactly as long as the child.
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                if errno != EINTR {
                    state.finish(.exited(-1))
                    return
                }
            }
            if (status & 0x7f) == 0 {
                state.finish(.exited((status >> 8) & 0xff))
            } else {
                state.finish(.signaled(status & 0x7f))
            }
        }
        thread.name = "k8senv-child"
        thread.stackSize = 256 * 1024
        thread.start()
        started.wait()
        let (pid, err) = spawnResult.get()
        guard pid > 0 else {
            let reason = String(cString: strerror(err))
            throw ProcessError(
                err == ENOENT ? .notFound : .launchFailed, "cannot start \(executable): \(reason)", command: command)
        }
        return ChildProcess(pid: pid, command: command, logPath: logPath, ownGroup: ownGroup, state: state)
    }

    private init(pid: pid_t, command: [String], logPath: String?, ownGroup: Bool, state: ExitState) {
        self.pid = pid
        self.command = command
        self.logPath = logPath
        self.ownGroup = ownGroup
        self.state = state
    }

    /// Whether signals go to a process group of its own (else to the process alone).
    package let ownGroup: Bool

    /// How the process ended, or nil while it runs.
    package var termination: Termination? { state.current }

    /// Waits until the process ends.
    package func waitForExit() async -> Termination {
        await state.wait()
    }

    /// Waits until the process ends or `timeout` passes.
    package func waitForExit(timeout: Duration) async -> Termination? {
        await withTaskGroup(of: Termination?.self) { group in
            group.addTask { await self.state.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? state.current
        }
    }

    /// Sends a signal to the process's whole group (or the process, without a group of its own).
    package func signalGroup(_ signal: Int32) {
        if ownGroup {
            kill(-pid, signal)  // the group may outlive its leader
        } else if termination == nil {
            kill(pid, signal)
        }
    }

    /// SIGTERM to the group, up to `grace` to exit, then SIGKILL to the group; returns once the
    /// process has ended. A stop is cleanup, so it runs to its end even when the task asking for
    /// it is cancelled (an interrupted start stops what it had started): in a cancelled task the
    /// grace would pass at once and the wait for the exit return early, and the caller could
    /// exit while its child still ran.
    /// - Returns: how it ended; a stop by SIGTERM or SIGKILL counts as clean.
    @discardableResult
    package func stop(grace: Duration) async -> Termination {
        await Task { await self.stopNow(grace: grace) }.value  // a new task: not cancelled
    }

    private func stopNow(grace: Duration) async -> Termination {
        if let done = termination {
            signalGroup(SIGKILL)  // anything it left in its group
            return done
        }
        if grace == .zero {
            signalGroup(SIGKILL)
            return await waitForExit()
        }
        signalGroup(SIGTERM)
        if let done = await waitForExit(timeout: grace) {
            signalGroup(SIGKILL)
            return done
        }
        signalGroup(SIGKILL)
        return await waitForExit()
    }

    /// The last `lines` lines of the log.
    package func logTail(lines: Int = 20) -> String {
        logPath.map { Self.tail(of: $0, lines: lines) } ?? ""
    }

    package static func tail(of path: String, lines: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let window: UInt64 = 64 * 1024
        try? handle.seek(toOffset: size > window ? size - window : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .suffix(lines + 1).joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A ``ProcessError`` for this process, with its log tail.
    package func error(_ code: ProcessError.Code, _ message: String) -> ProcessError {
        ProcessError(code, message, command: command, logTail: logTail(), logPath: logPath)
    }
}

/// The exit of a child, and the tasks waiting for it.
private final class ExitState: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var result: Termination?
    private var waiters: [UUID: CheckedContinuation<Termination, Never>] = [:]
    private var cancelled: Set<UUID> = []

    var current: Termination? { lock.withLock { result } }

    func finish(_ termination: Termination) {
        let toResume = lock.withLock { () -> [CheckedContinuation<Termination, Never>] in
            result = termination
            let all = Array(waiters.values)
            waiters.removeAll()
            return all
        }
        for c in toResume { c.resume(returning: termination) }
    }

    func wait() async -> Termination {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Termination, Never>) in
                let done = lock.withLock { () -> Termination? in
                    if let result { return result }
                    // Cancelled before this waiter was registered: do not wait at all.
                    if cancelled.remove(id) != nil { return .exited(-1) }
                    waiters[id] = c
                    return nil
                }
                if let done { c.resume(returning: done) }
            }
        } onCancel: {
            // Resume a cancelled waiter with a placeholder; callers that cancel ignore it.
            let c = lock.withLock { () -> CheckedContinuation<Termination, Never>? in
                if let c = waiters.removeValue(forKey: id) { return c }
                cancelled.insert(id)
                return nil
            }
            c?.resume(returning: .exited(-1))
        }
    }
}

/// The pid and errno handed from the spawning thread to the caller.
private final class SpawnResult: @unchecked Sendable {
    // @unchecked: written once before a semaphore signal, read after the wait.
    private var pid: pid_t = -1
    private var err: Int32 = 0
    func set(pid: pid_t, errno: Int32) {
        self.pid = pid
        self.err = errno
    }
    func get() -> (pid_t, Int32) { (pid, err) }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for p in pointers { free(p) } }
    var mutable = pointers
    return mutable.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

extension ChildProcess {
    /// The running k8senv's own executable (what a supervisor or the embedded store runs as).
    package static var selfExecutable: String {
        ProcFS.selfExecutable ?? CommandLine.arguments[0]
    }

    /// Waits for the exit and describes it as `NAME: WHAT exited …`; nil at once if the calling
    /// task is cancelled while the process still runs (supervision that was stopped).
    func exitError(_ description: String) async -> ProcessError? {
        let termination = await waitForExit()
        if Task.isCancelled, self.termination == nil { return nil }
        return error(.exited, "\(description) \(termination)")
    }
}
