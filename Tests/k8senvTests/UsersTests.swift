import Foundation
import K8sEnvTestSupport
import Testing

/// `users:` and `apiServer.authorization` end to end: kubectl as a declared user, through the
/// variables `run`, `up` and `acquire` export, on the real kube-apiserver and the storage
/// K8SENV_STORAGE names.
@Suite("users and RBAC (real kube-apiserver)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct UsersTests {
    /// Namespace team with a Secret in it.
    static let teamSeed = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: team}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: s1, namespace: team}
        stringData: {k: v}

        """

    /// Lets group dev read secrets in team.
    static let rbacSeed = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: secret-reader, namespace: team}
        rules:
          - apiGroups: [""]
            resources: [secrets]
            verbs: [get, list, watch]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: dev-reads-secrets, namespace: team}
        subjects:
          - {kind: Group, name: dev, apiGroup: rbac.authorization.k8s.io}
        roleRef: {kind: Role, name: secret-reader, apiGroup: rbac.authorization.k8s.io}

        """

    static let users = """
        users:
          - name: alice
            groups: [dev]
          - name: bob
        """

    /// One environment `team` of one instance; the seed sets named (`team`, then `rbac`).
    static func config(_ top: String, rbac: Bool) -> String {
        var text = Workspace.smallConfig(top).replacingOccurrences(
            of: "environments:\n  one:\n    pool: {size: 1}\n", with: "")
        text += """
            environments:
              team:
                pool: {size: 1}
                seeds:
                  - name: team
                    manifests: [seeds/team.yaml]

            """
        if rbac {
            text += """
                      - name: rbac
                        dependsOn: [team]
                        manifests: [seeds/rbac.yaml]

                """
        }
        return text
    }

    /// What alice, bob and the admin impersonating them may do, one `label: answer` line each.
    static let probe = #"""
        say() { printf '%s: %s\n' "$1" "$(echo $(shift; "$@" 2>&1))"; }
        say alice-list kubectl --kubeconfig "$K8SENV_KUBECONFIG_TEAM_ALICE" get secrets -n team -o name
        say alice-can-i kubectl --kubeconfig "$K8SENV_KUBECONFIG_TEAM_ALICE" auth can-i list secrets -n team
        say bob-list kubectl --kubeconfig "$K8SENV_KUBECONFIG_TEAM_BOB" get secrets -n team -o name
        say bob-can-i kubectl --kubeconfig "$K8SENV_KUBECONFIG_TEAM_BOB" auth can-i list secrets -n team
        say as-alice-dev-can-i kubectl auth can-i list secrets -n team --as alice --as-group dev
        say as-alice-dev-list kubectl get secrets -n team -o name --as alice --as-group dev
        say as-alice-can-i kubectl auth can-i list secrets -n team --as alice
        say as-bob-can-i kubectl auth can-i list secrets -n team --as bob
        say admin-list kubectl get secrets -n team -o name
        say mode stat -c %a "$K8SENV_KUBECONFIG_TEAM_ALICE"
        say folder-mode stat -c %a "$(dirname "$K8SENV_KUBECONFIG_TEAM_ALICE")"
        say path printf %s "$K8SENV_KUBECONFIG_TEAM_ALICE"
        """#

    /// The `label: answer` lines of ``probe``.
    static func answers(_ outcome: Outcome) -> [String: String] {
        var out: [String: String] = [:]
        for line in outcome.stdout.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = String(line[line.index(colon, offsetBy: 2)...])
        }
        return out
    }

    static let aliceForbidden =
        #"Error from server (Forbidden): secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "team""#
    static let bobForbidden =
        #"Error from server (Forbidden): secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in the namespace "team""#

    @Test(
        "RBAC by default with users: alice (group dev) is refused secrets until a seeded RoleBinding allows dev, bob stays refused, the admin impersonating alice agrees; a snapshot built without users serves them; AlwaysAllow lets alice read"
    )
    func rbac() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config(Self.users, rbac: false), name: "users-rbac") { ws in
            try ws.write("seeds/team.yaml", Self.teamSeed)
            try ws.write("seeds/rbac.yaml", Self.rbacSeed)

            // No binding: alice and bob are refused; the admin (system:masters) is not.
            let refused = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "sh", "-c", Self.probe)
            #expect(refused.status == 0, "\(refused)")
            var answers = Self.answers(refused)
            #expect(answers["alice-list"] == Self.aliceForbidden, "\(refused)")
            #expect(answers["alice-can-i"] == "no", "\(refused)")
            #expect(answers["bob-can-i"] == "no", "\(refused)")
            #expect(answers["as-alice-dev-can-i"] == "no", "\(refused)")
            #expect(answers["admin-list"] == "secret/s1", "\(refused)")
            #expect(
                answers["mode"] == "600" && answers["folder-mode"] == "700", "secrets 0600 in a 0700 folder: \(refused)"
            )
            let path = try #require(answers["path"], "\(refused)")
            // The run's lease's (leases/<n>/users/ of the instance), as an attached run's.
            #expect(
                path.hasPrefix(ws.stateFolder + "/runs/") && path.contains("/team-0/leases/")
                    && path.hasSuffix("/users/alice.kubeconfig"), "\(path)")

            // The binding, in a snapshot built by a config without users (AlwaysAllow): the same
            // cache key, and the snapshot serves a config with users.
            let plain = try ws.write("plain.yaml", Self.config("", rbac: true))
            let withUsers = try ws.write("rbac.yaml", Self.config(Self.users, rbac: true))
            let hashes = try await ws.k8senv("hash", "-f", plain, "--apiserver-version", "v1.20.2")
            let hashesWithUsers = try await ws.k8senv("hash", "-f", withUsers, "--apiserver-version", "v1.20.2")
            #expect(hashes.status == 0 && hashes.stdout == hashesWithUsers.stdout, "\(hashes)\n\(hashesWithUsers)")
            let built = try await ws.k8senv(
                "run", "-f", "plain.yaml", "--", "sh", "-c", #"echo "${K8SENV_KUBECONFIG_TEAM_ALICE-unset}""#)
            #expect(
                built.status == 0 && built.stdout == "unset\n" && built.stderr.contains("not cached (cache miss)"),
                "\(built)")

            let allowed = try await ws.k8senv("run", "-f", "rbac.yaml", "--", "sh", "-c", Self.probe)
            #expect(allowed.status == 0, "\(allowed)")
            #expect(allowed.stderr.contains("(cache hit)"), "\(allowed)")
            answers = Self.answers(allowed)
            #expect(answers["alice-list"] == "secret/s1", "\(allowed)")
            #expect(answers["alice-can-i"] == "yes", "\(allowed)")
            #expect(answers["bob-list"] == Self.bobForbidden, "\(allowed)")
            #expect(answers["bob-can-i"] == "no", "\(allowed)")
            // Impersonation by the admin: alice with her group sees what alice sees; without
            // the group (the binding names the group, not the user) she does not.
            #expect(answers["as-alice-dev-can-i"] == "yes" && answers["as-alice-dev-list"] == "secret/s1", "\(allowed)")
            #expect(answers["as-alice-can-i"] == "no", "\(allowed)")
            #expect(answers["as-bob-can-i"] == answers["bob-can-i"], "\(allowed)")

            // AlwaysAllow, written, with users: every user may do everything.
            let open = try ws.write(
                "open.yaml", Self.config("apiServer: {authorization: AlwaysAllow}\n" + Self.users, rbac: false))
            let opened = try await ws.k8senv("run", "-f", open, "--", "sh", "-c", Self.probe)
            #expect(opened.status == 0, "\(opened)")
            answers = Self.answers(opened)
            #expect(answers["alice-list"] == "secret/s1" && answers["alice-can-i"] == "yes", "\(opened)")
            #expect(answers["bob-list"] == "secret/s1" && answers["bob-can-i"] == "yes", "\(opened)")

            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "through the pool service: up prints the users' variables, acquire's JSON has users with kubeconfigs that work, acquire's exports and an attached run name them"
    )
    func poolService() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config(Self.users, rbac: true), name: "users-pool") { ws in
            try ws.write("seeds/team.yaml", Self.teamSeed)
            try ws.write("seeds/rbac.yaml", Self.rbacSeed)
            let up = try await ws.k8senv("up", "--detach", "--quiet", "-f", "k8senv.yaml")
            try #require(up.status == 0, "\(up)")
            let printed = try #require(
                up.stdout.split(separator: "\n").first { $0.hasPrefix("export K8SENV_KUBECONFIG_TEAM_ALICE=") }, "\(up)"
            )
            #expect(printed.hasSuffix("/team-0/users/alice.kubeconfig"), "\(up)")
            #expect(up.stdout.contains("export K8SENV_KUBECONFIG_TEAM_BOB="), "\(up)")
            let env = try await ws.k8senv("env", "-f", "k8senv.yaml")
            #expect(env.stdout.contains(String(printed) + "\n"), "k8senv env prints it too: \(env)")

            let leased = try await ws.shell(
                #"""
                k8senv acquire -f k8senv.yaml --format json > lease.json || exit 10
                cat lease.json
                field() { python3 -c 'import json, sys; d = json.load(open("lease.json")); print(eval(sys.argv[1]))' "$1"; }
                echo "alice: $(kubectl --kubeconfig "$(field 'd["users"]["alice"]["kubeconfig"]')" get secrets -n team -o name 2>&1)"
                echo "bob: $(kubectl --kubeconfig "$(field 'd["users"]["bob"]["kubeconfig"]')" get secrets -n team -o name 2>&1)"
                echo "alice-token: $(kubectl --server "$(field 'd["server"]')" --certificate-authority "$(field 'd["caFile"]')" --token "$(field 'd["users"]["alice"]["token"]')" auth can-i list secrets -n team)"
                k8senv release -f k8senv.yaml "$(field 'd["lease"]')" || exit 11
                """#)
            #expect(leased.status == 0, "\(leased)")
            let json = try #require(
                leased.stdout.split(separator: "\n").first.flatMap { parseJSONObject(String($0)) }, "\(leased)")
            let users = try #require(json["users"] as? [String: [String: String]], "\(json)")
            #expect(users.keys.sorted() == ["alice", "bob"], "\(json)")
            // The lease's own kubeconfig (its token ends with the lease), in the instance's leases/<n>/.
            #expect(
                users["alice"]?["kubeconfig"].map {
                    $0.contains("/team-0/leases/") && $0.hasSuffix("/users/alice.kubeconfig")
                } == true, "\(json)")
            #expect(
                users["alice"]?["token"]?.count == 64 && users["alice"]?["token"] != users["bob"]?["token"], "\(json)")
            #expect(users["alice"]?["token"] != json["token"] as? String, "not the admin's token")
            #expect(leased.stdout.contains("\nalice: secret/s1\n"), "\(leased)")
            #expect(leased.stdout.contains("\nbob: " + Self.bobForbidden + "\n"), "\(leased)")
            #expect(leased.stdout.contains("\nalice-token: yes\n"), "\(leased)")

            let exported = try await ws.shell(
                #"""
                eval "$(k8senv acquire -f k8senv.yaml)" || exit 10
                echo "$K8SENV_KUBECONFIG_ALICE"
                kubectl --kubeconfig "$K8SENV_KUBECONFIG_ALICE" auth can-i list secrets -n team
                kubectl --kubeconfig "$K8SENV_KUBECONFIG_BOB" auth can-i list secrets -n team
                k8senv release -f k8senv.yaml || exit 11
                """#)
            #expect(exported.status == 0, "\(exported)")
            #expect(
                exported.stdout.contains("/team-0/leases/")
                    && exported.stdout.hasSuffix("/users/alice.kubeconfig\nyes\nno\n"), "\(exported)")

            let attached = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--", "sh", "-c",
                #"kubectl --kubeconfig "$K8SENV_KUBECONFIG_TEAM_ALICE" get secrets -n team -o name; kubectl --kubeconfig "$K8SENV_KUBECONFIG_TEAM_BOB" auth can-i list secrets -n team"#
            )
            #expect(attached.stderr.contains("attached to the pool service of k8senv up"), "\(attached)")
            #expect(attached.stdout == "secret/s1\nno\n", "\(attached)")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
