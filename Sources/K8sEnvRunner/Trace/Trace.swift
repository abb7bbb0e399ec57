import Foundation

/// Where a start's time goes, as a Chrome trace-event file (the JSON array format, which Perfetto
/// and chrome://tracing open): one track per instance (and one for what the run does before and
/// around them), a complete event ("X") for each phase, instant events ("i") for the pool
/// service's acquires and releases.
///
/// Written as it happens: `[` then one event per line, each followed by a comma. The format
/// allows the closing `]` to be missing, so a run killed at any moment leaves a file the viewers
/// open (everything up to the last finished phase); ``finish()`` writes the `]` on a clean exit.
/// A phase is written when it ends, so spans on one track never overlap partly: a phase either
/// holds another (a start holds its store start) or ends before the next begins.
///
/// Code records through the task-local ``current`` (set by ``withRecorder(_:_:)`` around a
/// run), so phases deep in the runner need no parameter to reach the file; with no recorder, a
/// ``span(_:track:_:)`` is the plain call.
package final class Trace: @unchecked Sendable {
    // @unchecked: the descriptor, the track table and the clock origin are behind `lock`.
    private let lock = NSLock()
    private var fd: Int32
    private var tracks: [String: Int] = [:]
    private let origin = ContinuousClock.now
    package let path: String

    /// The process-wide track: what is not one instance's (config load, binary probe).
    package static let runTrack = "k8senv"

    @TaskLocal package static var current: Trace?

    /// Creates (or truncates) `path`, never following a symlink there, and writes the header.
    /// - Throws: ``ProcessError`` naming the path when it cannot be written or is not a regular
    ///   file.
    package init(path: String) throws(ProcessError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "it is a symbolic link" : String(cString: strerror(errno))
            throw ProcessError(.files, "cannot write the trace \(path): \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ProcessError(.files, "cannot write the trace \(path): not a regular file")
        }
        self.fd = fd
        append("[\n")
        lock.withLock { _ = track(Self.runTrack) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Runs `body` with `trace` as ``current`` (nil: no trace), keeping the body's typed error.
    package static func withRecorder<T, E: Error>(_ trace: Trace?, _ body: () async throws(E) -> T) async throws(E) -> T
    {
        let result: Result<T, E> = await $current.withValue(trace) {
            do throws(E) { return .success(try await body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Runs `body` with a new trace at `path` (nil: none) as ``current``: `up`, `run` and `open`
    /// start this way, so the file is refused (a symlink, a missing folder) before anything
    /// starts. The trace is closed here when `body` fails; on success whoever keeps it (the
    /// session's builder) closes it when the run stops.
    /// - Throws: ``K8sEnvError`` naming the file when it cannot be written, or `body`'s error.
    package static func recording<T>(to path: String?, _ body: () async throws(K8sEnvError) -> T)
        async throws(K8sEnvError) -> T
    {
        var trace: Trace?
        if let path {
            do throws(ProcessError) { trace = try Trace(path: path) } catch { throw K8sEnvError(error) }
        }
        do {
            return try await withRecorder(trace) { () async throws(K8sEnvError) in try await body() }
        } catch {
            trace?.finish()
            throw error
        }
    }

    /// Runs `body` as the phase `name` on `track` (an instance's name, or ``runTrack``), recorded
    /// in ``current`` when there is one. `arguments` are shown beside the span (counts, keys).
    /// The body runs on the caller's actor (`isolation`).
    package static func span<T, E: Error>(
        _ name: String, track: String = runTrack, arguments: [String: String] = [:],
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws(E) -> T
    ) async throws(E) -> T {
        guard let trace = current else { return try await body() }
        let start = ContinuousClock.now
        do {
            let value = try await body()
            trace.complete(name, track: track, start: start, end: .now, arguments: arguments)
            return value
        } catch {
            var failed = arguments
            failed["error"] = String(describing: error)
            trace.complete(name, track: track, start: start, end: .now, arguments: failed)
            throw error
        }
    }

    /// A moment on `track` (a lease handed out, a release).
    package static func instant(_ name: String, track: String = runTrack, arguments: [String: String] = [:]) {
        current?.instant(name, track: track, at: .now, arguments: arguments)
    }

    /// Records a phase that ran from `start` to `end`.
    package func complete(
        _ name: String, track: String, start: ContinuousClock.Instant, end: ContinuousClock.Instant,
        arguments: [String: String] = [:]
    ) {
        lock.withLock {
            let tid = self.track(track)
            var event: [String: Any] = [
                "name": name, "cat": "k8senv", "ph": "X", "pid": 1, "tid": tid,
                "ts": micros(start), "dur": max(0, micros(end) - micros(start)),
            ]
            if !arguments.isEmpty { event["args"] = arguments }
            write(event)
        }
    }

    package func instant(
        _ name: String, track: String, at instant: ContinuousClock.Instant, arguments: [String: String] = [:]
    ) {
        lock.withLock {
            var event: [String: Any] = [
                "name": name, "cat": "k8senv", "ph": "i", "s": "t", "pid": 1,
                "tid": self.track(track), "ts": micros(instant),
            ]
            if !arguments.isEmpty { event["args"] = arguments }
            write(event)
        }
    }

    /// Closes the array; the file is complete JSON after this.
    package func finish() {
        lock.withLock {
            guard fd >= 0 else { return }
            // Every event ends with ",\n" (and the track table always wrote some): the last
            // comma is overwritten by the closing bracket.
            if lseek(fd, -2, SEEK_END) >= 0 { writeRaw("\n]\n") } else { writeRaw("]\n") }
            close(fd)
            fd = -1
        }
    }

    // MARK: - Inside the lock

    /// The thread id of `name`'s track, announced with a metadata event the first time.
    private func track(_ name: String) -> Int {
        if let tid = tracks[name] { return tid }
        let tid = tracks.count + 1
        tracks[name] = tid
        if tid == 1 { write(["name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": ["name": "k8senv"]]) }
        write(["name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": ["name": name]])
        write(["name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid, "args": ["sort_index": tid]])
        return tid
    }

    private func micros(_ instant: ContinuousClock.Instant) -> Int64 {
        let elapsed = instant - origin
        return elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
    }

    private func write(_ event: [String: Any]) {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        writeRaw(String(decoding: data, as: UTF8.self) + ",\n")
    }

    private func append(_ text: String) { lock.withLock { writeRaw(text) } }

    /// One write(2) per event, so a kill leaves whole lines; errors are dropped (a full disk must
    /// not fail the run the trace describes).
    private func writeRaw(_ text: String) {
        guard fd >= 0 else { return }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(n)
        }
    }
}
