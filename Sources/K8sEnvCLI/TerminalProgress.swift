import Foundation

/// Progress output: on a terminal, finished steps as lines and a live status line below them
/// (what is still starting, and for how long); otherwise (a pipe, a file, CI logs) plain lines.
final class TerminalProgress: @unchecked Sendable {
    // @unchecked: all state is behind `lock`.
    private let lock = NSLock()
    private let handle: FileHandle
    private let isTerminal: Bool
    private var status: String?
    private var started = ContinuousClock.now
    private var frame = 0
    private static let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    /// - Parameter fd: 1 for stdout, 2 for stderr.
    init(fd: Int32) {
        handle = fd == 2 ? FileHandle.standardError : FileHandle.standardOutput
        isTerminal = isatty(fd) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// A finished step (or any message): always printed as a line.
    func line(_ text: String) {
        lock.withLock {
            if isTerminal, status != nil { write("\r\u{1B}[K") }
            write(text + "\n")
            drawStatus()
        }
    }

    /// What is in progress; nil clears the status line.
    func setStatus(_ text: String?) {
        lock.withLock {
            if status == nil { started = .now }
            if isTerminal, status != nil, text == nil { write("\r\u{1B}[K") }
            status = text
            drawStatus()
        }
    }

    /// Redraws the status line with the elapsed time, every 100 ms, until the task is cancelled.
    func animate() async {
        guard isTerminal else { return }
        while !Task.isCancelled {
            lock.withLock {
                frame += 1
                drawStatus()
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func drawStatus() {
        guard isTerminal, let status else { return }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        write(
            "\r\u{1B}[K" + Self.spinner[frame % Self.spinner.count] + " " + status + String(format: " (%.1fs)", seconds)
        )
    }

    private func write(_ text: String) { handle.write(Data(text.utf8)) }
}
