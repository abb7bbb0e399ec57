import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

/// The pool API of `up --detach` (docs/reference/pool-api.md), used as a shell script and a
/// test in another language use it: `k8senv acquire`/`release`, kubectl, curl-like requests.
@Suite(
    "the pool service of up --detach (real kube-apiserver)", .tags(.integration), .timeLimit(Workspace.integrationLimit)
)
struct PoolServiceTests {
    /// Instances per state, from the service's status.
    static func states(_ socket: String) async throws -> [String: String] {
        let answer = try await PoolClient(socketPath: socket).send("GET", "/v1/status", timeout: .seconds(10))
        guard answer.status == 200, let object = parseJSONObject(String(decoding: answer.body, as: UTF8.self)),
            let environments = object["environments"] as? [[String: Any]]
        else { throw FixtureError("status: \(answer)") }
        var states: [String: String] = [:]
        for environment in environments {
            for instance in environment["instances"] as? [[String: Any]] ?? [] {
                states[instance["name"] as? String ?? "?"] = instance["state"] as? String
            }
        }
        return states
    }

    @Test(
        "acquire from a shell: an instance of its own, what it made is gone for the next holder, a second release is an error naming the lease"
    )
    func leaseFromShell() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true, name: "pool-shell") { ws in
            let up = try await ws.k8senv("up", "--detach", "--quiet", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            let socket = ws.stateFolder + "/pool.sock"
            #expect(up.stdout.contains("export K8SENV_POOL=\(socket)\n"), "\(up)")
            #expect(Procfs.mode(socket) == 0o600 && Procfs.mode(ws.stateFolder) == 0o700)
            #expect(try await Self.states(socket) == ["base-0": "idle", "base-1": "idle", "payments-0": "idle"])

            // payments has one instance: the second holder gets the same one, reset.
            let first = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 10
                kubectl create namespace mine >/dev/null && kubectl create configmap left -n payments >/dev/null || exit 11
                echo "$K8SENV_INSTANCE $K8SENV_LEASE"
                k8senv release -f k8senv.yaml || exit 12
                k8senv release -f k8senv.yaml "$K8SENV_LEASE"
                """)
            #expect(first.status == 1, "the second release fails: \(first)")
            let fields = first.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            try #require(fields.count == 2 && fields[0] == "payments-0", "\(first)")
            #expect(first.stderr.contains("error: lease \(fields[1]) is not held: it was released already"), "\(first)")

            let second = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 10
                echo "$K8SENV_INSTANCE"
                kubectl get namespace mine 2>&1; kubectl get configmap left -n payments 2>&1
                kubectl get ledgers -n payments -o name
                """)
            #expect(second.stdout.hasPrefix("payments-0\n"), "\(second)")
            #expect(second.stdout.contains(#"namespaces "mine" not found"#), "\(second)")
            #expect(second.stdout.contains(#"configmaps "left" not found"#), "\(second)")
            #expect(second.stdout.contains("ledger.example.k8senv.dev/main"), "the seeded objects stay: \(second)")
            // Its holder was that shell, which has exited: the lease is taken back.
            #expect(try await eventually { try await Self.states(socket)["payments-0"] == "idle" })

            // The lease's credentials end with it: its kubeconfig (kept aside) is refused on the
            // first request after the release — 403 with k8senv's reason while kube-apiserver
            // remembers the token (10 s), 401 after —, the next lease's works; kubectl is the
            // independent client.
            let revoked = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 10
                cp "$KUBECONFIG" old.kubeconfig
                kubectl --kubeconfig old.kubeconfig get namespace default -o name || exit 11
                k8senv release -f k8senv.yaml || exit 12
                test -e "$KUBECONFIG" && exit 13
                kubectl --kubeconfig old.kubeconfig get namespace default -o name && exit 14
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 15
                kubectl get namespace default -o name
                kubectl --kubeconfig old.kubeconfig get namespace default -o name && exit 16
                k8senv release -f k8senv.yaml || exit 17
                """)
            #expect(revoked.status == 0 && revoked.stdout == "namespace/default\nnamespace/default\n", "\(revoked)")
            let refusals = revoked.stderr.components(separatedBy: "\n").filter {
                $0.contains("k8senv: the lease this token belongs to has ended") || $0.contains("(Unauthorized)")
            }
            #expect(refusals.count == 2, "each use of the old kubeconfig after its release is refused: \(revoked)")

            // Errors: an unknown environment, none named when two are served.
            let unknown = try await ws.k8senv("acquire", "-f", "k8senv.yaml", "-e", "paymnts")
            #expect(
                unknown.status == 1
                    && unknown.stderr.contains(#"no environment "paymnts" is served here; served: base, payments"#),
                "\(unknown)")
            let unnamed = try await ws.k8senv("acquire", "-f", "k8senv.yaml")
            #expect(unnamed.status == 1 && unnamed.stderr.contains("name the environment"), "\(unnamed)")

            // run attaches: a lease per environment, the same variables, no instance started.
            let runs = ws.runFolders()
            let attached = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "/bin/sh", "-c",
                #"kubectl create namespace attached >/dev/null && echo "$K8SENV_KUBECONFIG_PAYMENTS" && exit 7"#)
            #expect(attached.status == 7, "the command's status: \(attached)")
            #expect(
                attached.stderr.contains("attached to the pool service of k8senv up")
                    && attached.stderr.contains("payments → payments-0"), "\(attached)")
            #expect(
                attached.stdout.hasPrefix(ws.stateFolder + "/runs/") && attached.stdout.contains("/payments-0/leases/")
                    && attached.stdout.hasSuffix("/kubeconfig\n"), "the lease's own kubeconfig: \(attached)")
            #expect(ws.runFolders() == runs, "no run of its own")
            let after = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "-e", "payments", "--", "kubectl", "get", "namespace", "attached")
            #expect(
                after.status == 1 && after.stderr.contains(#"namespaces "attached" not found"#),
                "released and reset: \(after)")
            #expect(try await eventually { try await Self.states(socket).values.allSatisfy { $0 == "idle" } })
            // A fresh run serves a pool of its own (beside the detached one): its command leases from
            // it, the instances its own lease (KUBECONFIG) leaves: base's other one; payments has
            // one instance, which the run holds, and the acquire says so when it gives up.
            let served = try await ws.k8senv(
                "run", "--fresh", "--quiet", "-f", "k8senv.yaml", "--", "/bin/sh", "-c",
                #"""
                echo "$K8SENV_POOL"
                (eval "$("$0" acquire -e base)" && kubectl get widgets -n demo -o name) || exit 10
                "$0" acquire -e payments --timeout 1 >/dev/null && exit 11
                exit 0
                """#, Repository.binary)
            #expect(served.status == 0, "\(served)")
            #expect(
                served.stdout.hasSuffix("/pool.sock\nwidget.example.k8senv.dev/sample\n")
                    && !served.stdout.hasPrefix(socket), "\(served)")
            #expect(
                served.stderr.contains("no instance of payments became free within 1")
                    && served.stderr.contains("payments-0 is held by `k8senv run` as its command's KUBECONFIG (pid ")
                    && served.stderr.contains(
                        "a pool of 1 lends the command's tests none while it runs (raise pool.size of payments in k8senv.yaml, or --pool-size)"
                    ),
                "\(served)")
            #expect(Procfs.mode(socket) == 0o600, "the detached up's socket is untouched")
            let fresh = try await ws.k8senv(
                "run", "--fresh", "--quiet", "-f", "k8senv.yaml", "-e", "payments", "--", "/bin/sh", "-c",
                #"echo "$KUBECONFIG""#)
            #expect(
                fresh.status == 0 && !fresh.stderr.contains("attached")
                    && !fresh.stdout.hasPrefix(attached.stdout.components(separatedBy: "/payments-0")[0]), "\(fresh)")

            // A release with mode clean: what the holder created is deleted, a seeded object keeps its change.
            let cleaned = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 10
                kubectl create namespace cleaned >/dev/null && kubectl label ledger main -n payments touched=yes >/dev/null || exit 11
                k8senv release -f k8senv.yaml --mode clean || exit 12
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 13
                kubectl get namespace cleaned 2>&1; kubectl get ledger main -n payments -o 'jsonpath={.metadata.labels.touched}{"\\n"}'
                k8senv release -f k8senv.yaml --mode bogus; echo "bogus $?"
                k8senv release -f k8senv.yaml || exit 14
                """)
            #expect(
                cleaned.status == 0 && cleaned.stdout.contains(#"namespaces "cleaned" not found"#)
                    && cleaned.stdout.contains("\nyes\nbogus 2\n"),
                "\(cleaned)")
            #expect(cleaned.stderr.contains("--mode must be reset, clean, stop or keep"), "\(cleaned)")

            // A release with mode stop: the pool replaces the instance; up serves on.
            let stopped = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 10
                k8senv release -f k8senv.yaml --mode stop || exit 11
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 12
                echo "$K8SENV_INSTANCE"
                kubectl get ledgers -n payments -o name
                """)
            #expect(
                stopped.status == 0 && stopped.stdout == "payments-1\nledger.example.k8senv.dev/main\n", "\(stopped)")
            let ownerPID = ws.runRecords().first?["ownerPID"] as? Int
            let owner = try #require(ownerPID.map { Int32($0) })
            #expect(Procfs.isRunning(owner), "up still serves")
            #expect(
                try await eventually {
                    try await Self.states(socket) == ["base-0": "idle", "base-1": "idle", "payments-1": "idle"]
                })
            // The replacement is in the run record (k8senv status, env, a later cleanup) instead of the stopped one.
            let recorded = (ws.runRecords().first?["instances"] as? [[String: Any]] ?? []).compactMap {
                $0["name"] as? String
            }
            #expect(recorded.sorted() == ["base-0", "base-1", "payments-1"], "\(recorded)")
            let status = try await ws.k8senv("status", "-f", "k8senv.yaml")
            #expect(status.stdout.contains("payments-1") && !status.stdout.contains("payments-0"), "\(status)")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(!FileManager.default.fileExists(atPath: socket), "down removes the socket")
            let gone = try await ws.k8senv("acquire", "-f", "k8senv.yaml", "-e", "payments")
            #expect(gone.status == 1 && gone.stderr.contains("no k8senv pool service is running"), "\(gone)")
        }
    }

    @Test(
        "status after the pool replaced an instance: the replacement with its own start time; the run's own time does not move"
    )
    func statusAfterReplacement() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "status-replaced") { ws in
            let up = try await ws.k8senv("up", "--detach", "--quiet", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            let before = try await ws.k8senv("status", "-f", "k8senv.yaml")
            let (runSince, firstRows) = try Self.parseStatus(before.stdout)
            let original = try #require(firstRows["one-0"], "\(before)")
            // one-0 released with mode stop: the next acquire gets one-1, which the pool started in its place.
            let replaced = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml)" && k8senv release -f k8senv.yaml --mode stop || exit 10
                eval "$(k8senv acquire -f k8senv.yaml)" && echo "$K8SENV_INSTANCE" && k8senv release -f k8senv.yaml || exit 11
                """)
            try #require(replaced.status == 0 && replaced.stdout == "one-1\n", "\(replaced)")
            let after = try await ws.k8senv("status", "-f", "k8senv.yaml")
            let (runSinceAfter, rows) = try Self.parseStatus(after.stdout)
            #expect(Array(rows.keys) == ["one-1"], "\(after)")
            #expect(runSinceAfter == runSince, "the run's start stays the run's: \(before)\n\(after)")
            let replacement = try #require(rows["one-1"], "\(after)")
            #expect(
                replacement > original && replacement > runSince, "the replacement's own start: \(before)\n\(after)")
            let json = try await ws.k8senv("status", "-f", "k8senv.yaml", "--format", "json")
            let instances = try #require(parseJSONObject(json.stdout)?["instances"] as? [[String: Any]])
            #expect(instances.first?["since"] as? String != nil, "\(json)")
            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
        }
    }

    /// `status`'s text: the run's start time and each instance's.
    static func parseStatus(_ text: String) throws -> (run: Date, instances: [String: Date]) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let lines = text.split(separator: "\n").map(String.init)
        let header = try #require(lines.first?.split(separator: " ").last.map { String($0.dropLast()) }, "\(text)")
        let run = try #require(formatter.date(from: header), "\(header) in \(text)")
        var instances: [String: Date] = [:]
        for line in lines.dropFirst() {
            let words = line.split(separator: " ").map(String.init)
            guard words.count == 6, words[4] == "since" else {
                Issue.record("an instance line without its start time: \(line)")
                continue
            }
            instances[words[0]] = formatter.date(from: words[5])
        }
        return (run, instances)
    }

    @Test(
        "a holder SIGKILLed while it holds a lease: the instance is reset and idle again; a client of another uid cannot connect; the service SIGKILLed leaves nothing and clients are told"
    )
    func faults() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true, name: "pool-faults") { ws in
            let up = try await ws.k8senv("up", "--detach", "--quiet", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            let socket = ws.stateFolder + "/pool.sock"
            let holder = try ws.launch("/bin/sleep", ["600"])
            let holder2 = try ws.launch("/bin/sleep", ["600"])
            let leased = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments --holder \(holder.pid))" || exit 10
                kubectl create namespace leaked >/dev/null || exit 11
                echo "$K8SENV_INSTANCE"
                """)
            try #require(leased.status == 0 && leased.stdout == "payments-0\n", "\(leased)")
            #expect(try await Self.states(socket)["payments-0"] == "leased", "held while its holder lives")
            holder.kill9AndReap()
            #expect(
                try await eventually { try await Self.states(socket)["payments-0"] == "idle" },
                "taken back after its holder died")
            let next = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments)" || exit 10
                kubectl get namespace leaked 2>&1
                """)
            #expect(next.stdout.contains(#"namespaces "leaked" not found"#), "\(next)")
            // That shell has exited too: its lease is taken back.
            #expect(try await eventually { try await Self.states(socket).values.allSatisfy { $0 == "idle" } })

            // A TTL ends a lease whose holder lives on.
            let ttl = try await ws.shell(
                """
                eval "$(k8senv acquire -f k8senv.yaml -e payments --holder \(holder2.pid) --ttl 1)" || exit 10
                echo "$K8SENV_INSTANCE"
                """)
            #expect(ttl.status == 0 && ttl.stdout == "payments-0\n", "\(ttl)")
            #expect(
                try await eventually { try await Self.states(socket)["payments-0"] == "idle" },
                "taken back after its TTL")
            #expect(Procfs.isRunning(holder2.pid), "its holder lives on")

            // Another uid: the socket (0600, in a 0700 folder) does not let it connect.
            let intruder = try await ws.shell(
                """
                /usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
                import socket, sys
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(sys.argv[1]); s.sendall(b"POST /v1/leases HTTP/1.1\\r\\nContent-Length: 0\\r\\n\\r\\n"); print(s.recv(100))
                except OSError as e:
                    print("refused:", e.strerror); sys.exit(3)
                ' \(socket)
                """)
            #expect(intruder.status == 3 && intruder.stdout.contains("refused: Permission denied"), "\(intruder)")
            #expect(
                try await Self.states(socket).values.filter { $0 == "leased" }.isEmpty, "no lease was granted to it")

            // The service killed: nothing is left, and a client is told there is no service.
            let record = try #require(ws.runRecords().first)
            let recorded = record["ownerPID"] as? Int
            let owner = try #require(recorded.map { Int32($0) })
            kill(owner, SIGKILL)
            #expect(
                try await eventually(within: .seconds(30)) { ws.recordedPIDs().allSatisfy { !Procfs.isRunning($0) } })
            let after = try await ws.k8senv("acquire", "-f", "k8senv.yaml", "-e", "payments", "--timeout", "5")
            // Told, not left hanging: no service answers (refused), or the one that was there is gone.
            #expect(after.status == 1, "\(after)")
            #expect(
                after.stderr.contains("no k8senv pool service is running")
                    || after.stderr.contains("the pool service at"), "\(after)")
        }
    }
}
