import Foundation

/// What /proc says of a process: the one reader of `/proc/PID/…` in k8senv (its state, parent,
/// group, session and start time; its program, command line and owner).
///
/// Files are read as bytes, never as text: a process's name (`comm`) is any 15 bytes but NUL
/// (spaces, parentheses, bytes that are not UTF-8), chosen by whoever ran it.
package enum ProcFS {
    /// What /proc/PID/stat says of a process that k8senv reads.
    package struct Stat: Sendable, Equatable {
        /// The state letter (R, S, Z…).
        package var state: Character
        package var parent: Int32
        package var processGroup: Int32
        package var session: Int32
        /// Clock ticks since boot.
        package var startTime: UInt64

        package init(state: Character, parent: Int32, processGroup: Int32, session: Int32, startTime: UInt64) {
            self.state = state
            self.parent = parent
            self.processGroup = processGroup
            self.session = session
            self.startTime = startTime
        }

        /// Whether the process has ended (a zombie not yet reaped, or dead).
        package var hasEnded: Bool { state == "Z" || state == "X" }
    }

    /// A process's state, parent, process group, session and start time, or nil when there is no
    /// such process (or /proc cannot be read).
    package static func stat(_ pid: Int32) -> Stat? {
        guard pid > 0, let bytes = read("/proc/\(pid)/stat") else { return nil }
        return parseStat(bytes)
    }

    /// Parses the text of /proc/PID/stat: `pid (comm) state ppid pgrp session … starttime …`.
    /// `comm` may hold spaces and parentheses, so the fields are counted from the last `)`.
    package static func parseStat(_ bytes: [UInt8]) -> Stat? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After "pid (comm)": state is field 3, ppid 4, pgrp 5, session 6, starttime 22.
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
            .map { String(decoding: $0, as: UTF8.self) }
        guard fields.count > 19, fields[0].count == 1, let state = fields[0].first,
            let parent = Int32(fields[1]), let group = Int32(fields[2]), let session = Int32(fields[3]),
            let start = UInt64(fields[19].trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return Stat(state: state, parent: parent, processGroup: group, session: session, startTime: start)
    }

    /// The program a process runs (/proc/PID/exe's target; ` (deleted)` appended when the file
    /// was removed or replaced since), or nil.
    package static func executable(of pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
    }

    /// This process's program.
    package static var selfExecutable: String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// A process's arguments as /proc/PID/cmdline holds them (NUL-separated bytes), or nil.
    package static func commandLine(of pid: Int32) -> [UInt8]? {
        read("/proc/\(pid)/cmdline")
    }

    /// The uid a process runs as (the owner of /proc/PID), or nil when there is no such process.
    package static func owner(of pid: Int32) -> uid_t? {
        var info = Foundation.stat()
        guard pid > 0, lstat("/proc/\(pid)", &info) == 0 else { return nil }
        return info.st_uid
    }

    /// A /proc file's bytes (its size is 0 until read: read to the end).
    private static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }
}
