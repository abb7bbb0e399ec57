import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// `users` and `apiServer.authorization` in k8senv.yaml: decoding, defaults, errors, profiles,
/// and the cache key (which neither changes).
@Suite("users and apiServer.authorization", .tags(.fast))
struct UsersConfigTests {
    static let users = """
        users:
          - name: alice
            groups: [dev, qa]
          - name: bob
        environments:
          base: {}

        """

    @Test(
        "users decode in order, groups optional; authorization is RBAC with users, AlwaysAllow without, as written when written"
    )
    func decode() throws {
        try TemporaryFolder.with { folder in
            let config = try ConfigLoader(variables: [:]).load(try folder.config(Self.users))
            #expect(config.users.map(\.name) == ["alice", "bob"])
            #expect(config.users.map(\.groups) == [["dev", "qa"], []])
            #expect(config.users.first?.location.mark == Mark(line: 4, column: 11))
            #expect(config.apiServerAuthorization == nil && config.authorization == .rbac)

            let none = try ConfigLoader(variables: [:]).load(
                try folder.config("environments: {base: {}}\n", name: "none.yaml"))
            #expect(none.users.isEmpty && none.authorization == .alwaysAllow, "configs without users run as before")

            let open = try ConfigLoader(variables: [:]).load(
                try folder.config("apiServer: {authorization: AlwaysAllow}\n" + Self.users, name: "open.yaml"))
            #expect(open.authorization == .alwaysAllow, "AlwaysAllow with users is allowed")
            let rbac = try ConfigLoader(variables: [:]).load(
                try folder.config("apiServer: {authorization: RBAC}\nenvironments: {base: {}}\n", name: "rbac.yaml"))
            #expect(rbac.authorization == .rbac && rbac.users.isEmpty)
        }
    }

    @Test("a user name given twice: an error at the second, naming the first's line")
    func duplicateName() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                users:
                  - name: alice
                    groups: [dev]
                  - name: bob
                  - name: alice
                environments: {base: {}}

