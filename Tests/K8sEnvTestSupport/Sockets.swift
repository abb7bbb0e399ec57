import Foundation

/// Listening TCP sockets of a process, read from /proc.
public enum Sockets {
    /// The addresses (`127.0.0.1:PORT`, `[hex]:PORT`) a process listens on: the LISTEN entries of
    /// /proc/PID/net/tcp{,6} whose inodes are among the process's socket descriptors.
    public static func listeningAddresses(of pid: Int32) -> [String] {
        let inodes = socketInodes(of: pid)
        var addresses: [String] = []
        for table in ["tcp", "tcp6"] {
            for entry in listening("/proc/\(pid)/net/\(table)") where inodes.contains(entry.inode) {
                addresses.append(decode(entry.local, v6: table == "tcp6"))
            }
        }
        return addresses
    }

    /// The inode of the socket listening on 127.0.0.1:`port` in this network namespace.
    public static func listeningInode(port: Int) -> String? {
        let local = String(format: "0100007F:%04X", port)
        return listening("/proc/net/tcp").first { $0.local == local }?.inode
    }

    /// The socket inodes among a process's descriptors.
    public static func socketInodes(of pid: Int32) -> Set<String> {
        let directory = "/proc/\(pid)/fd"
        var inodes = Set<String>()
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + fd),
                target.hasPrefix("socket:[")
            {
                inodes.insert(String(target.dropFirst(8).dropLast()))
            }
        }
        return inodes
    }

    /// LISTEN entries (local address field, inode) of a /proc/net/tcp-style table.
    static func listening(_ path: String) -> [(local: String, inode: String)] {
        readWhole(path).split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // local_address is field 1, st field 3 (0A = LISTEN), inode field 9.
            guard fields.count > 9, fields[3] == "0A" else { return nil }
            return (String(fields[1]), String(fields[9]))
        }
    }

    /// A /proc table in as few reads as the kernel allows: the table is made as it is read, a
    /// page at a time, and sockets opened or closed between two small reads shift it, so an
    /// entry can be skipped (seen with a busy test suite: a listener missing from every read).
    static func readWhole(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            result += buffer[0..<count]
        }
        return String(decoding: result, as: UTF8.self)
    }

    static func decode(_ field: String, v6: Bool) -> String {
        let parts = field.split(separator: ":")
        let port = Int(parts[1], radix: 16) ?? 0
        if !v6, let value = UInt32(parts[0], radix: 16) {
            let bytes = [value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >> 24]
            return bytes.map(String.init).joined(separator: ".") + ":\(port)"
        }
        if parts[0] == "0000000000000000FFFF00000100007F" { return "127.0.0.1:\(port)" }  // v4-mapped
        return (parts[0] == "00000000000000000000000000000000" ? "[::]" : "[\(parts[0])]") + ":\(port)"
    }
}
