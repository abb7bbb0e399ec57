import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Synchronization
import Testing

@Suite("kine storage (a kine-shaped executable)", .tags(.fast), .timeLimit(.minutes(1)))
struct KineTests {
    /// A stand-in that records its arguments and listens where --listen-address says: it checks
    /// our command line and readiness handling; the real kine is used where its binary exists.
    static let fakeKine = """
        #!/usr/bin/env python3
        import socket, sys, time
        open(sys.argv[0] + ".args", "w").write("\\n".join(sys.argv[1:]))
        if "--exit" in open(sys.argv[0]).read().split("#MODE:")[-1]:
            print("level=fatal msg=\\"cannot open database\\"", file=sys.stderr); sys.exit(1)
        address = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--listen-address=")][0]
        s = socket.socket(socket.AF_UNIX); s.bind(address[len("unix://"):]); s.listen(1)
        time.sleep(60)
        #MODE:
        """

    func configuration(_ dir: TemporaryDirectory, mode: String, folder: String = "i") throws -> InstanceConfiguration {
        try dir.write("kine", Self.fakeKine + mode + "\n")
        chmod(dir.path + "/kine", 0o755)
        let binaries = ResolvedBinaries(
            kubeAPIServer: "/bin/false", kubeAPIServerVersion: KubeVersion(major: 1, minor: 20),
            storage: KineBackend(program: dir.path + "/kine"))
        try FileManager.default.createDirectory(atPath: dir.path + "/\(folder)/logs", withIntermediateDirectories: true)
        return InstanceConfiguration(
            name: "k-0", directory: dir.path + "/" + folder, binaries: binaries,
            extraArgs: [], startTimeout: .seconds(20), stopTimeout: .seconds(2))
    }

    /// Starts the stand-in. A script written a moment ago can be "busy" for exec while a child
    /// that another test forks at that moment still holds it open for writing (ETXTBSY): retried.
    func start(_ config: InstanceConfiguration) async throws -> any RunningStore {
        for _ in 0..<20 {
            do { return try await Instance.startStorage(config, deadline: ContinuousClock.now + .seconds(20)) } catch {
                guard error.description.contains("Text file busy") else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        return try await Instance.startStorage(config, deadline: ContinuousClock.now + .seconds(20))
    }

    @Test(
        "kine gets a SQLite endpoint and a Unix socket in the instance's folder, and is ready when the socket answers")
    func commandLineAndReadiness() async throws {
        let dir = try TemporaryDirectory()
        let config = try configuration(dir, mode: "--listen")
        let store = try await start(config)
        let process = try #require(store.process)
        let args = try String(contentsOfFile: dir.path + "/kine.args", encoding: .utf8).split(separator: "\n").map(
            String.init)
        #expect(store.url == "unix://\(dir.path)/i/kine.sock:0")
        #expect(args.count == 3)
        #expect(args[0] == "--endpoint=sqlite://\(dir.path)/i/kine/state.db?_journal=WAL&cache=shared")
        #expect(args[1] == "--listen-address=unix://\(dir.path)/i/kine.sock:0")
        #expect(args[2].hasPrefix("--metrics-bind-address=127.0.0.1:"))
        #expect(Ports.accepts(unixSocket: dir.path + "/i/kine.sock:0"))
        await store.stop(grace: .seconds(2))
        #expect(!isRunning(process.pid))
    }

    @Test(
        "an instance folder too long for a socket address gets a private 0700 folder under /tmp, linked from it and removed at stop"
    )
    func longFolder() async throws {
        let dir = try TemporaryDirectory()
        let folder = String(repeating: "long-instance-folder-", count: 5)
        let config = try configuration(dir, mode: "--listen", folder: folder)
        let store = try await start(config)
        let socket = String(store.url.dropFirst("unix://".count))
        let privateFolder = (socket as NSString).deletingLastPathComponent
        #expect(privateFolder.hasPrefix("/tmp/k8senv-"), "\(socket)")
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: dir.path + "/\(folder)/sockets") == privateFolder)
        #expect(try FileManager.default.attributesOfItem(atPath: privateFolder)[.posixPermissions] as? Int == 0o700)
        #expect(Ports.accepts(unixSocket: socket))
        await store.stop(grace: .seconds(2))
        #expect(!FileManager.default.fileExists(atPath: privateFolder))
    }

    @Test("a kine that exits before it is ready is reported with its log tail")
    func exitsEarly() async throws {
        let dir = try TemporaryDirectory()
        let config = try configuration(dir, mode: "--exit")
        await #expect {
            try await start(config)
        } throws: { error in
            let e = error as! ProcessError
            return e.code == .exited && e.description.contains("kine exited with status 1")
                && e.description.contains("cannot open database")
        }
    }
}
