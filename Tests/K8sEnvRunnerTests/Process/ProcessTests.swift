import Foundation
import K8sEnvTestSupport
import K8sEnvRunner
import Testing

@Suite("Child processes", .tags(.fast))
struct ProcessTests {
    @Test("a process runs, writes its log, and reports its exit status")
    func exitStatus() async throws {
        let dir = try TemporaryDirectory()
        let log = dir.path + "/out.log"
        let process = try ChildProcess.launch(executable: "/bin/sh", arguments: ["-c", "echo hello; echo oops >&2; exit 3"],
                                              environment: [:], logPath: log)
        #expect(await process.waitForExit() == .exited(3))
        #expect(process.logTail() == "hello\noops")
        let mode = try FileManager.default.attributesOfItem(atPath: log)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a program that does not exist is a not-found error naming it")
    func missingProgram() throws {
        let dir = try TemporaryDirectory()
        #expect {
            try ChildProcess.launch(executable: dir.path + "/nope", arguments: [], environment: [:], logPath: dir.path + "/log")
        } throws: { error in
            let e = error as! ProcessError
            return e.code == .notFound && e.description.contains(dir.path + "/nope")
        }
    }

    @Test("stop sends SIGTERM, then SIGKILL after the grace, to the whole group")
    func stopEscalates() async throws {
        let dir = try TemporaryDirectory()
        // The shell ignores SIGTERM and starts a grandchild that would outlive it.
        let process = try ChildProcess.launch(
            executable: "/bin/sh",
            arguments: ["-c", "trap '' TERM; sleep 300 & echo $! > \(dir.path)/grandchild; wait"],
            environment: [:], logPath: dir.path + "/log")
        var grandchild: Int32?
        for _ in 0..<100 where grandchild == nil {
            grandchild = (try? String(contentsOfFile: dir.path + "/grandchild", encoding: .utf8))
                .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            try await Task.sleep(for: .milliseconds(20))
        }
        let sleeper = try #require(grandchild)
        #expect(isRunning(sleeper))
        let termination = await process.stop(grace: .milliseconds(300))
        #expect(termination == .signaled(SIGKILL))
        try await Task.sleep(for: .milliseconds(100))
        #expect(!isRunning(sleeper), "the grandchild in the group was killed too")
    }

    @Test("a process that stops on SIGTERM ends cleanly within the grace")
    func stopClean() async throws {
        let dir = try TemporaryDirectory()
        let process = try ChildProcess.launch(executable: "/bin/sleep", arguments: ["300"], environment: [:], logPath: dir.path + "/log")
        #expect(await process.stop(grace: .seconds(5)) == .signaled(SIGTERM))
    }

    @Test("a stop asked for by a cancelled task (an interrupted start) still gives the grace and returns only once the process has ended")
    func stopWhenCancelled() async throws {
        let dir = try TemporaryDirectory()
        // Ends on SIGTERM with its own status, after a short clean-up of its own.
        let process = try ChildProcess.launch(
            executable: "/bin/sh", arguments: ["-c", "trap 'sleep 0.3; exit 7' TERM; while :; do sleep 0.05; done"],
            environment: [:], logPath: dir.path + "/log")
        let stopper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            let termination = await process.stop(grace: .seconds(10))
            return (termination, isRunning(process.pid))
        }
        let (termination, stillRunning) = await stopper.value
        #expect(termination == .exited(7), "the grace was skipped: \(termination)")
        #expect(!stillRunning)
    }

    @Test("arguments reach the program unchanged: no shell in between")
    func noShell() async throws {
        let dir = try TemporaryDirectory()
        let tricky = ["$(touch \(dir.path)/pwned)", "a b", "'quoted'", "; rm -rf /"]
        let process = try ChildProcess.launch(executable: "/usr/bin/printf", arguments: ["%s\\n"] + tricky,
                                              environment: [:], logPath: dir.path + "/log")
        #expect(await process.waitForExit() == .exited(0))
        #expect(process.logTail() == tricky.joined(separator: "\n"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/pwned"))
    }
}

@Suite("Versions and flags", .tags(.fast))
struct FlagTests {
    static func layout() -> APIServerLayout {
        APIServerLayout(port: 6443, storageURL: "http://127.0.0.1:2379", certificateDirectory: "/d/pki",
                        servingCertificate: "/d/pki/serving.crt", servingKey: "/d/pki/serving.key",
                        serviceAccountKey: "/d/pki/sa.key", serviceAccountPublicKey: "/d/pki/sa.pub",
                        tokenFile: "/d/pki/tokens.csv", authenticationConfig: "/d/pki/auth.yaml")
    }

    @Test("versions are read from --version output", arguments: [
        ("Kubernetes v1.20.2", "v1.20.2"), ("Kubernetes v1.31.0-rc.1", "v1.31.0-rc.1"), ("etcd Version: 3.4.23\nGit SHA: x", "v3.4.23"),
    ])
    func parseVersion(output: String, expected: String) {
        #expect(KubeVersion(parsing: output)?.text == expected)
    }