                """)
            let errors = validationErrors(path)
            #expect(errors.map(\.message) == [#"users[2].name: user "alice" is already declared at line 4"#])
            #expect(errors.map(\.code) == [.duplicate])
            #expect(errors.map(\.location.description) == [path + ":7:11"])
        }
    }

    @Test(
        "schema errors: an unknown mode (with a suggestion), a bad name, groups not a list, an unknown key, an entry twice, a group twice"
    )
    func schemaErrors() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                apiServer:
                  authorization: rbac
                users:
                  - name: Alice Smith
                  - name: bob
                    groups: dev
                  - {name: carol, group: [dev]}
                  - {name: dave, groups: [ops]}
                  - {name: dave, groups: [ops]}
                  - {name: erin, groups: [ops, ops]}
                  - {groups: [ops]}
                environments: {base: {}}

                """)
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"apiServer.authorization: "rbac" is not one of "RBAC", "AlwaysAllow"; did you mean "RBAC"?"#,
                    #"users[0].name: "Alice Smith" is not a user name (letters, digits and '-', '.', '_', '@', starting and ending with a letter or digit, at most 63 characters)"#,
                    #"users[1].groups: expected a list, got a string ("dev")"#,
                    #"unknown key "group" in users[2]; did you mean "groups"?"#,
                    // The same entry twice (the schema's uniqueItems, which editors check too);
                    // the same name in two different entries is the semantic check's (duplicateName).
                    "users[4]: a mapping is listed more than once",
                    #"users[5].groups[1]: "ops" is listed more than once"#,
                    #"users[6]: missing required key "name""#,
                ])
            #expect(errors.first?.location.mark == Mark(line: 4, column: 18))
        }
    }

    @Test("k8senv's own admin user cannot be declared")
    func adminName() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("users: [{name: k8senv-admin}]\nenvironments: {base: {}}\n")
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"users[0].name: "k8senv-admin" is k8senv's own admin user (in system:masters; its kubeconfig is KUBECONFIG); choose another name"#
                ])
            #expect(errors.first?.location.mark == Mark(line: 3, column: 16))
        }
    }

    @Test("two users, or a user and an environment, whose variables would be one: an error at the user")
    func variableCollisions() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                users:
                  - name: alice
                  - name: Alice
                  - name: bob
                  - name: base
                environments:
                  base: {}
                  base-bob: {}

                """)
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"users[1].name: K8SENV_KUBECONFIG_ALICE would name both user "alice"'s kubeconfig (k8senv acquire) and user "Alice"'s kubeconfig (k8senv acquire); rename the user"#,
                    #"users[2].name: K8SENV_KUBECONFIG_BASE_BOB would name both environment "base-bob"'s kubeconfig and user "bob"'s kubeconfig of environment "base"; rename the user"#,
                    #"users[3].name: K8SENV_KUBECONFIG_BASE would name both environment "base"'s kubeconfig and user "base"'s kubeconfig (k8senv acquire); rename the user"#,
                ])
            #expect(errors.map(\.code) == [.duplicate, .duplicate, .duplicate])
            #expect(
                errors.map(\.location.mark) == [
                    Mark(line: 5, column: 11), Mark(line: 6, column: 11), Mark(line: 7, column: 11),
                ])
        }
    }

    @Test(
        "--authorization-mode in extraArgs and apiServer.authorization: an error at the argument; the argument alone is allowed"
    )
    func authorizationTwice() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                #"apiServer:\#n  authorization: RBAC\#n  extraArgs: [--v=2, "--authorization-mode=Node,RBAC"]\#nenvironments: {base: {}}\#n"#
            )
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    "apiServer.extraArgs[1]: --authorization-mode is set here and by apiServer.authorization at \(path):4:18; use one of the two"
                ])
            #expect(errors.first?.location.mark == Mark(line: 5, column: 22))
            let alone = try folder.config(
                "apiServer:\n  extraArgs: [--authorization-mode=RBAC]\nenvironments: {base: {}}\n", name: "alone.yaml")
            #expect(validationErrors(alone).isEmpty)
        }
    }

    @Test(
        "a profile replaces the users (a list is replaced, not merged), removes them with null, and may set the authorization; its errors point into it"
    )
    func profiles() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                Self.users + """
                    profiles:
                      carol:
                        users: [{name: carol, groups: [ops]}]
                      nobody:
                        users: null
                      open:
                        apiServer: {authorization: AlwaysAllow}
                      twice:
                        users: [{name: dan}, {name: dan, groups: [x]}]

                    """)
            let loader = ConfigLoader(variables: [:])
            let carol = try loader.load(path, profile: "carol")
            #expect(
                carol.users.map(\.name) == ["carol"] && carol.users.first?.groups == ["ops"]
                    && carol.authorization == .rbac)
            let nobody = try loader.load(path, profile: "nobody")
            #expect(nobody.users.isEmpty && nobody.authorization == .alwaysAllow)
            let open = try loader.load(path, profile: "open")
            #expect(open.users.map(\.name) == ["alice", "bob"] && open.authorization == .alwaysAllow)
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"users[1].name: user "dan" is already declared at line 17 (with profile "twice")"#
                ])
            #expect(errors.first?.location.mark == Mark(line: 17, column: 33), "the second dan, in the profile")
        }
    }

    @Test(
        "users and apiServer.authorization do not change the cache key (tokens are made per instance; the stored content is the same)"
    )
    func cacheKey() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let base = "environments:\n  base:\n    seeds: [{name: ns, manifests: [ns.yaml]}]\n"
            let original = try cacheKeys(try folder.config(base))
            for (i, variant) in [
                "users: [{name: alice, groups: [dev]}]\n" + base,
                "users: [{name: alice}, {name: bob}]\napiServer: {authorization: AlwaysAllow}\n" + base,
                "apiServer: {authorization: RBAC}\n" + base,
            ].enumerated() {
                #expect(try cacheKeys(try folder.config(variant, name: "v\(i).yaml")) == original, "\(variant)")
            }
        }
    }
}
