import Foundation

/// What a supervisor (`k8senv up --supervise`) tells the `up --detach` that started it: one JSON
/// object per line in the state folder's `supervisor.events`. The supervisor's stdout and stderr
/// go to `supervisor.log` for people; nothing is parsed back from that text.
package struct SupervisorEvent: Codable, Sendable, Equatable {
    package enum Kind: String, Codable, Sendable {
        /// A line of the start's progress (`base: … ready in …`, notes): shown as it comes.
        case progress
        /// Why the start failed: shown once the supervisor has ended.
        case error
    }

    package var kind: Kind
    package var text: String

    package init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }
}

/// The supervisor's side: appends events to the file, each in one write.
package final class SupervisorEventWriter: Sendable {
    private let fd: Int32

    /// Creates the file afresh, 0600: whatever had its name (a planted symlink too) is removed
    /// first, and the new file is made with O_EXCL|O_NOFOLLOW, so nothing outside is written.
    package init(path: String) throws(ProcessError) {
        unlink(path)
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ProcessError(.files, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    package func send(_ event: SupervisorEvent) {
        guard var line = try? JSONEncoder().encode(event) else { return }
        line.append(UInt8(ascii: "\n"))
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// The detaching side: the events written since the last read, whole lines only.
package final class SupervisorEventReader: @unchecked Sendable {
    // @unchecked: read from one task at a time.
    let path: String
    private var offset: UInt64 = 0
    private var partial = Data()

    package init(path: String) { self.path = path }

    package func next() -> [SupervisorEvent] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        offset += UInt64(data.count)
        partial.append(data)
        var events: [SupervisorEvent] = []
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            let line = partial[partial.startIndex..<newline]
            partial = Data(partial[partial.index(after: newline)...])
            if let event = try? JSONDecoder().decode(SupervisorEvent.self, from: line) { events.append(event) }
        }
        return events
    }
}

/// `k8senv up --detach`: a supervisor started in a new session runs the same `up` and serves
/// until `k8senv down`; this waits until it is ready, showing its progress.
package enum Detach {
    /// Where the detaching `up` prints: progress and messages to stderr, exports alone to stdout.
    package struct Output: Sendable {
        package var progress: @Sendable (String) -> Void
        package var message: @Sendable (String) -> Void
        package var export: @Sendable (String) -> Void

        package init(
            progress: @escaping @Sendable (String) -> Void, message: @escaping @Sendable (String) -> Void,
            export: @escaping @Sendable (String) -> Void
        ) {
            self.progress = progress
            self.message = message
            self.export = export
        }
    }

    /// The files of a supervisor in its state folder: the options it runs with (JSON), its
    /// events, its log.
    package static func files(_ state: StateFolder) -> (options: String, events: String, log: String) {
        (state.path + "/supervisor.json", state.path + "/supervisor.events", state.path + "/supervisor.log")
    }

    /// Starts `executable up --supervise OPTIONS` (or `command` instead of `up`: `open BUNDLE`)
    /// and waits until it has recorded itself ready (exit 0), failed (1), or SIGINT/SIGTERM
    /// arrived first (it is stopped: 130).
    package static func start(
        _ options: Lifecycle.Options, executable: String, command: [String] = ["up"],
        output: Output
    ) async -> Int32 {
        let state = options.stateFolder
        // One `up --detach` at a time checks the folder and starts a supervisor: held until this
        // one's supervisor is ready (or failed), so a second one then sees it running.
        let lock: Int32
        do { lock = try state.lock() } catch {
            output.message("error: \(error)")
            return 1
        }
        defer { close(lock) }
        for reason in state.cleanStaleRuns().refused { output.message("note: \(reason)") }
        if let running = state.current() {
            output.message(
                "error: a detached k8senv up is already running (pid \(running.ownerPID)); run `k8senv down` first")
            return 1
        }
        let files = files(state)
        for file in [files.log, files.events] { try? FileManager.default.removeItem(atPath: file) }
        let supervisor: ChildProcess
        do {
            let encoded: Data
            do { encoded = try JSONEncoder().encode(options) } catch {
                throw ProcessError(.files, "cannot encode the options: \(error)", cause: error)
            }
            try PrivateFiles.write(String(decoding: encoded, as: UTF8.self) + "\n", to: files.options)
            supervisor = try ChildProcess.launch(
                executable: executable, arguments: command + ["--supervise", files.options],
                environment: ProcessInfo.processInfo.environment, logPath: files.log,
                options: [.newSession])
        } catch {
            output.message("error: \(error)")
            return 1
        }
        let signals = SignalWatcher()
        let events = SupervisorEventReader(path: files.events)
        let errors = ErrorLines()
        func drain() {
            for event in events.next() {
                switch event.kind {
                case .progress: if !options.quiet { output.progress(event.text) }
                case .error: errors.append(event.text)
                }
            }
        }
        enum Outcome: Sendable {
            case ready(RunRecord)
            case failed(Termination)
            case interrupted
        }
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                let ended = await Poll(every: .milliseconds(20)).value { () -> Outcome? in
                    drain()
                    if let record = state.current(), record.ownerPID == supervisor.pid { return .ready(record) }
                    if let termination = supervisor.termination { return .failed(termination) }
                    return nil
                }
                return try? ended.get()  // given up: cancelled (a signal came first)
            }
            group.addTask { await signals.next() != nil ? .interrupted : nil }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        drain()
        switch outcome {
        case .ready(let record)?:
            // stdout carries only the export lines: `eval "$(k8senv up --detach)"` works.
            for line in Lifecycle.summary(record).split(separator: "\n").map(String.init) {
                line.hasPrefix("export ") ? output.export(line) : output.message(line)
            }
            output.message("running in the background (pid \(supervisor.pid)); stop with `k8senv down`")
            return 0
        case .failed(let termination)?:
            let said = errors.all
            if said.isEmpty {
                // It ended without saying why (a crash): what it printed, and how it ended.
                let log = (try? String(contentsOfFile: files.log, encoding: .utf8)) ?? ""
                output.message("error: the supervisor \(termination) before it was ready; the end of \(files.log):")
                for line in log.split(separator: "\n").suffix(20) { output.message("  | \(line)") }
            }
            for text in said { output.message(text) }
            return 1
        case .interrupted?, nil:
            output.message("interrupted: stopping the environments that were starting…")
            supervisor.signalGroup(SIGTERM)
            if await supervisor.waitForExit(timeout: .seconds(60)) == nil {
                supervisor.signalGroup(SIGKILL)  // its children die with it
                _ = await supervisor.waitForExit()
            }
            state.cleanStaleRuns()
            return 130
        }
    }

    /// Reads the options a supervisor was started with.
    package static func options(at path: String) throws(ProcessError) -> Lifecycle.Options {
        guard let data = FileManager.default.contents(atPath: path),
            let options = try? JSONDecoder().decode(Lifecycle.Options.self, from: data)
        else {
            throw ProcessError(.files, "cannot read the supervisor's options from \(path)")
        }
        return options
    }
}

/// Error events, kept until the supervisor has ended.
private final class ErrorLines: @unchecked Sendable {
    // @unchecked: appended to by the waiting loop, read after it ended.
    private(set) var all: [String] = []
    func append(_ line: String) { all.append(line) }
}
