import Foundation
import Testing

/// Faults with the real binaries: a process dying under a running `up`, a cache that cannot be
/// written, an interrupt in the middle of a cold build. Each gives a clear error and leaves
/// nothing running and nothing half-written.
@Suite("Faults (real kube-apiserver and etcd)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct FaultTests {
    /// A config with a CRD, so a cold start builds a real snapshot.
    static func crdConfig() -> String {
        Workspace.smallConfig().replacingOccurrences(of: "pool: {size: 1}", with: "pool: {size: 1}\n    crds: [crds/]")
    }

    static let crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: things.fault.k8senv.dev}
        spec:
          group: fault.k8senv.dev
          scope: Namespaced
          names: {plural: things, kind: Thing}
          versions:
            - name: v1
              served: true
              storage: true
              schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
        """

    /// The embedded store runs inside `up` itself: there is no storage process to kill.
    @Test(
        "storage or kube-apiserver killed while up serves: up exits 1 naming it, with its log tail; nothing left",
        arguments: RealBinaries.storage == "embedded" ? ["apiServerPID"] : ["storagePID", "apiServerPID"])
    func processKilled(which: String) async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "killed-\(which)") { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let instance = try #require((ws.runRecords().first?["instances"] as? [[String: Any]])?.first)
            let pid = try #require(instance[which] as? Int)
            kill(Int32(pid), SIGKILL)
            let exit = try await up.wait(timeout: .seconds(60))
            #expect(exit == .exited(1), "\(exit)\n\(up.stdout)\n\(up.stderr)")
            let output = up.stdout + up.stderr
            let name = which == "storagePID" ? RealBinaries.storage : "kube-apiserver"
            #expect(output.contains("\(name) was killed by signal 9"), "\(output)")
            #expect(output.contains("last lines of the log"), "\(output)")
            #expect(output.contains("logs kept in"), "\(output)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "an instance the pool service started to replace one is recorded and watched: its kube-apiserver killed, up exits 1 naming it; nothing left"
    )
    func replacementKilled() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "replacement-killed") { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let socket = try #require(ws.runRecords().first?["poolSocket"] as? String)
            // A release with mode stop, then an acquire: the pool starts one-1 in place of one-0.
            let replaced = try await ws.shell(
                """
                export K8SENV_POOL='\(socket)'
                eval "$(k8senv acquire -f k8senv.yaml)" && k8senv release -f k8senv.yaml --mode stop || exit 10
                eval "$(k8senv acquire -f k8senv.yaml)" && echo "$K8SENV_INSTANCE" && k8senv release -f k8senv.yaml || exit 11
                """)
            #expect(replaced.status == 0 && replaced.stdout == "one-1\n", "\(replaced)")
            let instances = try #require(ws.runRecords().first?["instances"] as? [[String: Any]])
            #expect(
                instances.compactMap { $0["name"] as? String } == ["one-1"], "the record lists what runs: \(instances)")
            let pid = try #require(instances.first?["apiServerPID"] as? Int)
            kill(Int32(pid), SIGKILL)
            let exit = try await up.wait(timeout: .seconds(60))
            #expect(exit == .exited(1), "\(exit)\n\(up.stdout)\n\(up.stderr)")
            let output = up.stdout + up.stderr
            #expect(output.contains("one-1: kube-apiserver was killed by signal 9"), "\(output)")
            #expect(output.contains("logs kept in"), "\(output)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    /// The embedded store has no process to die; it fails when its database file goes.
    @Test(
        "the embedded store's database file removed while up serves: up exits 1 naming the store and the file; nothing left",
        .enabled(if: RealBinaries.storage == "embedded", "the embedded store runs inside up"))
    func embeddedStoreFails() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "store-removed") { ws in
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let record = try #require(ws.runRecords().first)
            let runDirectory = try #require(record["runDirectory"] as? String)
            let name = try #require((record["instances"] as? [[String: Any]])?.first?["name"] as? String)
            let database = runDirectory + "/" + name + "/store/state.db"
            #expect(FileManager.default.fileExists(atPath: database))
            try FileManager.default.removeItem(atPath: database)
            let exit = try await up.wait(timeout: .seconds(60))
            #expect(exit == .exited(1), "\(exit)\n\(up.stdout)\n\(up.stderr)")
            let output = up.stdout + up.stderr
            #expect(
                output.contains(
                    "\(name): the embedded store stopped serving: its database file \(database) was removed"),
                "\(output)")
            #expect(output.contains("logs kept in"), "\(output)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "a kube-apiserver stopped (SIGSTOP) during seeding: up ends with timeouts.seeds, naming the objects in flight; nothing left running"
    )
    func stoppedDuringSeeding() async throws {
        _ = try RealBinaries.require()
        let config = Workspace.smallConfig(start: "120s")
            .replacingOccurrences(of: "stop: 10s", with: "stop: 2s\n  seeds: 4s")
            .replacingOccurrences(
                of: "pool: {size: 1}", with: "pool: {size: 1}\n    seeds: [{name: many, manifests: [seeds/]}]")
        try await Workspace.with(config: config, name: "seeds-timeout") { ws in
            // Enough objects that seeding is still under way when the test stops the server.
            let objects = (0..<3000).map {
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c\($0), namespace: default}\n"
            }
            _ = try ws.write("seeds/many.yaml", objects.joined(separator: "---\n"))
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "at https://127.0.0.1:")
            let apiServer = try #require(ws.leftovers().first { $0.contains("--secure-port=") }, "\(ws.leftovers())")
            let pid = try #require(Int32(apiServer.prefix { $0 != ":" }))
            kill(pid, SIGSTOP)
            let exit = try await up.wait(timeout: .seconds(90))
            #expect(exit == .exited(1), "\(exit)\n\(up.stdout)\n\(up.stderr)")
            #expect(up.stderr.contains("timeouts.seeds (4s) passed while ConfigMap \"c"), "\(up.stderr)")
            #expect(up.stderr.contains("kube-apiserver did not answer in time"), "\(up.stderr)")
            #expect(up.stderr.contains("seeds/many.yaml:"), "\(up.stderr)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("a cache folder that cannot be created: a clear error, nothing running")
    func unwritableCache() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.crdConfig(), name: "unwritable") { ws in
            _ = try ws.write("crds/thing.yaml", Self.crd)
            _ = try ws.write("not-a-folder", "a file where the cache folder should be\n")
            let outcome = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "true",
                environment: ["XDG_CACHE_HOME": ws("not-a-folder")])
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stderr.contains("cannot create the snapshot cache \(ws("not-a-folder"))/k8senv/snapshots"),
                "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("a full disk while the snapshot is written: a clear error, no entry published, nothing running")
    func diskFull() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.crdConfig(), name: "diskfull") { ws in
            _ = try ws.write("crds/thing.yaml", Self.crd)
            let cache = ws("small-disk")
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            // A 64 kB file system: the snapshot (over 100 kB) cannot fit.
            let mount = try await ws.shell("mount -t tmpfs -o size=64k k8senv-test \(cache)")
            try #require(mount.status == 0, "mounting a small tmpfs needs root: \(mount)")
            defer { _ = umount(cache) }
            let outcome = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "true", environment: ["XDG_CACHE_HOME": cache])
            #expect(outcome.status == 1, "\(outcome)")
            if RealBinaries.storage == "etcd" {
                #expect(outcome.stderr.contains("etcdctl snapshot save"), "\(outcome)")
                #expect(outcome.stderr.contains("no space left on device"), "\(outcome)")
            } else {  // embedded and kine: SQLite's VACUUM INTO
                #expect(
                    outcome.stderr.contains("one-0: cannot save the store's snapshot to \(cache)/k8senv/snapshots/"),
                    "\(outcome)")
                #expect(outcome.stderr.contains("database or disk is full"), "\(outcome)")
            }
            let left = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/k8senv/snapshots")) ?? []
            #expect(left.filter { !$0.hasSuffix(".lock") }.isEmpty, "nothing published or half-written: \(left)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "SIGINT or SIGTERM during a cold cache build of up or run: exit 130, the command never runs, no partial entry, no process left",
        arguments: [
            (["up"], SIGINT), (["run", "--", "touch", "ran"], SIGINT), (["run", "--", "touch", "ran"], SIGTERM),
        ])
    func interruptColdBuild(command: [String], signal: Int32) async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.crdConfig(), name: "interrupt") { ws in
            _ = try ws.write("crds/thing.yaml", Self.crd)
            let child = try ws.start([command[0], "-f", "k8senv.yaml"] + command.dropFirst())
            try await ws.waitForOutput(child, "not cached (cache miss); building it")
            child.signal(signal)
            let exit = try await child.wait(timeout: .seconds(60))
            #expect(exit == .exited(130), "\(exit)\n\(child.stdout)\n\(child.stderr)")
            #expect(child.stderr.contains("interrupted while starting"), "\(child.stderr)")
            // The folder kept for its logs is named, and is there.
            let kept = ws.runFolders()
            #expect(
                kept.count == 1 && child.stderr.contains("(logs kept in \(kept.first ?? "?"))"),
                "\(kept)\n\(child.stderr)")
            #expect(!FileManager.default.fileExists(atPath: ws("ran")), "the command ran after the interrupt")
            let snapshots =
                (try? FileManager.default.contentsOfDirectory(atPath: ws.path + "/cache/k8senv/snapshots")) ?? []
            #expect(snapshots.filter { !$0.hasSuffix(".lock") }.isEmpty, "\(snapshots)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
