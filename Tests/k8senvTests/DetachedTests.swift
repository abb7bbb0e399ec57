import Foundation
import Testing

/// `up --detach`, then `status`, `env` and `down` against the one detached run (each check is
/// what a user does next with the same environments, so one `up` serves them all).
@Suite(
    "k8senv up --detach, status, env, down (real kube-apiserver and etcd)", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct DetachedTests {
    @Test(
        "up --detach on the example: status, env, kubectl, two environments (three instances) on their own ports, private files, kube-apiserver on 127.0.0.1, stores on Unix sockets; down stops everything"
    )
    func detachedExample() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true, name: "detach") { ws in
            let up = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            #expect(up.stderr.contains("running in the background"), "\(up)")
            // stdout is only export lines, for eval "$(k8senv up --detach)".
            let exports = up.stdout.split(separator: "\n")
            #expect(!exports.isEmpty && exports.allSatisfy { $0.hasPrefix("export ") }, "\(up)")
            #expect(up.stdout.contains("export KUBECONFIG="), "\(up)")
            _ = try ws.write("exports.sh", up.stdout)
            let evaluated = try await ws.shell(#"eval "$(cat exports.sh)" && kubectl get widgets -n demo -o name"#)
            #expect(evaluated.stdout == "widget.example.k8senv.dev/sample\n", "\(evaluated)")

            // A second detached up of the same config is refused while the first runs.
            let again = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml")
            #expect(again.status == 1, "\(again)")
            #expect(again.stderr.contains("already running"), "\(again)")

            // status: each instance up.
            let status = try await ws.k8senv("status", "-f", "k8senv.yaml")
            #expect(status.status == 0, "\(status)")
            #expect(status.stdout.hasPrefix("running (pid "), "\(status)")
            let rows = status.stdout.split(separator: "\n").dropFirst().map {
                $0.split(separator: " ").map(String.init)
            }
            // The example's pools: base 2 instances, payments 1.
            #expect(rows.map { $0.first } == ["base-0", "base-1", "payments-0"], "\(status)")
            for row in rows {
                #expect(
                    row.count == 6 && row[1] == "up" && row[2].hasPrefix("https://127.0.0.1:") && row[4] == "since",
                    "\(row)")
            }

            // status --format json parses; healthy instances, each on its own port.
            let json = try await ws.k8senv("status", "-f", "k8senv.yaml", "--format", "json")
            let object = try #require(parseJSONObject(json.stdout))
            #expect(object["running"] as? Bool == true)
            let owner = try #require(object["pid"] as? Int)
            let instances = try #require(object["instances"] as? [[String: Any]])
            #expect(instances.map { $0["environment"] as? String } == ["base", "base", "payments"])
            #expect(instances.allSatisfy { $0["healthy"] as? Bool == true }, "\(instances)")
            let servers = instances.compactMap { $0["server"] as? String }
            #expect(servers.count == 3 && Set(servers).count == 3, "an instance, a port: \(servers)")
            let kubeconfigs = instances.compactMap { $0["kubeconfig"] as? String }
            try #require(kubeconfigs.count == 3)
            let paymentsKubeconfig = try #require(
                instances.first { $0["environment"] as? String == "payments" }?["kubeconfig"] as? String)

            // eval "$(k8senv env)", then kubectl works unchanged.
            let kubectl = try await ws.shell(
                #"eval "$(k8senv env -f k8senv.yaml)" && kubectl get widgets -n demo -o name"#)
            #expect(kubectl.status == 0, "\(kubectl)")
            #expect(kubectl.stdout == "widget.example.k8senv.dev/sample\n", "\(kubectl)")

            // env -e payments: that environment's kubeconfig only.
            let env = try await ws.k8senv("env", "-f", "k8senv.yaml", "-e", "payments")
            #expect(env.status == 0, "\(env)")
            #expect(env.stdout == "export KUBECONFIG=\(paymentsKubeconfig)\n", "\(env)")
            let ledger = try await ws.shell(
                #"eval "$(k8senv env -f k8senv.yaml -e payments)" && kubectl get ledgers -n payments -o name"#)
            #expect(ledger.stdout == "ledger.example.k8senv.dev/main\n", "\(ledger)")
            let unknown = try await ws.k8senv("env", "-f", "k8senv.yaml", "-e", "paymnts")
            #expect(unknown.status == 1, "\(unknown)")

            // Secrets: files 0600 in 0700 folders.
            for kubeconfig in kubeconfigs {
                let instance = (kubeconfig as NSString).deletingLastPathComponent
                let run = (instance as NSString).deletingLastPathComponent
                for folder in [ws.stateFolder, ws.stateFolder + "/runs", run, instance, instance + "/pki"] {
                    #expect(Procfs.mode(folder) == 0o700, "\(folder) is \(String(Procfs.mode(folder) ?? -1, radix: 8))")
                }
                for file in [
                    kubeconfig, instance + "/token", instance + "/pki/serving.key",
                    instance + "/pki/service-account.key",
                    instance + "/pki/tokens.csv", run + "/run.json",
                ] {
                    #expect(Procfs.mode(file) == 0o600, "\(file) is \(String(Procfs.mode(file) ?? -1, radix: 8))")
                }
            }

            // Listeners: kube-apiserver listens on 127.0.0.1; the stores (a process, or k8senv
            // itself for the embedded store) on Unix sockets, with nothing on TCP but 127.0.0.1.
            let pids = ws.recordedPIDs()
            #expect(pids.count == 6, "\(ws.runRecords())")
            let recorded = ws.runRecords().flatMap { ($0["instances"] as? [[String: Any]]) ?? [] }
            for instance in recorded {
                let apiServer = Int32(instance["apiServerPID"] as? Int ?? 0)
                // /proc is read while the process runs: read again if a read saw no socket.
                var addresses = Procfs.listeningAddresses(of: apiServer)
                _ = try await eventually(within: .seconds(5)) {
                    addresses = Procfs.listeningAddresses(of: apiServer)
                    return !addresses.isEmpty
                }
                #expect(!addresses.isEmpty, "kube-apiserver \(apiServer) listens on nothing")
                #expect(
                    addresses.allSatisfy { $0.hasPrefix("127.0.0.1:") },
                    "kube-apiserver \(apiServer) listens on \(addresses)")
                let store = Int32(instance["storagePID"] as? Int ?? 0)
                let storeAddresses = Procfs.listeningAddresses(of: store)
                #expect(
                    storeAddresses.allSatisfy { $0.hasPrefix("127.0.0.1:") },
                    "the store \(store) listens on \(storeAddresses)")
            }
            let ownerAddresses = Procfs.listeningAddresses(of: Int32(owner))
            #expect(ownerAddresses.allSatisfy { $0.hasPrefix("127.0.0.1:") }, "k8senv listens on \(ownerAddresses)")

            // down: everything stops; status says so.
            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(down.stdout.contains("stopped base-0, base-1, payments-0"), "\(down)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(!Procfs.isRunning(Int32(owner)), "the supervisor \(owner) still runs")
            for pid in pids { #expect(!Procfs.isRunning(pid), "pid \(pid) still runs") }
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
            let after = try await ws.k8senv("status", "-f", "k8senv.yaml")
            #expect(after.stdout == "not running\n", "\(after)")
            let afterJSON = try await ws.k8senv("status", "-f", "k8senv.yaml", "--format", "json")
            #expect(parseJSONObject(afterJSON.stdout)?["running"] as? Bool == false, "\(afterJSON)")
            let envAfter = try await ws.k8senv("env", "-f", "k8senv.yaml")
            #expect(envAfter.status == 1, "\(envAfter)")
            let downAgain = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(downAgain.status == 0 && downAgain.stdout.contains("nothing to stop"), "\(downAgain)")
        }
    }

    @Test(
        "a config folder with a space and a state folder with a quote, a backslash and a newline: eval \"$(k8senv env)\" works, status --format json is valid JSON naming the real paths"
    )
    func envQuotesPaths() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(name: "env quoting") { ws in
            try ws.write("k8senv.yaml", Workspace.smallConfig())
            let state = ws("st\"a\\te\nfolder")
            let up = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml", "--state-dir", state, "--quiet")
            try #require(up.status == 0, "\(up)")
            let json = try await ws.k8senv("status", "-f", "k8senv.yaml", "--state-dir", state, "--format", "json")
            let object = try #require(parseJSONObject(json.stdout), "\(json)")
            let kubeconfig = try #require(
                (object["instances"] as? [[String: Any]])?.first?["kubeconfig"] as? String, "\(json)")
            #expect(kubeconfig.hasPrefix(state + "/"), "\(kubeconfig)")
            #expect(FileManager.default.fileExists(atPath: kubeconfig), "\(kubeconfig)")
            _ = try ws.write("state-dir", state)
            let kubectl = try await ws.shell(
                #"eval "$(k8senv env -f k8senv.yaml --state-dir "$(cat state-dir)")" && kubectl get namespace default -o name"#
            )
            #expect(kubectl.status == 0, "k8senv env must quote paths for the shell: \(kubectl)")
            #expect(kubectl.stdout == "namespace/default\n", "\(kubectl)")
            let down = try await ws.k8senv("down", "-f", "k8senv.yaml", "--state-dir", state)
            #expect(down.status == 0, "\(down)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
