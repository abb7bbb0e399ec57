import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

/// Who holds a lease (docs/reference/pool-api.md#holders): the script that asked, even through a
/// command substitution; never a process that outlives the service; and a holder that ended at
/// once is reported with the fix.
@Suite("lease holders (real kube-apiserver)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct HolderTests {
    /// The state of the one instance of `one`, from the service's status.
    static func state(_ socket: String) async throws -> String? {
        let answer = try await PoolClient(socketPath: socket).send("GET", "/v1/status", timeout: .seconds(10))
        let object = parseJSONObject(String(decoding: answer.body, as: UTF8.self))
        let environments = object?["environments"] as? [[String: Any]] ?? []
        return (environments.first?["instances"] as? [[String: Any]])?.first?["state"] as? String
    }

    @Test(
        "item 10: x=$(k8senv acquire … 2>/dev/null) in a bash script holds the lease for the script until it exits; a holder that ended at once is reported with --holder $$; holder rules: pid 1 and the service itself are refused with 400"
    )
    func commandSubstitution() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "holder") { ws in
            let up = try await ws.k8senv("up", "--detach", "--quiet", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            let socket = ws.stateFolder + "/pool.sock"

            // The lease outlives the subshell: after a second it is still there to release.
            try ws.write(
                "lease.sh",
                """
                x=$(k8senv acquire -f k8senv.yaml -e one 2>/dev/null) || exit 10
                eval "$x"
                sleep 1
                k8senv release -f k8senv.yaml "$K8SENV_LEASE" || exit 11
                y=$(k8senv acquire -f k8senv.yaml -e one 2>&1) || exit 12
                eval "$y"
                sleep 1
                kubectl get namespace default -o name || exit 13
                echo "$K8SENV_LEASE"
                """)
            let script = try await ws.shell("bash lease.sh")
            #expect(script.status == 0, "\(script)")
            // The second lease ends with the script.
            let second = script.stdout.split(separator: "\n").last.map(String.init) ?? ""
            #expect(try await eventually { try await Self.state(socket) == "idle" })
            let gone = try await ws.k8senv("release", "-f", "k8senv.yaml", second)
            #expect(gone.status == 1 && gone.stderr.contains("is not held"), "\(gone)")

            // A holder that exits at once (here acquire itself, as a pipeline's stage would): the
            // release says why, and the fix.
            let granted = try await ws.shell(
                #"bash -c 'exec k8senv acquire -f k8senv.yaml -e one --format json --holder $$'"#)
            try #require(granted.status == 0, "\(granted)")
            let lease = try #require(parseJSONObject(granted.stdout)?["lease"] as? String, "\(granted)")
            #expect(try await eventually { try await Self.state(socket) == "idle" })
            let release = try await ws.k8senv("release", "-f", "k8senv.yaml", lease)
            #expect(
                release.status == 1 && release.stderr.contains("exited within a second of the grant")
                    && release.stderr.contains("--holder $$"), "\(release)")

            // Holders that never end: init, the service itself.
            let status = try await PoolClient(socketPath: socket).send("GET", "/v1/status", timeout: .seconds(10))
            let service = try #require(parseJSONObject(String(decoding: status.body, as: UTF8.self))?["pid"] as? Int)
            for holder in [Int32(1), Int32(service)] {
                let body = Array(
                    try JSONEncoder().encode(LeaseRequest(environment: "one", timeoutSeconds: 5, holder: holder)))
                let answer = try await PoolClient(socketPath: socket).send(
                    "POST", "/v1/leases", body: body, timeout: .seconds(30))
                #expect(
                    answer.status == 400 && answer.error?.message.contains("the lease would never end") == true,
                    "holder \(holder): \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
                if answer.status == 201, let id = LeaseGrant.decode(answer.body)?.lease {
                    _ = try? await PoolClient(socketPath: socket).send(
                        "DELETE", "/v1/leases/\(id)", timeout: .seconds(30))
                }
            }
            // With a TTL the lease ends anyway: pid 1 may hold it (a container's script is pid 1).
            let withTTL = Array(
                try JSONEncoder().encode(LeaseRequest(environment: "one", timeoutSeconds: 5, holder: 1, ttlSeconds: 60))
            )
            let granted1 = try await PoolClient(socketPath: socket).send(
                "POST", "/v1/leases", body: withTTL, timeout: .seconds(30))
            #expect(
                granted1.status == 201,
                "holder 1 with a TTL: \(granted1.status) \(String(decoding: granted1.body, as: UTF8.self))")
            if let id = LeaseGrant.decode(granted1.body)?.lease {
                let released = try await PoolClient(socketPath: socket).send(
                    "DELETE", "/v1/leases/\(id)", timeout: .seconds(30))
                #expect(released.status == 200)
            }

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
        }
    }
}