    @Test("--insecure-port=0 only below 1.24")
    func insecurePort() {
        for (minor, expected) in [(20, true), (23, true), (24, false), (35, false)] {
            let args = APIServerArguments.make(version: KubeVersion(major: 1, minor: minor), layout: Self.layout(), extraArgs: [])
            #expect(args.contains("--insecure-port=0") == expected, "1.\(minor)")
        }
    }

    @Test("anonymous health checks through --authentication-config from 1.32, the token before")
    func anonymousHealth() {
        for (minor, anonymous) in [(20, false), (30, false), (31, false), (32, true), (35, true)] {
            let args = APIServerArguments.make(version: KubeVersion(major: 1, minor: minor), layout: Self.layout(), extraArgs: [])
            #expect(args.contains("--authentication-config=/d/pki/auth.yaml") == anonymous, "1.\(minor)")
            #expect(args.contains("--anonymous-auth=false") == !anonymous, "1.\(minor)")
        }
    }

    @Test("the speed-ups and the required service-account flags are always there; extraArgs come last")
    func commonFlags() {
        let args = APIServerArguments.make(version: KubeVersion(major: 1, minor: 20), layout: Self.layout(),
                                           extraArgs: ["--v=2", "--feature-gates=A=true"])
        for flag in ["--authorization-mode=AlwaysAllow", "--watch-cache=false", "--disable-admission-plugins=ServiceAccount",
                     "--bind-address=127.0.0.1", "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                     "--service-account-signing-key-file=/d/pki/sa.key", "--service-account-key-file=/d/pki/sa.pub"] {
            #expect(args.contains(flag), "\(flag)")
        }
        #expect(Array(args.suffix(2)) == ["--v=2", "--feature-gates=A=true"])
    }

    @Test("etcd listens on Unix sockets in its working folder only; --unsafe-no-fsync when supported")
    func etcdFlags() {
        let args = StorageArguments.etcd(dataDirectory: "/d/etcd", noFsync: true)
        #expect(args.contains("--listen-client-urls=unix://etcd.sock:0"))
        #expect(args.contains("--listen-peer-urls=unix://etcd-peer.sock:0"))
        #expect(!args.contains { $0.contains("127.0.0.1") || $0.contains("http") })
        #expect(args.contains("--unsafe-no-fsync"))
        #expect(!StorageArguments.etcd(dataDirectory: "/d", noFsync: false).contains("--unsafe-no-fsync"))
    }

    @Test("kine gets a SQLite endpoint in the instance's folder and a Unix socket")
    func kineFlags() {
        #expect(StorageArguments.kine(databasePath: "/d/kine/state.db", socket: "/d/kine.sock", metricsPort: 6) == [
            "--endpoint=sqlite:///d/kine/state.db?_journal=WAL&cache=shared",
            "--listen-address=unix:///d/kine.sock",
            "--metrics-bind-address=127.0.0.1:6",
        ])
    }

    @Test("a server error about a field the server is too old for names the version it needs")
    func fieldVersionHint() {
        let message = #".spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations: field not declared in schema"#
        let hint = FieldVersions.hint(for: message, serverVersion: KubeVersion(major: 1, minor: 20, patch: 2))
        #expect(hint?.contains("x-kubernetes-validations needs Kubernetes v1.25 or newer") == true)
        #expect(FieldVersions.hint(for: message, serverVersion: KubeVersion(major: 1, minor: 30)) == nil)
    }
}

@Suite("Finding the programs", .tags(.fast))
struct BinaryLocatorTests {
    @Test("not on PATH: the message names the program's exact K8SENV_ variable and the install page's URL, not a script of k8senv's checkout", arguments: [
        ("binaries.kubeAPIServer", "K8SENV_KUBE_APISERVER", "kube-apiserver"),
        ("binaries.etcd", "K8SENV_ETCD", "etcd"),
        ("binaries.etcdctl", "K8SENV_ETCDCTL", "etcdctl"),
        ("binaries.kine", "K8SENV_KINE", "kine"),
        ("binaries.kubeControllerManager", "K8SENV_KUBE_CONTROLLER_MANAGER", "kube-controller-manager"),
    ])
    func missing(role: String, variable: String, program: String) {
        do throws(ProcessError) {
            _ = try BinaryLocator.locate("no-such-\(program)", role: role, relativeTo: ".", path: "/nowhere")
            Issue.record("found no-such-\(program)")
        } catch {
            #expect(error.message.contains("\(role): \"no-such-\(program)\" is not on PATH; install \(program) and put it on PATH, or set \(variable) to its path"), "\(error.message)")
            #expect(error.message.contains("https://github.com/k8senv/k8senv/blob/main/docs/how-to/install.md"), "\(error.message)")
            #expect(!error.message.contains("scripts/") && !error.message.contains("K8SENV_*"), "\(error.message)")
        }
    }
}

