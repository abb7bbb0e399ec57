import Foundation
import K8sEnvRunner
import K8sEnvSpec
import Testing

/// What k8senv writes and exports for the `users` of k8senv.yaml, without a kube-apiserver:
/// the token file kube-apiserver reads, the kubeconfigs, the variables and the pool API's answer.
@Suite("users: token file, kubeconfigs, variables, lease answer", .tags(.fast))
struct UserCredentialsTests {
    @Test(
        "the token file: the admin in system:masters first, then one line per user, groups quoted, no groups column without groups"
    )
    func tokenFile() {
        let text = TokenFile.render(
            adminToken: "t0",
            users: [
                (UserIdentity(name: "alice", groups: ["dev", "system:viewers"]), "t1"),
                (UserIdentity(name: "bob"), "t2"),
                (UserIdentity(name: "carol", groups: ["ops"]), "t3"),
            ])
        #expect(
            text == """
                t0,k8senv-admin,k8senv-admin,"system:masters"
                t1,alice,alice,"dev,system:viewers"
                t2,bob,bob
                t3,carol,carol,"ops"

                """)
        // A field holding a comma or a quote (not possible through the schema) stays one field.
        #expect(TokenFile.line(token: "t", user: #"a,"b"#, groups: []) == #"t,"a,""b","a,""b""#)
    }

    @Test("a user's kubeconfig: the instance's server and CA, the user's token, names kept apart from the admin's")
    func kubeconfig() throws {
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        let text = Kubeconfig.render(
            name: "k8senv-base-0", user: "alice", server: "https://127.0.0.1:4321", caCertificate: ca,
            token: "alicetoken")
        #expect(text.contains("    server: https://127.0.0.1:4321\n"))
        #expect(text.contains("    certificate-authority-data: \(Data(ca.utf8).base64EncodedString())\n"))
        #expect(text.contains("- name: k8senv-base-0-alice\n  user:\n    token: alicetoken\n"))
        #expect(text.contains("current-context: k8senv-base-0-alice\n"))
        #expect(text.contains("    cluster: k8senv-base-0\n    user: k8senv-base-0-alice\n"))
        #expect(!text.contains("insecure-skip-tls-verify"))
        // The admin's is as before: one name for cluster, user and context.
        let admin = Kubeconfig.render(
            name: "k8senv-base-0", server: "https://127.0.0.1:4321", caCertificate: ca, token: "admintoken")
        #expect(
            admin.contains("- name: k8senv-base-0\n  user:\n    token: admintoken\n")
                && admin.contains("current-context: k8senv-base-0\n"))
    }

    @Test(
        "the token webhook: a lease's token is its identity on its own instance only, until revoked; anything else is authenticated: false; a request of a revoked token kube-apiserver still remembers is denied, any other left to the next mode; kube-apiserver is pointed at it with no cache of its own, after the token file, and first for authorization"
    )
    func tokenWebhook() throws {
        let reviewer = makeToken()
        let other = makeToken()
        let token = LeaseTokens.shared.issue(UserIdentity(name: "alice", groups: ["dev"]), reviewer: reviewer)
        func review(_ token: String, _ reviewer: String) throws -> [String: Any] {
            let body = Array(
                #"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"\#(token)","audiences":["x"]}}"#
                    .utf8)
            let answer = try #require(TokenWebhook.answer(body, reviewer: reviewer))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any])
            #expect(
                object["apiVersion"] as? String == "authentication.k8s.io/v1"
                    && object["kind"] as? String == "TokenReview")
            return try #require(object["status"] as? [String: Any])
        }
        let granted = try review(token, reviewer)
        #expect(granted["authenticated"] as? Bool == true)
        let user = try #require(granted["user"] as? [String: Any])
        #expect(user["username"] as? String == "alice" && user["groups"] as? [String] == ["dev"])
        let fingerprint = LeaseTokens.fingerprint(token)
        #expect((user["extra"] as? [String: [String]])?[TokenWebhook.fingerprintKey] == [fingerprint], "\(user)")
        #expect(!fingerprint.isEmpty && !token.contains(fingerprint), "the fingerprint is not the token")
        /// A SubjectAccessReview of a request by alice carrying `fingerprint`, as kube-apiserver sends it.
        func access(_ fingerprints: [String]?, groups: [String] = ["dev", "system:authenticated"]) throws -> [String:
            Any]
        {
            var spec: [String: Any] = [
                "user": "alice", "groups": groups,
                "resourceAttributes": ["verb": "get", "resource": "namespaces", "name": "default"],
            ]
            if let fingerprints { spec["extra"] = [TokenWebhook.fingerprintKey: fingerprints] }
            let body = try JSONSerialization.data(withJSONObject: [
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec,
            ])
            let answer = try #require(TokenWebhook.answer([UInt8](body), reviewer: reviewer))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any])
            #expect(object["kind"] as? String == "SubjectAccessReview")
            return try #require(object["status"] as? [String: Any])
        }
        let live = try access([fingerprint])
        #expect(live["allowed"] as? Bool == false && live["denied"] == nil, "no opinion while the lease lives: \(live)")
        let leaseAdmin = LeaseTokens.shared.issue(
            UserIdentity(name: "k8senv-admin", groups: [TokenWebhook.leaseAdminGroup]), reviewer: reviewer)
        let adminAccess = try access(
            [LeaseTokens.fingerprint(leaseAdmin)], groups: [TokenWebhook.leaseAdminGroup, "system:authenticated"])
        #expect(adminAccess["allowed"] as? Bool == true, "a live lease's admin may do anything: \(adminAccess)")
        LeaseTokens.shared.revoke([leaseAdmin], reviewer: reviewer)
        let adminEnded = try access(
            [LeaseTokens.fingerprint(leaseAdmin)], groups: [TokenWebhook.leaseAdminGroup, "system:authenticated"])
        #expect(adminEnded["denied"] as? Bool == true && adminEnded["allowed"] as? Bool == false, "\(adminEnded)")
        let notALease = try access(nil)
        #expect(
            notALease["allowed"] as? Bool == false && notALease["denied"] == nil,
            "no opinion on other users: \(notALease)")
        #expect(try review(token, other)["authenticated"] as? Bool == false, "another instance's token is nothing here")
        #expect(try review("nope", reviewer)["authenticated"] as? Bool == false)
        LeaseTokens.shared.revoke([token], reviewer: reviewer)
        #expect(try review(token, reviewer)["authenticated"] as? Bool == false, "revoked")
        #expect(try review(token, reviewer)["user"] == nil)
        // kube-apiserver may still remember the token's user (10 s): its requests are denied.
        let ended = try access([fingerprint])
        #expect(ended["denied"] as? Bool == true && ended["reason"] as? String == TokenWebhook.endedReason, "\(ended)")
        #expect(TokenWebhook.answer(Array("not json".utf8), reviewer: reviewer) == nil)

        let layout = APIServerLayout(
            port: 1, storageURL: "unix:///s", certificateDirectory: "/d", servingCertificate: "/c", servingKey: "/k",
            serviceAccountKey: "/sa", serviceAccountPublicKey: "/sap", tokenFile: "/t", authenticationConfig: nil,
            tokenWebhookConfig: "/w")
        let args = APIServerArguments.make(version: KubeVersion(major: 1, minor: 20), layout: layout, extraArgs: [])
        let file = try #require(args.firstIndex(of: "--token-auth-file=/t"))
        let webhook = try #require(args.firstIndex(of: "--authentication-token-webhook-config-file=/w"))
        #expect(
            file < webhook && args.contains("--authentication-token-webhook-cache-ttl=0s")
                && args.contains("--authentication-token-webhook-version=v1"))
        // Authorization asks the webhook first, uncached; without users the rest is AlwaysAllow.
        for flag in [
            "--authorization-mode=Webhook,AlwaysAllow", "--authorization-webhook-config-file=/w",
            "--authorization-webhook-version=v1",
            "--authorization-webhook-cache-authorized-ttl=0s", "--authorization-webhook-cache-unauthorized-ttl=0s",
        ] {
            #expect(args.contains(flag), "\(flag)")
        }
        let rbac = APIServerArguments.make(
            version: KubeVersion(major: 1, minor: 20), layout: layout, authorization: .rbac, extraArgs: [])
        #expect(rbac.contains("--authorization-mode=Webhook,RBAC"))
    }

    @Test("--authorization-mode follows the config: AlwaysAllow without users, RBAC with them, as written when written")
    func authorizationFlag() throws {
        let layout = APIServerLayout(
            port: 1, storageURL: "unix:///s", certificateDirectory: "/d", servingCertificate: "/c", servingKey: "/k",
            serviceAccountKey: "/sa", serviceAccountPublicKey: "/sap", tokenFile: "/t", authenticationConfig: nil)
        let v120 = KubeVersion(major: 1, minor: 20)
        #expect(
            APIServerArguments.make(version: v120, layout: layout, extraArgs: []).contains(
                "--authorization-mode=AlwaysAllow"))
        let rbac = APIServerArguments.make(version: v120, layout: layout, authorization: .rbac, extraArgs: [])
        #expect(
            rbac.contains("--authorization-mode=RBAC")
                && rbac.filter { $0.hasPrefix("--authorization-mode") }.count == 1)

        let binaries = ResolvedBinaries(kubeAPIServer: "/kas", kubeAPIServerVersion: v120, storage: EmbeddedBackend())
        func mode(_ users: [UserIdentity], _ explicit: AuthorizationMode?) -> AuthorizationMode {
            InstanceConfiguration(
                name: "x-0", directory: "/d", binaries: binaries, extraArgs: [], users: users, authorization: explicit,
                startTimeout: .seconds(1), stopTimeout: .seconds(1)
            ).authorization
        }
        #expect(mode([], nil) == .alwaysAllow)
        #expect(mode([UserIdentity(name: "alice")], nil) == .rbac)
        #expect(mode([UserIdentity(name: "alice")], .alwaysAllow) == .alwaysAllow)
        #expect(mode([], .rbac) == .rbac)
    }

    @Test(
        "the variables: K8SENV_KUBECONFIG_<ENV>_<USER> after each environment's own, for its first instance; upper-cased, other characters as _"
    )
    func exportedNames() {
        let exports = RunRecord.exports(
            [
                .init(
                    environment: "base", kubeconfig: "/r/base-0/kubeconfig",
                    users: [
                        .init(name: "alice", kubeconfig: "/r/base-0/users/alice.kubeconfig"),
                        .init(name: "ci.bot@corp", kubeconfig: "/r/base-0/users/ci.bot@corp.kubeconfig"),
                    ]),
                .init(
                    environment: "base", kubeconfig: "/r/base-1/kubeconfig",
                    users: [.init(name: "alice", kubeconfig: "/r/base-1/users/alice.kubeconfig")]),
                .init(
                    environment: "payments-eu", kubeconfig: "/r/payments-eu-0/kubeconfig",
                    users: [.init(name: "alice", kubeconfig: "/r/payments-eu-0/users/alice.kubeconfig")]),
            ], poolSocket: "/s/pool.sock")
        #expect(
            exports.map(\.0) == [
                "KUBECONFIG", "K8SENV_KUBECONFIGS",
                "K8SENV_KUBECONFIG_BASE", "K8SENV_KUBECONFIG_BASE_ALICE", "K8SENV_KUBECONFIG_BASE_CI_BOT_CORP",
                "K8SENV_KUBECONFIG_PAYMENTS_EU", "K8SENV_KUBECONFIG_PAYMENTS_EU_ALICE",
                "K8SENV_POOL",
            ])
        let values = Dictionary(exports, uniquingKeysWith: { a, _ in a })
        #expect(values["K8SENV_KUBECONFIG_BASE_ALICE"] == "/r/base-0/users/alice.kubeconfig")
        #expect(values["K8SENV_KUBECONFIG_PAYMENTS_EU_ALICE"] == "/r/payments-eu-0/users/alice.kubeconfig")
        #expect(
            values["K8SENV_KUBECONFIGS"] == "/r/base-0/kubeconfig:/r/base-1/kubeconfig:/r/payments-eu-0/kubeconfig",
            "users' kubeconfigs are not in K8SENV_KUBECONFIGS (the admin's of every instance)")
        #expect(KubeconfigVariables.leasedUser("ci.bot@corp") == "K8SENV_KUBECONFIG_CI_BOT_CORP")
    }

    @Test("a run record of an older k8senv (no users) still reads, and exports no user variables")
    func oldRecord() throws {
        let json = #"""
            {"version": 1, "ownerPID": 1, "config": "/c/k8senv.yaml", "detached": true, "runDirectory": "/r", "startedAt": "2026-01-01T00:00:00Z",
             "instances": [{"name": "base-0", "environment": "base", "server": "https://127.0.0.1:1", "kubeconfig": "/r/base-0/kubeconfig",
                            "apiServerPID": 2, "storagePID": 3, "apiServerBinary": "/kas", "storageBinary": "/etcd", "logs": []}]}
            """#
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let record = try decoder.decode(RunRecord.self, from: Data(json.utf8))
        #expect(record.exports.map(\.0) == ["KUBECONFIG", "K8SENV_KUBECONFIGS", "K8SENV_KUBECONFIG_BASE"])
    }

    @Test(
        "the acquire answer has users: name to token and kubeconfig, {} without users; an answer without the key decodes"
    )
    func leaseGrant() throws {
        var grant = LeaseGrant(
            lease: "l", environment: "base", instance: "base-0", server: "https://127.0.0.1:1", caCertificate: "pem",
            caFile: "/r/base-0/pki/ca.crt", token: "admin", kubeconfig: "/r/base-0/kubeconfig", holder: 42,
            expiresAt: nil,
            users: [
                "bob": .init(token: "tb", kubeconfig: "/r/base-0/users/bob.kubeconfig"),
                "alice": .init(token: "ta", kubeconfig: "/r/base-0/users/alice.kubeconfig"),
            ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]  // as the service writes it
        let text = String(decoding: try encoder.encode(grant), as: UTF8.self)
        #expect(
            text.contains(
                #""users":{"alice":{"kubeconfig":"\/r\/base-0\/users\/alice.kubeconfig","token":"ta"},"bob":{"kubeconfig":"\/r\/base-0\/users\/bob.kubeconfig","token":"tb"}}"#
            ), "\(text)")
        let decoded = try #require(LeaseGrant.decode(Array(text.utf8)))
        #expect(decoded.users == grant.users)
        #expect(decoded.sortedUsers.map(\.name) == ["alice", "bob"])

        grant.users = [:]
        let none = String(decoding: try encoder.encode(grant), as: UTF8.self)
        #expect(none.contains(#""users":{}"#) && none.contains(#""expiresAt":null"#), "\(none)")
        let old = none.replacingOccurrences(of: #","users":{}"#, with: "")
        #expect(!old.contains("users"))
        #expect(LeaseGrant.decode(Array(old.utf8))?.users == [:])
    }
}
