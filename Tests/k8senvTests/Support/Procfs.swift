import Foundation

/// What /proc says about processes, read the way `ps` and `ss` would.
enum Procfs {
    /// Whether a pid runs (a zombie, dead but not reaped, does not count).
    static func isRunning(_ pid: Int32) -> Bool {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// The running processes (not this one) whose command line contains `text`, as
    /// "pid: command line".
    static func processes(mentioning text: String) -> [String] {
        let me = getpid()
        var found: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me, isRunning(pid),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { continue }
            let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if commandLine.contains(text) { found.append("\(pid): \(commandLine)") }
        }
        return found
    }

    /// The TCP sockets a process listens on, as "address:port" (IPv4 dotted, IPv6 as the
    /// kernel's hex), from its socket fds matched against /proc/PID/net/tcp and tcp6.
    static func listeningAddresses(of pid: Int32) -> [String] {
        let fdDirectory = "/proc/\(pid)/fd"
        var inodes = Set<String>()
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdDirectory)) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDirectory + "/" + fd),
               target.hasPrefix("socket:[") {
                inodes.insert(String(target.dropFirst(8).dropLast()))
            }
        }
        var addresses: [String] = []
        for table in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // local_address is field 1, st field 3 (0A = LISTEN), inode field 9.
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])) else { continue }
                addresses.append(decode(String(fields[1]), v6: table == "tcp6"))
            }
        }
        return addresses
    }

    private static func decode(_ field: String, v6: Bool) -> String {
        let parts = field.split(separator: ":")
        let port = Int(parts[1], radix: 16) ?? 0
        if !v6, let value = UInt32(parts[0], radix: 16) {
            let bytes = [value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >> 24]
            return bytes.map(String.init).joined(separator: ".") + ":\(port)"
        }
        if parts[0] == "0000000000000000FFFF00000100007F" { return "127.0.0.1:\(port)" }  // v4-mapped
        return "[\(parts[0])]:\(port)"
    }

    /// The permission bits of a file or folder.
    static func mode(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_mode) & 0o777
    }
}
