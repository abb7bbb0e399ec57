import Foundation
import K8sEnvTestSupport

/// What /proc says about processes, read the way `ps` and `ss` would.
enum Procfs {
    /// Whether a pid runs (a zombie, dead but not reaped, does not count).
    static func isRunning(_ pid: Int32) -> Bool { K8sEnvTestSupport.isRunning(pid) }

    /// The running processes (not this one) whose command line contains `text`, as
    /// "pid: command line".
    static func processes(mentioning text: String) -> [String] {
        let me = getpid()
        var found: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me, isRunning(pid),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty
            else { continue }
            let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if commandLine.contains(text) { found.append("\(pid): \(commandLine)") }
        }
        return found
    }

    /// The TCP sockets a process listens on, as "address:port" (IPv4 dotted, IPv6 as the
    /// kernel's hex), from its socket fds matched against /proc/PID/net/tcp and tcp6.
    static func listeningAddresses(of pid: Int32) -> [String] {
        Sockets.listeningAddresses(of: pid)
    }

    /// The permission bits of a file or folder.
    static func mode(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_mode) & 0o777
    }
}
