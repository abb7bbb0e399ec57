import Foundation
import Testing

/// `k8senv run -- CMD`: up, the command with KUBECONFIG set, down, the command's status.
@Suite("k8senv run (real kube-apiserver and etcd)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct RunTests {
    @Test("run passes the command's exit status through, and leaves nothing running")
    func exitStatus() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "run-status") { ws in
            let outcome = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "sh", "-c", "exit 7")
            #expect(outcome.status == 7, "\(outcome)")
            // 64 is also ArgumentParser's usage-error code; the command's 64 is passed through.
            let usage = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "sh", "-c", "exit 64")
            #expect(usage.status == 64, "\(usage)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
        }
    }

    @Test(
        "an instance that dies while the command runs: exit 1 after a passing command, the error named, its logs kept and named"
    )
    func instanceDiesUnderCommand() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "run-dies") { ws in
            let killAPIServer = #"""
                import glob, json, os, signal, time
                record = json.load(open(glob.glob(".k8senv/runs/*/run.json")[0]))
                os.kill(record["instances"][0]["apiServerPID"], signal.SIGKILL)
                time.sleep(1)
                """#
            let outcome = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "python3", "-c", killAPIServer)
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("an instance stopped while the command ran"), "\(outcome)")
            let kept = try #require(
                outcome.stderr.split(separator: "\n").last { $0.hasPrefix("logs kept in ") }, "\(outcome)")
            let folder = String(kept.dropFirst("logs kept in ".count))
            #expect(FileManager.default.fileExists(atPath: folder), "\(folder)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("run: a command that is not found exits 127, one killed by a signal exits 128+signal")
    func notFoundAndSignal() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "run-127") { ws in
            let missing = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "k8senv-no-such-command", "x")
            #expect(missing.status == 127, "\(missing)")
            #expect(missing.stderr.contains("k8senv-no-such-command"), "\(missing)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")

            let killed = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "sh", "-c", "kill -TERM $$")
            #expect(killed.status == 128 + SIGTERM, "\(killed)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
        }
    }

    @Test(
        "run on the example: kubectl sees the seeded Widget; KUBECONFIG, K8SENV_KUBECONFIGS and K8SENV_KUBECONFIG_<ENV> are the run's leases, one per environment; nothing is left"
    )
    func example() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true, name: "run-example") { ws in
            let script = """
                printf 'KUBECONFIG=%s\\n' "$KUBECONFIG"
                printf 'K8SENV_KUBECONFIGS=%s\\n' "$K8SENV_KUBECONFIGS"
                printf 'K8SENV_KUBECONFIG_BASE=%s\\n' "$K8SENV_KUBECONFIG_BASE"
                printf 'K8SENV_KUBECONFIG_PAYMENTS=%s\\n' "$K8SENV_KUBECONFIG_PAYMENTS"
                kubectl get widgets -n demo -o name
                kubectl --kubeconfig "$K8SENV_KUBECONFIG_PAYMENTS" get ledgers -n payments -o name
                """
            let outcome = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "sh", "-c", script)
            #expect(outcome.status == 0, "\(outcome)")
            let lines = outcome.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains("widget.example.k8senv.dev/sample"), "\(outcome)")
            #expect(lines.contains("ledger.example.k8senv.dev/main"), "\(outcome)")

            var variables: [String: String] = [:]
            for line in lines where line.contains("=") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                variables[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            let base = try #require(variables["K8SENV_KUBECONFIG_BASE"], "\(outcome)")
            let payments = try #require(variables["K8SENV_KUBECONFIG_PAYMENTS"], "\(outcome)")
            // The lease's own kubeconfig (leases/<n>/ of the instance), as an attached run's.
            #expect(
                base.hasPrefix(ws.stateFolder + "/runs/") && base.contains("/leases/") && base.hasSuffix("/kubeconfig"),
                "\(base)")
            #expect(
                payments.hasPrefix(ws.stateFolder + "/runs/") && payments.contains("/payments-") && payments != base,
                "\(payments)")
            #expect(variables["KUBECONFIG"] == base, "KUBECONFIG is the first environment's lease")
            // One lease per environment (not every instance of the pools: the others are the tests').
            #expect(variables["K8SENV_KUBECONFIGS"] == base + ":" + payments, "\(outcome)")

            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
            #expect(!FileManager.default.fileExists(atPath: base), "the kubeconfig is removed with its run")
        }
    }

    @Test(
        "issue 28: in a run of its own, the command's tests never lease KUBECONFIG's instance: base (pool 2) lends them the other one, a second acquire times out naming `k8senv run`'s KUBECONFIG; what the command wrote through KUBECONFIG survives the test's release (mode reset)"
    )
    func ownLeaseIsNotLent() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true, name: "run-own-lease") { ws in
            let script = #"""
                k="$0"
                server() { kubectl --kubeconfig "$1" config view --minify -o 'jsonpath={.clusters[0].cluster.server}'; }
                RUN_KC="$KUBECONFIG"; RUN_SERVER=$(server "$RUN_KC")
                kubectl create configmap mine -n default >/dev/null || exit 10
                eval "$("$k" acquire -e base --timeout 5)" || exit 11
                FIRST="$K8SENV_LEASE"
                [ "$K8SENV_SERVER" = "$RUN_SERVER" ] && echo "first lease: KUBECONFIG's instance"
                kubectl create configmap theirs -n default >/dev/null || exit 12
                # (An assignment keeps acquire's status; eval "$(…)" of nothing would succeed.)
                if second=$("$k" acquire -e base --timeout 1); then
                    eval "$second"
                    echo "second acquire: granted"
                    [ "$K8SENV_SERVER" = "$RUN_SERVER" ] && echo "second lease: KUBECONFIG's instance"
                    "$k" release --mode reset "$K8SENV_LEASE"
                fi
                "$k" release --mode reset "$FIRST" || exit 13
                kubectl --kubeconfig "$RUN_KC" get configmap mine -n default -o name
                """#
            let outcome = try await ws.k8senv(
                "run", "--quiet", "-f", "k8senv.yaml", "--", "/bin/sh", "-c", script, Repository.binary)
            #expect(outcome.status == 0, "\(outcome)")
            #expect(
                !outcome.stdout.contains("KUBECONFIG's instance"),
                "a test got the instance KUBECONFIG names: \(outcome)")
            #expect(
                !outcome.stdout.contains("second acquire: granted"),
                "pool.size 2: one for the run, one for the tests: \(outcome)")
            #expect(
                outcome.stderr.contains("is held by `k8senv run` as its command's KUBECONFIG (pid ")
                    && outcome.stderr.contains("a pool of 2 lends the command's tests 1 while it runs"), "\(outcome)")
            #expect(
                outcome.stdout.hasSuffix("configmap/mine\n"),
                "what the command wrote through KUBECONFIG is still there: \(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