@Suite("Certificates", .tags(.fast))
struct CertificateTests {
    @Test("our CA signs an ECDSA P-256 serving certificate for 127.0.0.1 and localhost (checked by openssl)")
    func opensslVerifies() throws {
        let dir = try TemporaryDirectory()
        let certificates = try Certificates.make(commonName: "k8senv-test")
        try certificates.caCertificate.write(toFile: dir.path + "/ca.crt", atomically: true, encoding: .utf8)
        try certificates.servingCertificate.write(toFile: dir.path + "/serving.crt", atomically: true, encoding: .utf8)
        try certificates.servingKey.write(toFile: dir.path + "/serving.key", atomically: true, encoding: .utf8)
        let openssl = "/usr/bin/openssl"
        let verify = try runTool(openssl, ["verify", "-CAfile", dir.path + "/ca.crt", dir.path + "/serving.crt"])
        #expect(verify.status == 0, "\(verify.output)")
        let text = try runTool(openssl, ["x509", "-in", dir.path + "/serving.crt", "-noout", "-text"]).output
        #expect(text.contains("DNS:localhost"))
        #expect(text.contains("IP Address:127.0.0.1"))
        #expect(text.contains("prime256v1") || text.contains("P-256"))
        let key = try runTool(openssl, ["pkey", "-in", dir.path + "/serving.key", "-noout", "-text"]).output
        #expect(key.contains("prime256v1") || key.contains("P-256"))
    }

    @Test("tokens are 64 hex characters and differ")
    func tokens() {
        let a = makeToken(), b = makeToken()
        #expect(a.count == 64 && a.allSatisfy(\.isHexDigit))
        #expect(a != b)
    }
}

@Suite("Supervisor events", .tags(.fast))
struct SupervisorEventTests {
    @Test("events written by the supervisor are read back whole, in order, once; a line still being written waits")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/supervisor.events"
        let writer = try SupervisorEventWriter(path: path)
        let reader = SupervisorEventReader(path: path)
        #expect(reader.next().isEmpty)
        writer.send(SupervisorEvent(.progress, "base: embedded ready in 0.02s"))
        writer.send(SupervisorEvent(.error, "error: a line with \"quotes\",\nand a newline"))
        #expect(reader.next() == [SupervisorEvent(.progress, "base: embedded ready in 0.02s"),
                                  SupervisorEvent(.error, "error: a line with \"quotes\",\nand a newline")])
        #expect(reader.next().isEmpty)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"kind":"progress","te"#.utf8))
        #expect(reader.next().isEmpty)
        try handle.write(contentsOf: Data("xt\":\"later\"}\n".utf8))
        try handle.close()
        #expect(reader.next() == [SupervisorEvent(.progress, "later")])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}

@Suite("Snapshot cache lookup", .tags(.fast))
struct SnapshotLookupTests {
    func metadata(_ key: String) throws -> SnapshotMetadata {
        let json = #"{"key":"\#(key)","environment":"base","config":"k8senv.yaml","storage":"embedded","kubeAPIServerVersion":"v1.20.2","files":[],"objects":0,"size":0,"checksum":"","buildSeconds":0,"createdAt":"2026-12-01T00:00:00Z"}"#
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SnapshotMetadata.self, from: Data(json.utf8))
    }

    @Test("missing, hit, then corrupt once a data file changes (lookup removes nothing; discard does)")
    func lookup() throws {
        let folder = try TemporaryFolder()
        let store = SnapshotStore(root: folder.path)
        let key = String(repeating: "ab", count: 32)
        guard case .missing = store.lookup(key) else { Issue.record("an empty cache has no \(key)"); return }
        let staging = try store.makeStaging(key)
        try Data("a store's bytes".utf8).write(to: URL(fileURLWithPath: staging + "/data/state.db"))
        let published = try store.publish(staging, metadata: try metadata(key))
        guard case .hit(let hit) = store.lookup(key) else { Issue.record("a published entry is a hit"); return }
        #expect(hit.metadata.checksum == published.metadata.checksum)
        guard case .hit = store.lookup(key) else { Issue.record("still a hit"); return }
        // Truncated after this process verified it: seen, because the file changed.
        #expect(truncate(published.dataPath + "/state.db", 3) == 0)
        guard case .corrupt(let reason) = store.lookup(key) else { Issue.record("a truncated entry is corrupt"); return }
        #expect(reason == "checksum mismatch")
        #expect(FileManager.default.fileExists(atPath: published.path), "lookup removes nothing")
        store.discard(key)
        #expect(!FileManager.default.fileExists(atPath: published.path))
        guard case .missing = store.lookup(key) else { Issue.record("discarded"); return }
    }
}
