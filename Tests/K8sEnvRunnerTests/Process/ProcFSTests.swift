import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("/proc, read in one place", .tags(.fast))
struct ProcFSTests {
    /// A /proc/PID/stat line of a process named `comm` (the kernel's bytes as they are).
    static func statLine(_ comm: [UInt8]) -> [UInt8] {
        Array("4242 (".utf8) + comm
            + Array(
                ") S 17 4242 4200 34816 4242 4194304 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200 18446744073709551615\n"
                    .utf8)
    }

    @Test(
        "stat lines of processes named with spaces, parentheses, a newline or a byte that is not UTF-8 give the same fields",
        arguments: ["sleep", "a b", "a) (b", ")", "(", "x) S 1 2 3", "", "a\nb"].map { Array($0.utf8) } + [
            [0x61, 0xff, 0x29]
        ])
    func oddNames(comm: [UInt8]) throws {
        let stat = try #require(ProcFS.parseStat(Self.statLine(comm)), "\(String(decoding: comm, as: UTF8.self))")
        #expect(stat == ProcFS.Stat(state: "S", parent: 17, processGroup: 4242, session: 4200, startTime: 98765))
    }

    @Test("a line cut short, or without its name's closing parenthesis, is no stat")
    func malformed() {
        #expect(ProcFS.parseStat(Array("4242 (sleep S 17 4242".utf8)) == nil)
        #expect(ProcFS.parseStat(Array("4242 (sleep) S 17 4242 4200".utf8)) == nil)
        #expect(ProcFS.parseStat([]) == nil)
    }

    @Test(
        "a process whose name has spaces, parentheses and a byte that is not UTF-8 is still read: parent, group, start time"
    )
    func oddProcessName() async throws {
        let dir = try TemporaryDirectory()
        // comm is the name the program was executed by: a link named `a) (b` and the byte 0xff.
        let script = #"link="$(printf '%s/a) (b\377' "$0")"; ln -s "$(command -v sleep)" "$link" && exec "$link" 300"#
        let process = try ChildProcess.launch(
            executable: "/bin/sh", arguments: ["-c", script, dir.path], environment: [:],
            logPath: dir.path + "/log")
        defer { process.signalGroup(SIGKILL) }
        let renamed = await Poll(every: .milliseconds(10), for: .seconds(10)).until {
            (try? String(contentsOfFile: "/proc/\(process.pid)/comm", encoding: .isoLatin1))?.hasPrefix("a) (b") == true
        }
        #expect((try? renamed.get()) != nil, "the test's process never ran under its odd name")
        let stat = try #require(ProcFS.stat(process.pid), "its /proc/PID/stat was not read")
        #expect(stat.parent == getpid() && !stat.hasEnded)
        #expect(Ownership.startTime(of: process.pid) == stat.startTime)
        #expect(ProcFS.owner(of: process.pid) == getuid())
        #expect(ProcFS.executable(of: process.pid)?.hasSuffix("sleep") == true)
    }
}
