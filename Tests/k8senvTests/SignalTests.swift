import Foundation
import Testing

/// However `k8senv up` ends, nothing it started keeps running.
@Suite(
    "Signals to k8senv up (real kube-apiserver and etcd)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct SignalTests {
    /// The long name puts the store's socket in a private folder under /tmp (the run folder's
    /// path is too long for a socket address): the next up removes that folder too.
    @Test(
        "SIGKILL of a foreground up: its processes die within seconds; the next up --detach cleans the stale run folder and works",
        arguments: ["sigkill", "sigkill-from-a-folder-whose-path-is-too-long-for-a-unix-socket-address"])
    func sigkill(name: String) async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: name) { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let staleRuns = ws.runFolders()
            try #require(staleRuns.count == 1, "\(staleRuns)")
            let socketFolder = try? FileManager.default.destinationOfSymbolicLink(
                atPath: staleRuns[0] + "/one-0/sockets")
            #expect(
                (socketFolder != nil) == (name.count > 10),
                "sockets of \(staleRuns[0]): \(socketFolder ?? "in the instance folder")")
            let pids = ws.recordedPIDs()
            try #require(pids.count == 2, "\(ws.runRecords())")
            #expect(pids.allSatisfy(Procfs.isRunning))

            up.signal(SIGKILL)
            #expect(try await up.wait(timeout: .seconds(10)) == .signaled(SIGKILL))
            let gone = try await eventually(within: .seconds(5)) { !pids.contains(where: Procfs.isRunning) }
            #expect(gone, "still running after SIGKILL of k8senv: \(pids.filter(Procfs.isRunning)) \(ws.leftovers())")

            let detached = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml")
            try #require(detached.status == 0, "\(detached)")
            #expect(
                !FileManager.default.fileExists(atPath: staleRuns[0]),
                "the stale run folder \(staleRuns[0]) is still there")
            if let socketFolder {
                #expect(!FileManager.default.fileExists(atPath: socketFolder), "\(socketFolder) is still there")
            }
            #expect(ws.runFolders().count == 1, "\(ws.runFolders())")
            let status = try await ws.k8senv("status", "-f", "k8senv.yaml", "--format", "json")
            let instances = parseJSONObject(status.stdout)?["instances"] as? [[String: Any]] ?? []
            #expect(instances.count == 1 && instances[0]["healthy"] as? Bool == true, "\(status)")
            let kubectl = try await ws.shell(
                #"eval "$(k8senv env -f k8senv.yaml)" && kubectl get namespace default -o name"#)
            #expect(kubectl.stdout == "namespace/default\n", "\(kubectl)")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
        }
    }

    @Test(
        "SIGINT or SIGTERM to a foreground up: exit 0, nothing left running, no run folder",
        arguments: [SIGINT, SIGTERM])
    func gracefulStop(signal: Int32) async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "signal-\(signal)") { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let pids = ws.recordedPIDs()
            try #require(pids.count == 2, "\(ws.runRecords())")

            up.signal(signal)
            let exit = try await up.wait(timeout: .seconds(30))
            #expect(exit == .exited(0), "\(exit)\n\(up.stdout)\n\(up.stderr)")
            #expect(up.stdout.contains("stopped"), "\(up.stdout)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(!pids.contains(where: Procfs.isRunning))
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
        }
    }
}
