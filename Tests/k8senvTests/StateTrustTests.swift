import Foundation
import Testing

/// A repository's files cannot make k8senv delete or kill what is not its own; two `up --detach`
/// on one state folder cannot both start (docs/explanation/security.md).
@Suite("The state folder is not trusted blindly", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct StateTrustTests {
    @Test("a .k8senv/runs that is a symlink to another folder: down deletes nothing there and says why")
    func symlinkedRuns() async throws {
        try await Workspace.with(config: Workspace.smallConfig(), name: "trust-symlink", apiServers: false) { ws in
            try ws.write("victim/photos-2019/a.jpg", "photo")
            try ws.write("victim/project-99999/notes.txt", "notes")
            try FileManager.default.createDirectory(atPath: ws.stateFolder, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: ws.stateFolder + "/runs", withDestinationPath: ws("victim"))

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(down.stdout.contains("is a symlink") || down.stderr.contains("is a symlink"), "\(down)")
            #expect(FileManager.default.fileExists(atPath: ws("victim/photos-2019/a.jpg")))
            #expect(FileManager.default.fileExists(atPath: ws("victim/project-99999/notes.txt")))

            // up refuses to use it too, and still deletes nothing.
            let up = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml")
            #expect(up.status == 1, "\(up)")
            #expect(up.stderr.contains("is a symlink"), "\(up)")
            #expect(FileManager.default.fileExists(atPath: ws("victim/photos-2019/a.jpg")))
            #expect(FileManager.default.fileExists(atPath: ws("victim/project-99999/notes.txt")))
        }
    }

    @Test(
        "a planted run.json and current naming a live process (pid, binary and start time right): down neither signals it nor deletes the folder"
    )
    func plantedRecord() async throws {
        try await Workspace.with(config: Workspace.smallConfig(), name: "trust-planted", apiServers: false) { ws in
            let victim = try ws.launch("/bin/sleep", ["300"])
            try #require(try await eventually { Procfs.isRunning(victim.pid) })
            let run = ws.stateFolder + "/runs/1700000000-\(victim.pid)"
            let stat = try String(contentsOfFile: "/proc/\(victim.pid)/stat", encoding: .utf8)
            let startTime = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")[19]
            let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(victim.pid)/exe")
            let record = """
                {"version": 1, "ownerPID": \(victim.pid), "ownerBinary": "\(exe)", "ownerStartTime": \(startTime),
                 "config": "k8senv.yaml", "detached": true, "runDirectory": "\(run)",
                 "startedAt": "2026-01-01T00:00:00Z",
                 "instances": [{"name": "x", "environment": "one", "server": "https://127.0.0.1:1", "kubeconfig": "/dev/null",
                   "apiServerPID": \(victim.pid), "storagePID": \(victim.pid), "apiServerBinary": "\(exe)",
                   "storageBinary": "\(exe)", "apiServerStartTime": \(startTime), "storageStartTime": \(startTime), "logs": []}]}
                """
            try ws.write(".k8senv/runs/1700000000-\(victim.pid)/run.json", record)
            try ws.write(".k8senv/runs/1700000000-\(victim.pid)/.k8senv-owner", String(repeating: "0", count: 64))
            try ws.write(".k8senv/runs/photos-99999/keep.txt", "mine")
            try ws.write(".k8senv/current", run + "\n")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(down.stdout.contains("nothing to stop"), "\(down)")
            #expect(down.stdout.contains("not a run folder k8senv made"), "\(down)")
            #expect(Procfs.isRunning(victim.pid), "down signalled a process it did not start")
            #expect(FileManager.default.fileExists(atPath: run + "/run.json"))
            #expect(FileManager.default.fileExists(atPath: ws.stateFolder + "/runs/photos-99999/keep.txt"))

            let status = try await ws.k8senv("status", "-f", "k8senv.yaml")
            #expect(!status.stdout.contains("running (pid \(victim.pid)"), "\(status)")
        }
    }

    @Test(
        "two up --detach at the same moment on one state folder: one starts, the other is refused; down leaves nothing")
    func concurrentDetach() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "trust-concurrent") { ws in
            let first = try ws.start(["up", "--detach", "-f", "k8senv.yaml"])
            let second = try ws.start(["up", "--detach", "-f", "k8senv.yaml"])
            let outcomes = [try await ws.finish(first), try await ws.finish(second)]
            #expect(outcomes.compactMap(\.status).sorted() == [0, 1], "\(outcomes)")
            let refused = outcomes.first { $0.status == 1 }
            #expect(refused?.stderr.contains("already running") == true, "\(outcomes)")
            #expect(ws.runFolders().count == 1, "\(ws.runFolders())")
            // The snapshot it built is listed with its storage spelled out (it was cut to 7 letters).
            let cache = try await ws.k8senv("cache", "ls")
            let rows = cache.stdout.split(separator: "\n").dropFirst()
            #expect(rows.contains { $0.split(separator: " ").contains(Substring(RealBinaries.storage)) }, "\(cache)")

            // status asks kube-apiserver, not only its pid: a stopped (SIGSTOP) one is DOWN.
            let apiServer = try #require(
                ws.runRecords().first.flatMap { ($0["instances"] as? [[String: Any]])?.first?["apiServerPID"] as? Int })
            // Asked until it says so (within 10 s): one CI rehearsal saw a single status right after
            // the SIGSTOP report the instance healthy; the last answer and the process's state
            // (T when stopped) are printed if it never does.
            kill(Int32(apiServer), SIGSTOP)
            var stopped = ""
            let seenDown = try await eventually {
                let answer = try await ws.k8senv("status", "-f", "k8senv.yaml", "--format", "json")
                stopped = "\(answer)"
                let items = parseJSONObject(answer.stdout)?["instances"] as? [[String: Any]] ?? []
                return items.count == 1 && items.first?["healthy"] as? Bool == false
            }
            let state = (try? String(contentsOfFile: "/proc/\(apiServer)/stat", encoding: .utf8)) ?? "gone"
            kill(Int32(apiServer), SIGCONT)
            #expect(seenDown, "\(stopped)\n/proc/\(apiServer)/stat: \(state)")
            let resumed = try await ws.k8senv("status", "-f", "k8senv.yaml")
            #expect(resumed.stdout.contains(" up "), "\(resumed)")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            let gone = try await eventually(within: .seconds(10)) { ws.leftovers().isEmpty }
            #expect(gone, "\(ws.leftovers())")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
        }
    }
    @Test(
        "item 2: a .k8senv that is a symlink to a shared 1777 folder: up --detach and run (a foreground up) are refused, the folder's mode and contents are unchanged"
    )
    func symlinkedStateFolder() async throws {
        try await Workspace.with(config: Workspace.smallConfig(), name: "trust-state-link", apiServers: false) { ws in
            try ws.write("shared/left-by-others.txt", "theirs")
            let shared = ws("shared")
            chmod(shared, 0o1777)
            try FileManager.default.createSymbolicLink(atPath: ws.stateFolder, withDestinationPath: shared)
            // Refused before anything starts (run starts as a foreground up does).
            for arguments in [["up", "--detach", "-f", "k8senv.yaml"], ["run", "-f", "k8senv.yaml", "--", "true"]] {
                let up = try await ws.finish(ws.start(arguments))
                #expect(up.status == 1, "\(up)")
                #expect(up.stderr.contains("/.k8senv is a symlink"), "\(up)")
            }
            var info = stat()
            #expect(
                stat(shared, &info) == 0 && info.st_mode & 0o7777 == 0o1777,
                "mode \(String(info.st_mode & 0o7777, radix: 8))")
            #expect(try FileManager.default.contentsOfDirectory(atPath: shared) == ["left-by-others.txt"])
        }
    }

    @Test(
        "item 3: a committed .k8senv holding current.tmp-<pid> and supervisor.json.tmp-<pid> symlinks for the next pids: up --detach writes none of their targets"
    )
    func plantedTemporaryNames() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "trust-planted-tmp") { ws in
            let victim = try ws.write("victim.txt", "precious\n")
            try FileManager.default.createDirectory(atPath: ws.stateFolder, withIntermediateDirectories: true)
            // The pids `up --detach` and its supervisor will most likely get: the next few thousand.
            let last =
                Int32(
                    try String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8)
                        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 300
            let limit =
                Int32(
                    try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)
                        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 32768
            for offset in Int32(1)...4000 {
                let pid = last + offset < limit ? last + offset : 300 + (last + offset - limit)
                for name in ["current", "supervisor.json"] {
                    symlink(victim, ws.stateFolder + "/\(name).tmp-\(pid)")
                }
            }

            let up = try await ws.k8senv("up", "--detach", "--quiet", "-f", "k8senv.yaml")
            #expect(up.status == 0, "\(up)")
            #expect(
                try String(contentsOfFile: victim, encoding: .utf8) == "precious\n",
                "a planted temporary name was written through")
            var info = stat()
            #expect(
                lstat(ws.stateFolder + "/current", &info) == 0 && info.st_mode & S_IFMT == S_IFREG,
                "current is a file of its own")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        }
    }
}
