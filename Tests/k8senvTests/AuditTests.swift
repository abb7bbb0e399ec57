import Foundation
import K8sEnvRunner
import Testing

/// `audit:` end to end: `k8senv audit` on a detached `up` (table and JSON), the pool API's
/// `GET /v1/leases/{id}/audit`, and what `k8senv run` prints when its command fails.
@Suite(
    "k8senv audit and run's report of a failed command (real kube-apiserver)", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct AuditTests {
    static let audited = Workspace.smallConfig("audit: {level: Metadata}")

    /// The kubectl calls a user makes, and what each should leave in the log:
    /// verb, resource, namespace/name, code.
    static let calls = """
        kubectl create namespace team >/dev/null || exit 11
        kubectl -n team create configmap x --from-literal=a=1 >/dev/null || exit 12
        kubectl -n team get configmap x -o name >/dev/null || exit 13
        kubectl -n team patch configmap x -p '{"data":{"a":"2"}}' >/dev/null || exit 14
        kubectl -n team delete configmap x --wait=false >/dev/null || exit 15
        kubectl -n team get configmap x 2>/dev/null && exit 16
        exit 0
        """
    /// (`kubectl patch` reads the object first; a `kubectl get` answered 404 looks up the
    /// namespace, to say whether it exists.)
    static let expected = [
        "create namespaces team 201", "create configmaps team/x 201", "get configmaps team/x 200",
        "get configmaps team/x 200", "patch configmaps team/x 200", "delete configmaps team/x 200",
        "get configmaps team/x 404",
        "get namespaces team/team 200",
    ]

    /// kubectl's requests among the events (k8senv's own readiness checks left out), as
    /// "verb resource namespace/name code".
    static func kubectlRequests(_ json: String) throws -> [String] {
        let object = try #require(parseJSONObject(json), "\(json)")
        let events = try #require(object["events"] as? [[String: Any]], "\(json)")
        return events.filter { ($0["userAgent"] as? String ?? "").hasPrefix("kubectl") }.map { e in
            let objectName = [e["namespace"] as? String, e["name"] as? String].compactMap { $0 }.joined(separator: "/")
            return
                "\(e["verb"] as? String ?? "?") \(e["resource"] as? String ?? "?") \(objectName) \(e["code"] as? Int ?? 0)"
        }
    }

    @Test(
        "a detached up with audit: kubectl's calls in order with their codes in `audit --format json` and the table; --since; one instance; a lease's requests from the pool API; an attached run's failed command"
    )
    func detached() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.audited, name: "audit-up") { ws in
            let up = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            _ = try ws.write("exports.sh", up.stdout)
            let made = try await ws.shell(#"eval "$(cat exports.sh)" && "# + Self.calls)
            #expect(made.status == 0, "\(made)")

            let json = try await ws.k8senv("audit", "-f", "k8senv.yaml", "--format", "json")
            #expect(json.status == 0, "\(json)")
            #expect(try Self.kubectlRequests(json.stdout) == Self.expected, "\(json)")

            let table = try await ws.k8senv("audit", "-f", "k8senv.yaml")
            #expect(table.status == 0, "\(table)")
            let rows = table.stdout.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            }
            #expect(
                rows.first == ["TIME", "INSTANCE", "USER", "VERB", "RESOURCE", "NAMESPACE/NAME", "CODE", "LATENCY"],
                "\(table)")
            let patch = try #require(rows.first { $0.count > 3 && $0[3] == "patch" }, "\(table)")
            #expect(
                patch.count == 8 && patch[1] == "one-0" && patch[2] == "k8senv-admin" && patch[4] == "configmaps"
                    && patch[5] == "team/x" && patch[6] == "200" && patch[7].hasSuffix("ms"), "\(patch)")

            // One instance (no instance column), and --since: a duration back from now, a time to come.
            let one = try await ws.k8senv("audit", "-f", "k8senv.yaml", "one-0", "--since", "10m", "--format", "json")
            #expect(try Self.kubectlRequests(one.stdout) == Self.expected, "\(one)")
            let later = try await ws.k8senv(
                "audit", "-f", "k8senv.yaml", "--since", "2999-01-01T00:00:00Z", "--format", "json")
            #expect(try Self.kubectlRequests(later.stdout).isEmpty, "\(later)")
            let bad = try await ws.k8senv("audit", "-f", "k8senv.yaml", "--since", "yesterday")
            #expect(bad.status == 2 && bad.stderr.contains("--since yesterday: give a Go duration"), "\(bad)")
            let unknown = try await ws.k8senv("audit", "-f", "k8senv.yaml", "two-0")
            #expect(unknown.status == 1 && unknown.stderr.contains(#"no audit log of instance "two-0""#), "\(unknown)")

            // The pool API: a lease's requests since it was lent, not the ones before.
            let leased = try await ws.shell(
                #"""
                eval "$(cat exports.sh)"
                eval "$(k8senv acquire -f k8senv.yaml)" || exit 10
                kubectl create configmap leased >/dev/null || exit 11
                python3 -c '
                import http.client, os, socket, sys
                class Unix(http.client.HTTPConnection):
                    def connect(self):
                        self.sock = socket.socket(socket.AF_UNIX)
                        self.sock.connect(os.environ["K8SENV_POOL"])
                c = Unix("localhost")
                c.request("GET", "/v1/leases/" + os.environ["K8SENV_LEASE"] + "/audit")
                r = c.getresponse()
                print(r.status)
                print(r.read().decode())
                '
                """#)
            #expect(leased.status == 0, "\(leased)")
            let lines = leased.stdout.split(separator: "\n").map(String.init)
            try #require(lines.count == 2 && lines[0] == "200", "\(leased)")
            #expect(try Self.kubectlRequests(lines[1]) == ["create configmaps default/leased 201"], "\(leased)")

            // A run attached to this up whose command fails: its lease's mutating requests, from
            // the pool API, before the lease is released.
            let attached = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "sh", "-c", "kubectl create configmap attached >/dev/null; exit 5")
            #expect(attached.status == 5, "\(attached)")
            #expect(attached.stderr.contains("attached to the pool service"), "\(attached)")
            let row =
                attached.stderr.split(separator: "\n").first { $0.contains(" create ") }?
                .split(separator: " ", omittingEmptySubsequences: true).map(String.init) ?? []
            #expect(
                row.count == 7 && row[2] == "create" && row[4] == "default/attached" && row[5] == "201", "\(attached)")
            #expect(!attached.stderr.contains("leased"), "not the earlier lease's request: \(attached)")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "run whose command fails: exit status kept, the create it made printed with 201, the audit logs kept and readable with `audit`; without audit: a hint, nothing kept"
    )
    func failedRun() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.audited, name: "audit-run") { ws in
            let run = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "sh", "-c",
                "kubectl create configmap x >/dev/null; kubectl get configmap x >/dev/null; exit 3")
            #expect(run.status == 3, "\(run)")
            let lines = run.stderr.split(separator: "\n").map(String.init)
            let create = lines.first { $0.contains(" create ") }
            let fields = create?.split(separator: " ", omittingEmptySubsequences: true).map(String.init) ?? []
            #expect(
                fields.count == 7 && fields[1] == "k8senv-admin" && fields[2] == "create" && fields[3] == "configmaps"
                    && fields[4] == "default/x" && fields[5] == "201", "\(run)")
            #expect(
                !lines.contains { $0.contains(" get ") && $0.contains("default/x") }, "only mutating requests: \(run)")
            let kept = try #require(lines.first { $0.hasPrefix("audit logs kept in ") }, "\(run)")
            let folder = String(kept.dropFirst("audit logs kept in ".count).prefix { $0 != " " })
            #expect(FileManager.default.fileExists(atPath: folder + "/one-0/logs/audit.log"), "\(folder)")
            // Issue 25: every request's user and object, readable by this user only.
            var info = stat()
            #expect(
                stat(folder + "/one-0/logs/audit.log", &info) == 0 && info.st_mode & 0o777 == 0o600,
                "audit.log mode \(String(info.st_mode & 0o777, radix: 8))")
            #expect(!FileManager.default.fileExists(atPath: folder + "/run.json"), "nothing runs any more")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")

            // The kept logs, found without --run (the newest run folder with audit logs) and with it.
            for arguments in [
                ["audit", "-f", "k8senv.yaml", "--format", "json"], ["audit", "--run", folder, "--format", "json"],
            ] {
                let read = try await ws.finish(ws.start(arguments))
                #expect(
                    try Self.kubectlRequests(read.stdout) == [
                        "create configmaps default/x 201", "get configmaps default/x 200",
                    ], "\(read)")
            }

            // Without audit: a hint, and nothing kept.
            _ = try ws.write("plain/k8senv.yaml", Workspace.smallConfig())
            let plain = try await ws.k8senv("run", "-f", "plain/k8senv.yaml", "--", "sh", "-c", "exit 4")
            #expect(plain.status == 4, "\(plain)")
            #expect(plain.stderr.contains("hint: with `audit:` in k8senv.yaml"), "\(plain)")
            #expect(
                plain.stderr.contains("https://github.com/k8senv/k8senv/blob/main/docs/how-to/failed-test-requests.md")
                    && !plain.stderr.contains("(docs/"), "\(plain)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: ws("plain/.k8senv/runs"))) ?? []).isEmpty)
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    /// The audit report of `run`'s output (its heading and the lines under it), each line with
    /// what differs between two runs (times, latencies, the log's run folder) written as `*`.
    static func report(_ stderr: String) -> [String] {
        let lines = stderr.split(separator: "\n").map(String.init)
        guard let start = lines.firstIndex(of: "the command failed; the requests it made (audit):") else { return [] }
        return lines[start...].prefix { $0 == lines[start] || $0.hasPrefix("one-") || $0.hasPrefix("  ") }.map { line in
            if line.hasPrefix("  "), !line.contains("TIME") {
                var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                fields[0] = "*"
                fields[fields.count - 1] = "*"
                return fields.joined(separator: " ")
            }
            guard let log = line.range(of: "(log: ") else { return line }
            return line[..<log.upperBound] + "*):"
        }
    }

    @Test(
        "issue 28: a failed command's audit report is the same lines in a run of its own and in a run attached to up: the run's lease only, not the instance its test leased"
    )
    func sameReportOwnAndAttached() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.audited, name: "audit-same") { ws in
            // The command writes through KUBECONFIG, and its "test" leases the pool's other instance and writes there.
            let command = #"""
                kubectl create configmap mine >/dev/null || exit 10
                eval "$("$0" acquire --timeout 5)" || exit 11
                kubectl create configmap theirs >/dev/null || exit 12
                exit 3
                """#
            let own = try await ws.k8senv(
                "run", "--pool-size", "2", "-f", "k8senv.yaml", "--", "/bin/sh", "-c", command, Repository.binary)
            #expect(own.status == 3, "\(own)")
            let up = try await ws.k8senv("up", "--detach", "--quiet", "--pool-size", "2", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            let attached = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "/bin/sh", "-c", command, Repository.binary)
            #expect(attached.status == 3 && attached.stderr.contains("attached to the pool service"), "\(attached)")
            let ownReport = Self.report(own.stderr)
            #expect(
                ownReport.count == 4 && ownReport.contains { $0.contains("create configmaps default/mine 201") },
                "\(own)")
            #expect(!own.stderr.contains("default/theirs"), "not the requests of the instance a test leased: \(own)")
            #expect(Self.report(attached.stderr) == ownReport, "own:\n\(own.stderr)\nattached:\n\(attached.stderr)")
            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
