import Foundation
import Testing

/// `k8senv diff` against a detached run on the storage K8SENV_STORAGE names: what a test left
/// in an instance, read with the real kube-apiserver, changes made with kubectl.
@Suite(
    "k8senv diff: what changed in an instance since it was handed out (real kube-apiserver)", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct DiffTests {
    /// One environment of `size` instances, seeded with a ConfigMap and a Secret in `default`.
    static func config(size: Int, extraArgs: [String] = []) -> String {
        """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        binaries:
          kubeAPIServer: ${K8SENV_KUBE_APISERVER:-kube-apiserver}
          etcd: ${K8SENV_ETCD:-etcd}
          kine: ${K8SENV_KINE:-kine}
        storage: ${K8SENV_STORAGE:-embedded}
        timeouts: {start: 120s, stop: 10s}
        apiServer:
          extraArgs: [\(extraArgs.map { "\"\($0)\"" }.joined(separator: ", "))]
        environments:
          one:
            pool: {size: \(size)}
            seeds:
              - name: fixtures
                manifests: [seed.yaml]

        """
    }

    static let seed = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings, namespace: default, labels: {app.kubernetes.io/name: demo}}
        data: {color: red, size: "3"}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: token, namespace: default}
        stringData: {token: abc}

        """

    /// What `diff` says when no run is found.
    static let noRun = "no k8senv up (detached or not) and no k8senv run is running"

    /// The diff of one instance, one-0, whose only change is the namespace `name` it created.
    static func expectCreatedNamespace(
        _ name: String, in text: String, _ comment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(text.contains("one-0: 1 change since revision "), "\(comment)", sourceLocation: sourceLocation)
        #expect(text.contains("+ created v1/Namespace \(name)\n"), "\(comment)", sourceLocation: sourceLocation)
    }

    static var storage: String { ProcessInfo.processInfo.environment["K8SENV_STORAGE"] ?? "embedded" }

    @Test(
        "from inside the command of a k8senv run (no detached up): diff finds that run and shows what the command created; after the run, no run is found"
    )
    func insideRun() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config(size: 1), name: "diff-run") { ws in
            try ws.write("seed.yaml", Self.seed)
            let run = try await ws.shell(
                """
                k8senv run -f k8senv.yaml -- sh -c '
                  kubectl create namespace from-run >/dev/null || exit 10
                  k8senv diff -f k8senv.yaml; echo "diff exit $?"'
                """)
            #expect(run.status == 0, "\(run)")
            Self.expectCreatedNamespace("from-run", in: run.stdout, "\(run)")
            #expect(run.stdout.contains("diff exit 1\n"), "\(run)")
            let after = try await ws.k8senv("diff")
            #expect(after.status == 2 && after.stderr.contains(Self.noRun), "\(after)")
        }
    }

    @Test(
        "a foreground up (not detached): diff finds it from another shell and shows what kubectl created; after Ctrl-C, no run is found"
    )
    func foregroundUp() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config(size: 1), name: "diff-fg") { ws in
            try ws.write("seed.yaml", Self.seed)
            let up = try ws.start(["up", "-f", "k8senv.yaml"])
            try await ws.waitForOutput(up, "ready; press Ctrl-C to stop")
            let kubeconfig = try #require(
                up.stdout.split(separator: "\n")
                    .first { $0.hasPrefix("export KUBECONFIG=") }
                    .map {
                        String($0.dropFirst("export KUBECONFIG=".count)).trimmingCharacters(
                            in: CharacterSet(charactersIn: "'"))
                    },
                "\(up.stdout)")
            let created = try await ws.shell("KUBECONFIG='\(kubeconfig)' kubectl create namespace from-foreground")
            try #require(created.status == 0, "\(created)")
            let diff = try await ws.k8senv("diff", "-f", "k8senv.yaml")
            #expect(diff.status == 1, "\(diff)")
            Self.expectCreatedNamespace("from-foreground", in: diff.stdout, "\(diff)")

            up.signal(SIGINT)
            #expect(try await up.wait(timeout: .seconds(60)) == .exited(0), "\(up.stderr)")
            let after = try await ws.k8senv("diff", "-f", "k8senv.yaml")
            #expect(after.status == 2 && after.stderr.contains(Self.noRun), "\(after)")
        }
    }

    @Test(
        "a created namespace, an edited seeded ConfigMap (the changed fields) and a deleted seeded Secret, in text and JSON, exit 1; an untouched instance shows nothing, exit 0; an unknown instance is an error, exit 2"
    )
    func changes() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config(size: 2), name: "diff") { ws in
            try ws.write("seed.yaml", Self.seed)
            let nothing = try await ws.k8senv("diff")
            #expect(nothing.status == 2 && nothing.stderr.contains(Self.noRun), "\(nothing)")

            let up = try await ws.k8senv("up", "--detach", "--quiet")
            try #require(up.status == 0, "\(up)")
            _ = try ws.write("exports.sh", up.stdout)

            // Untouched: nothing (what kube-apiserver writes by itself is not a change).
            let idle = try await ws.k8senv("diff")
            #expect(idle.status == 0, "\(idle)")
            let idleLines = idle.stdout.split(separator: "\n")
            #expect(
                idleLines.count == 2
                    && idleLines.allSatisfy { $0.hasPrefix("one-") && $0.contains(": no changes since revision ") },
                "\(idle)")

            // KUBECONFIG is one-0's.
            let edit = try await ws.shell(
                """
                . ./exports.sh
                kubectl create namespace leak >/dev/null || exit 10
                kubectl patch configmap settings -p '{"data":{"color":"blue","shape":"round"}}' >/dev/null || exit 11
                kubectl label configmap settings app.kubernetes.io/name- >/dev/null || exit 12
                kubectl delete secret token >/dev/null || exit 13
                """)
            try #require(edit.status == 0, "\(edit)")

            let text = try await ws.k8senv("diff", "one-0")
            #expect(text.status == 1, "changes: exit 1: \(text)")
            let revision = try #require(Self.revision(text.stdout), "\(text)")
            #expect(
                text.stdout == """
                    one-0: 3 changes since revision \(revision)
                    ~ changed v1/ConfigMap default/settings
                        data.color: "red" -> "blue"
                        data.shape: (none) -> "round"
                        metadata.labels: {"app.kubernetes.io/name":"demo"} -> (none)
                    + created v1/Namespace leak
                    - deleted v1/Secret default/token

                    """, "\(text)")

            // The other instance was not touched; kubectl (an independent client) agrees with the diff there.
            let other = try await ws.k8senv("diff", "one-1")
            #expect(
                other.status == 0 && other.stdout.hasPrefix("one-1: no changes since revision ")
                    && Self.revision(other.stdout) != nil,
                "\(other)")
            let kubectl = try await ws.shell(
                #"KUBECONFIG="$(k8senv status --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][1]["kubeconfig"])')" kubectl get configmap settings -o jsonpath='{.data.color}'"#
            )
            #expect(kubectl.stdout == "red", "\(kubectl)")

            // JSON: every instance, in the run's order; the documented shape.
            let json = try await ws.k8senv("diff", "--format", "json")
            #expect(json.status == 1, "\(json)")
            let object = try #require(parseJSONObject(json.stdout))
            let instances = try #require(object["instances"] as? [[String: Any]])
            #expect(instances.map { $0["instance"] as? String } == ["one-0", "one-1"])
            #expect(instances.allSatisfy { $0["environment"] as? String == "one" && $0["baselineRevision"] is Int })
            #expect((instances[1]["changes"] as? [Any])?.isEmpty == true, "\(instances[1])")
            let changes = try #require(instances[0]["changes"] as? [[String: Any]])
            #expect(
                changes.map {
                    "\($0["change"] ?? "") \($0["apiVersion"] ?? "")/\($0["kind"] ?? "") \($0["namespace"] ?? "-") \($0["name"] ?? "")"
                }
                    == [
                        "changed v1/ConfigMap default settings", "created v1/Namespace - leak",
                        "deleted v1/Secret default token",
                    ])
            let fields = try #require(changes[0]["fields"] as? [[String: Any]])
            #expect(fields.map { $0["path"] as? String } == ["data.color", "data.shape", "metadata.labels"])
            #expect(fields[0]["before"] as? String == "red" && fields[0]["after"] as? String == "blue")
            #expect(fields[1]["before"] == nil && fields[1]["after"] as? String == "round")
            #expect(
                (fields[2]["before"] as? [String: String]) == ["app.kubernetes.io/name": "demo"]
                    && fields[2]["after"] == nil)

            let unknown = try await ws.k8senv("diff", "one-7")
            #expect(unknown.status == 2, "\(unknown)")
            #expect(unknown.stderr.contains(#"instance "one-7" is not running (running: one-0, one-1)"#), "\(unknown)")

            let down = try await ws.k8senv("down")
            #expect(down.status == 0, "\(down)")
        }
    }

    @Test(
        "a leased instance after its release: nothing on the embedded store (reset to the baseline); on etcd and kine the changed and deleted seeded objects, which a cleanup keeps, and not the namespace it deleted"
    )
    func afterRelease() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config(size: 1), name: "diff-lease") { ws in
            try ws.write("seed.yaml", Self.seed)
            let up = try await ws.k8senv("up", "--detach", "--quiet")
            try #require(up.status == 0, "\(up)")
            let leased = try await ws.shell(
                """
                eval "$(k8senv acquire -e one)" || exit 10
                kubectl create namespace leak >/dev/null || exit 11
                kubectl patch configmap settings -p '{"data":{"color":"blue"}}' >/dev/null || exit 12
                kubectl delete secret token >/dev/null || exit 13
                k8senv diff "$K8SENV_INSTANCE"; echo "status $?"
                k8senv release || exit 14
                """)
            try #require(leased.status == 0, "\(leased)")
            #expect(
                leased.stdout.contains("+ created v1/Namespace leak\n") && leased.stdout.contains("status 1\n"),
                "the holder sees what it did: \(leased)")
            let after = try await ws.k8senv("diff")
            if Self.storage == "embedded" {
                #expect(after.status == 0 && after.stdout.contains("one-0: no changes since revision"), "\(after)")
            } else {
                #expect(after.status == 1, "\(after)")
                #expect(
                    after.stdout.hasSuffix(
                        """
                        ~ changed v1/ConfigMap default/settings
                            data.color: "red" -> "blue"
                        - deleted v1/Secret default/token

                        """), "\(after)")
                #expect(!after.stdout.contains("leak"), "\(after)")
            }
            _ = try await ws.k8senv("down")
        }
    }

    @Test(
        "after a lease's release and kube-apiserver compacting its store past the baseline: the embedded store kept it and the diff is right; on etcd and kine a clear error, exit 2, never a wrong diff"
    )
    func compacted() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(
            config: Self.config(size: 1, extraArgs: ["--etcd-compaction-interval=1s"]), name: "diff-compact"
        ) { ws in
            try ws.write("seed.yaml", Self.seed)
            let up = try await ws.k8senv("up", "--detach", "--quiet")
            try #require(up.status == 0, "\(up)")
            _ = try ws.write("exports.sh", up.stdout)
            // A lease and its release first (on the embedded store a reset, which moves the
            // revision the pool keeps for its next reset past the baseline); then writes a second
            // apart: each compaction (every second, to the revision the previous one saw) passes
            // the baseline.
            let edit = try await ws.shell(
                """
                eval "$(k8senv acquire -e one)" || exit 12
                kubectl create namespace borrowed >/dev/null || exit 13
                k8senv release || exit 14
                . ./exports.sh
                kubectl patch configmap settings -p '{"data":{"color":"blue"}}' >/dev/null || exit 10
                for i in 1 2 3 4 5; do sleep 1; kubectl create namespace leak-$i >/dev/null || exit 11; done
                sleep 3
                """)
            try #require(edit.status == 0, "\(edit)")
            let diff = try await ws.k8senv("diff")
            if Self.storage == "embedded" {
                #expect(diff.status == 1, "\(diff)")
                #expect(
                    diff.stdout.contains(
                        """
                        ~ changed v1/ConfigMap default/settings
                            data.color: "red" -> "blue"
                        + created v1/Namespace leak-1
                        """), "\(diff)")
            } else {
                #expect(diff.status == 2, "\(diff)")
                #expect(diff.stdout.isEmpty, "\(diff)")
                #expect(
                    diff.stderr.contains("one-0: its store no longer holds revision ")
                        && diff.stderr.contains("compacted"), "\(diff)")
            }
            _ = try await ws.k8senv("down")
        }
    }

    /// The revision in `one-N: … since revision R`.
    static func revision(_ text: String) -> Int? {
        guard let range = text.range(of: "since revision ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}
