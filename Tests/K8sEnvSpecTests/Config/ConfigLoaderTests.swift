import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

let configHeader = "apiVersion: k8senv.dev/v1alpha1\nkind: Config\n"

let crdText = """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      names: {kind: Widget, plural: widgets}
      scope: Namespaced
      versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]

    """

let namespaceText = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"

extension TemporaryFolder {
    /// Writes k8senv.yaml (with the apiVersion/kind header) and returns its path.
    @discardableResult
    func config(_ body: String, name: String = "k8senv.yaml") throws -> String {
        try write(name, configHeader + body)
    }
}

/// Every diagnostic `k8senv validate [--profile P]` reports for `path`.
func validationErrors(_ path: String, profile: String? = nil, variables: [String: String] = [:]) -> [Diagnostic] {
    ConfigLoader(variables: variables).validate(path, profile: profile).diagnostics
}

@Suite("Config loader", .tags(.fast))
struct ConfigLoaderTests {
    // MARK: ${VAR} expansion

    @Test(
        "${VAR} and ${VAR:-default} in strings",
        arguments: [
            ("${A}", ["A": "x"], "x"),
            ("pre-${A}-post", ["A": "x"], "pre-x-post"),
            ("${A:-d}", ["A": "x"], "x"),
            ("${A:-d}", [:], "d"),
            ("${A:-d}", ["A": ""], "d"),
            ("${A}", ["A": ""], ""),
            ("${A:-}", [:], ""),
            ("${A:-a b/c}", [:], "a b/c"),
            ("$${A}", ["A": "x"], "${A}"),
            ("a$$b", [:], "a$b"),
            ("$A", ["A": "x"], "$A"),
            ("cost: 5$", [:], "cost: 5$"),
            ("${A}${B}", ["A": "1", "B": "2"], "12"),
            ("${_x1}", ["_x1": "ok"], "ok"),
            ("${A:-$(rm -rf /)}", [:], "$(rm -rf /)"),
        ] as [(String, [String: String], String)])
    func expansion(text: String, variables: [String: String], expected: String) throws {
        #expect(try VariableExpansion(variables: variables).expand(text) == expected)
    }

    @Test(
        "malformed ${...} is rejected",
        arguments: ["${A", "x ${A:-b", "${A:?x}", "${A:=x}", "${}", "${1A}", "${A B}", "${A-x}", "${$(cmd)}"])
    func malformedExpansion(text: String) {
        #expect(throws: VariableExpansion.Failure.self) { try VariableExpansion(variables: ["A": "v"]).expand(text) }
    }

    @Test("an unset variable without a default is an error naming it and its offset")
    func unset() throws {
        #expect(throws: VariableExpansion.Failure.unset(name: "A", offset: 2)) {
            try VariableExpansion(variables: [:]).expand("x ${A}")
        }
    }

    @Test("variables expand in the config; an unset one is an error at its column")
    func expansionInConfig() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                "binaries:\n  kubeAPIServer: ${KAS:-kube-apiserver}\n  etcd: /opt/${ETCD_DIR}/etcd\nenvironments: {base: {}}\n"
            )
            let config = try ConfigLoader(variables: ["ETCD_DIR": "etcd-3.4"]).load(path)
            #expect(config.binaries.kubeAPIServer == "kube-apiserver")
            #expect(config.binaries.etcd == "/opt/etcd-3.4/etcd")
            let errors = validationErrors(path)
            #expect(errors.count == 1)
            #expect(errors.first?.code == .environmentVariable)
            #expect(
                errors.first?.message
                    == "environment variable ETCD_DIR is not set; set it, or give a default with ${ETCD_DIR:-default}")
            #expect(errors.first?.location.mark == Mark(line: 5, column: 14))
        }
    }

    @Test("a plain ${N:-4} becomes an integer; a quoted one stays a string")
    func plainExpansionResolves() throws {
        try TemporaryFolder.with { folder in
            // Block style: in a flow mapping "${N:-4}}" would not be a plain scalar.
            let plain = try folder.config("environments:\n  base:\n    pool:\n      size: ${N:-4}\n")
            #expect(try ConfigLoader(variables: [:]).load(plain).environments.first?.poolSize == 4)
            #expect(try ConfigLoader(variables: ["N": "7"]).load(plain).environments.first?.poolSize == 7)
            let quoted = try folder.config("environments:\n  base: {pool: {size: \"${N:-4}\"}}\n", name: "quoted.yaml")
            let errors = validationErrors(quoted)
            #expect(errors.map(\.message) == [#"environments.base.pool.size: expected an integer, got a string ("4")"#])
        }
    }

    @Test("a variable that expands to a non-number in an integer field is a schema error at the value")
    func expandedTypeError() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments:\n  base:\n    pool:\n      size: ${N}\n")
            let errors = validationErrors(path, variables: ["N": "many"])
            #expect(
                errors.map(\.message) == [#"environments.base.pool.size: expected an integer, got a string ("many")"#])
            #expect(errors.first?.location.mark == Mark(line: 6, column: 13))
        }
    }

    @Test("keys are not expanded")
    func keysNotExpanded() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments:\n  ${ENV}: {}\n")
            let errors = validationErrors(path, variables: ["ENV": "base"])
            #expect(errors.count == 1)
            #expect(errors.first?.message.contains("\"${ENV}\" is not a valid name") == true)
        }
    }

    @Test("an unset variable in a profile not chosen is fine; in the chosen profile it is an error")
    func unsetInProfile() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                "environments: {base: {}}\nprofiles:\n  ci:\n    binaries: {kubeAPIServer: \"${CI_KAS}\"}\n  local: {}\n"
            )
            #expect(throws: Never.self) { try ConfigLoader(variables: [:]).load(path) }
            #expect(throws: Never.self) { try ConfigLoader(variables: [:]).load(path, profile: "local") }
            let errors = validationErrors(path, profile: "ci")
            #expect(errors.map(\.code) == [.environmentVariable])
            #expect(errors.first?.location.mark == Mark(line: 6, column: 31))
            let config = try ConfigLoader(variables: ["CI_KAS": "/ci/kas"]).load(path, profile: "ci")
            #expect(config.binaries.kubeAPIServer == "/ci/kas")
        }
    }

    // MARK: Profiles

    @Test("a profile merges into mappings, replaces lists and removes environments with null")
    func profileMergePatch() throws {
        try TemporaryFolder.with { folder in
            try folder.write("crds/a.yaml", crdText)
            try folder.write("crds2/b.yaml", crdText)
            let path = try folder.config(
                """
                timeouts: {start: 60s, stop: 5s}
                apiServer: {extraArgs: [--a, --b=1]}
                environments:
                  base: {pool: {size: 2}, crds: [crds/]}
                  extra: {}
                profiles:
                  ci:
                    storage: kine
                    timeouts: {start: 2m}
                    apiServer: {extraArgs: [--c]}
                    environments:
                      base: {crds: [crds2/]}
                      extra: null

                """)
            let plain = try ConfigLoader(variables: [:]).load(path)
            #expect(plain.profile == nil)
            #expect(plain.environments.map(\.name) == ["base", "extra"])
            #expect(plain.profileNames == ["ci"])
            let ci = try ConfigLoader(variables: [:]).load(path, profile: "ci")
            #expect(ci.profile == "ci")
            #expect(ci.storage == .kine)
            #expect(ci.timeouts.start == GoDuration(seconds: 120))
            #expect(ci.timeouts.stop == GoDuration(seconds: 5))
            #expect(ci.apiServerExtraArgs == ["--c"])
            #expect(ci.environments.map(\.name) == ["base"])
            #expect(ci.environments.first?.poolSize == 2)
            #expect(ci.environments.first?.crds.map(\.written) == ["crds2/"])
        }
    }

    @Test("an unknown profile is an error with a suggestion and the list of profiles")
    func unknownProfile() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments: {base: {}}\nprofiles: {ci: {}, large: {}}\n")
            let errors = validationErrors(path, profile: "cl")
            #expect(errors.map(\.code) == [.profile])
            #expect(errors.first?.message == #"no profile "cl"; did you mean "ci"? (the file defines "ci", "large")"#)
            let none = try folder.config("environments: {base: {}}\n", name: "none.yaml")
            #expect(
                validationErrors(none, profile: "ci").first?.message
                    == #"no profile "ci" (the file defines no profiles)"#)
        }
    }

    @Test("without --profile the file is checked with every profile applied")
    func everyProfileChecked() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                environments:
                  base: {}
                  child: {extends: base}
                profiles:
                  ok: {storage: kine}
                  broken:
                    environments: {base: null}

                """)
            #expect(throws: Never.self) { try ConfigLoader(variables: [:]).load(path) }
            #expect(throws: Never.self) { try ConfigLoader(variables: [:]).load(path, profile: "ok") }
            let errors = validationErrors(path)
            #expect(errors.map(\.code) == [.reference])
            #expect(errors.first?.message.contains(#"no environment "base""#) == true)
            #expect(errors.first?.location.mark == Mark(line: 5, column: 20))
            let report = ConfigLoader(variables: [:]).validate(folder("k8senv.yaml"), profile: "ok")
            #expect(report.isValid)
        }
    }

    @Test("a profile's own shape errors point into the profile")
    func profileShapeErrors() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments: {base: {}}\nprofiles:\n  ci:\n    timeouts: {start: soon}\n")
            let errors = validationErrors(path)
            #expect(errors.count == 1)
            #expect(errors.first?.location.mark == Mark(line: 6, column: 23))
            #expect(errors.first?.message.hasPrefix("profiles.ci.timeouts.start:") == true)
        }
    }

    // MARK: Paths

    @Test("relative paths resolve against the config's folder, wherever k8senv runs")
    func relativePaths() throws {
        try TemporaryFolder.with { folder in
            try folder.write("dir/crds/b.yaml", crdText)
            try folder.write("dir/seeds/ns.yaml", namespaceText)
            try folder.write(
                "dir/k8senv.yaml",
                configHeader
                    + "environments:\n  base:\n    crds: [crds/]\n    seeds: [{name: ns, manifests: [./seeds/ns.yaml]}]\n"
            )
            for path in [folder.relativeToCurrentDirectory("dir/k8senv.yaml"), folder("dir/k8senv.yaml")] {
                let loader = ConfigLoader(variables: [:])
                let config = try loader.load(path)
                #expect(config.file == path)
                let plan = try Plan(config)
                let environment = try #require(plan.environments.first)
                #expect(environment.crdFiles.map(\.relativePath) == ["crds/b.yaml"])
                #expect(environment.seedSets.first?.files.map(\.relativePath) == ["seeds/ns.yaml"])
                let directory = String(path.dropLast("/k8senv.yaml".count))
                #expect(environment.crdFiles.map(\.displayPath) == [directory + "/crds/b.yaml"])
            }
        }
    }

    @Test("a missing path is named with the key that lists it")
    func missingPath() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                "environments:\n  base:\n    crds: [nope/]\n    seeds: [{name: s, manifests: [a.yaml, missing.yaml]}]\n"
            )
            try folder.write("a.yaml", namespaceText)
            let errors = validationErrors(path)
            #expect(errors.map(\.code) == [.path, .path])
            #expect(
                errors.first?.message
                    == "environments.base.crds[0]: nope/ does not exist (relative paths start from the folder of \(path))"
            )
            #expect(errors.first?.location.mark == Mark(line: 5, column: 12))
            #expect(
                errors.last?.message.hasPrefix("environments.base.seeds[0].manifests[1]: missing.yaml does not exist")
                    == true)
            #expect(errors.last?.location.mark == Mark(line: 6, column: 43))
        }
    }

    @Test(
        "a FIFO listed directly or inside a listed folder is an error at its entry, never opened (opening one would block)"
    )
    func fifoEntries() throws {
        try TemporaryFolder.with { folder in
            try folder.mkdir("seeds")
            try folder.write("seeds/a.yaml", namespaceText)
            #expect(mkfifo(folder.path + "/seeds/pipe.yaml", 0o600) == 0)
            #expect(mkfifo(folder.path + "/crd.yaml", 0o600) == 0)
            let path = try folder.config(
                "environments:\n  base:\n    crds: [crd.yaml]\n    seeds: [{name: s, manifests: [seeds/]}]\n")
            let errors = validationErrors(path)
            #expect(errors.map(\.code) == [.path, .path], "\(errors)")
            #expect(
                errors.first?.message
                    == "environments.base.crds[0]: crd.yaml is a FIFO (named pipe), not a regular file; manifests must be regular files"
            )
            #expect(errors.first?.location.mark == Mark(line: 5, column: 12))
            #expect(
                errors.last?.message
                    == "\(folder.path)/seeds/pipe.yaml is a FIFO (named pipe), not a regular file; manifests must be regular files"
            )
            #expect(errors.last?.location.mark == Mark(line: 6, column: 35))
        }
    }

    @Test("each manifest file is parsed once per run: the config's checks and the applier share the objects")
    func manifestsParsedOnce() throws {
        try TemporaryFolder.with { folder in
            try folder.write(
                "crds/widget.yaml",
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.dev}\n"
            )
            try folder.write("seeds/a.yaml", namespaceText)
            try folder.write("seeds/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n")
            let path = try folder.config(
                "environments:\n  base:\n    crds: [crds/]\n    seeds: [{name: s, manifests: [seeds/]}]\n  child:\n    extends: base\n    seeds: [{name: t, manifests: [seeds/b.yaml]}]\n"
            )
            let files = SourceFiles()
            let plan = try Plan(try ConfigLoader(files: files).load(path))
            #expect(
                files.manifestParses == 3, "the checks parse each file once, seeds/b.yaml too though two sets name it")
            var objects = 0
            for environment in plan.environments {
                for file in environment.crdFiles + environment.seedSets.flatMap(\.files) {
                    objects += try Manifests.read(file, files: files).count
                }
            }
            #expect(objects == 4)
            #expect(files.manifestParses == 3, "reading the plan's files again (as the applier does) parses nothing")
        }
    }

    @Test("a folder without manifests is an error")
    func emptyFolder() throws {
        try TemporaryFolder.with { folder in
            try folder.mkdir("empty/sub")
            try folder.write("empty/README.md", "not a manifest")
            try folder.write("empty/.hidden.yaml", namespaceText)
            let path = try folder.config("environments:\n  base: {crds: [empty]}\n")
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    "environments.base.crds[0]: the folder empty holds no .yaml, .yml or .json files"
                ])
            #expect(errors.first?.location.mark == Mark(line: 4, column: 17))
        }
    }

    // MARK: References and cycles

    @Test("extends naming an unknown environment, with a suggestion")
    func extendsUnknown() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments:\n  base: {}\n  child: {extends: bsae}\n")
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [#"environments.child.extends: no environment "bsae"; did you mean "base"?"#])
            #expect(errors.first?.code == .reference)
            #expect(errors.first?.location.mark == Mark(line: 5, column: 20))
        }
    }

    @Test("an environment extending itself")
    func selfExtends() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments:\n  base: {extends: base}\n")
            let errors = validationErrors(path)
            #expect(errors.map(\.message) == ["environments.base.extends: an environment cannot extend itself"])
            #expect(errors.first?.code == .cycle)
            #expect(errors.first?.location.mark == Mark(line: 4, column: 19))
        }
    }

    @Test("a cycle of extends is named once, from the first environment in the file")
    func extendsCycle() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                "environments:\n  a: {extends: b}\n  b: {extends: c}\n  c: {extends: a}\n  d: {extends: a}\n")
            let errors = validationErrors(path)
            #expect(errors.map(\.message) == ["environments extend each other in a cycle: a -> b -> c -> a"])
            #expect(errors.first?.code == .cycle)
            #expect(errors.first?.location.mark == Mark(line: 4, column: 16))
        }
    }

    @Test(
        "one object twice in an environment's seeds: an error at the second place naming the first, unless one set depends on the other (the later overrides)"
    )
    func duplicateObjects() throws {
        try TemporaryFolder.with { folder in
            let configMap =
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo\ndata: {a: '1'}\n"
            try folder.write("one.yaml", configMap)
            try folder.write("two.yaml", configMap.replacingOccurrences(of: "'1'", with: "'2'"))
            // In one set: applied concurrently.
            let same = try folder.config(
                "environments:\n  base:\n    seeds:\n      - {name: a, manifests: [one.yaml, two.yaml]}\n",
                name: "same.yaml")
            let s = validationErrors(same)
            #expect(s.map(\.code) == [.duplicate], "\(s)")
            #expect(
                s.first?.message
                    == #"environments.base.seeds: ConfigMap demo/settings is twice in seed set "a" (objects of a set are applied concurrently, so which one lands is not defined); it is also at \#(folder.path)/one.yaml:4:9. Keep one, or make the overriding set depend on the other"#
            )
            #expect(s.first?.location.file.hasSuffix("/two.yaml") == true)
            #expect(s.first?.location.mark == Mark(line: 4, column: 9))

            // In two sets that do not depend on each other: unordered.
            let unordered = try folder.config(
                "environments:\n  base:\n    seeds:\n      - {name: a, manifests: [one.yaml]}\n      - {name: b, manifests: [two.yaml]}\n",
                name: "unordered.yaml")
            let u = validationErrors(unordered)
            #expect(
                u.map(\.message).first?.contains(#"is in seed sets "a" and "b", and neither depends on the other"#)
                    == true, "\(u)")

            // b depends on a (through c): b overrides, as documented.
            try folder.write("ns.yaml", namespaceText)
            let ordered = try folder.config(
                "environments:\n  base:\n    seeds:\n      - {name: a, manifests: [one.yaml]}\n      - {name: c, manifests: [ns.yaml], dependsOn: [a]}\n      - {name: b, manifests: [two.yaml], dependsOn: [c]}\n",
                name: "ordered.yaml")
            #expect(validationErrors(ordered).isEmpty, "\(validationErrors(ordered))")

            // Other names, namespaces or kinds are other objects.
            try folder.write(
                "other.yaml", configMap.replacingOccurrences(of: "namespace: demo", with: "namespace: other"))
            let distinct = try folder.config(
                "environments:\n  base:\n    seeds:\n      - {name: a, manifests: [one.yaml, other.yaml]}\n",
                name: "distinct.yaml")
            #expect(validationErrors(distinct).isEmpty, "\(validationErrors(distinct))")
        }
    }

    @Test("dependsOn naming an unknown seed set, itself, or forming a cycle")
    func dependsOn() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let unknown = try folder.config(
                "environments:\n  base:\n    seeds:\n      - {name: namespaces, manifests: [ns.yaml]}\n      - {name: rbac, manifests: [ns.yaml], dependsOn: [namespace]}\n",
                name: "unknown.yaml")
            let u = validationErrors(unknown)
            #expect(
                u.map(\.message) == [
                    #"environments.base.seeds[1].dependsOn: no seed set "namespace" in environment "base"; did you mean "namespaces"?"#
                ])
            #expect(u.first?.location.mark == Mark(line: 7, column: 56))

            let selfDep = try folder.config(
                "environments:\n  base:\n    seeds:\n      - {name: a, manifests: [ns.yaml], dependsOn: [a]}\n",
                name: "self.yaml")
            let s = validationErrors(selfDep)
            #expect(
                s.map(\.message) == [#"environments.base.seeds[0].dependsOn: seed set "a" cannot depend on itself"#])
            #expect(s.first?.code == .cycle)

            let cycle = try folder.config(
                "environments:\n  base:\n    seeds:\n      - {name: x, manifests: [ns.yaml]}\n      - {name: a, manifests: [ns.yaml], dependsOn: [c]}\n      - {name: b, manifests: [ns.yaml], dependsOn: [a]}\n      - {name: c, manifests: [ns.yaml], dependsOn: [b, x]}\n",
                name: "cycle.yaml")
            let c = validationErrors(cycle)
            #expect(
                c.map(\.message) == [
                    "environments.base.seeds[1].dependsOn: seed sets depend on each other in a cycle: a -> c -> b -> a"
                ])
            #expect(c.first?.code == .cycle)
            #expect(c.first?.location.mark == Mark(line: 7, column: 53))
        }
    }

    @Test("dependsOn may name a seed set of the parent environment")
    func dependsOnParent() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let path = try folder.config(
                "environments:\n  base:\n    seeds: [{name: namespaces, manifests: [ns.yaml]}]\n  child:\n    extends: base\n    seeds: [{name: more, manifests: [ns.yaml], dependsOn: [namespaces]}]\n"
            )
            #expect(validationErrors(path).isEmpty)
        }
    }

    @Test("duplicate seed set names, in one environment or inherited from the parent")
    func duplicateSeeds() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let path = try folder.config(
                """
                environments:
                  base:
                    seeds:
                      - {name: ns, manifests: [ns.yaml]}
                      - {name: ns, manifests: [ns.yaml]}
                  child:
                    extends: base
                    seeds:
                      - {name: ns, manifests: [ns.yaml]}

                """)
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"environments.base.seeds[1].name: seed set "ns" is already defined at line 6"#,
                    #"environments.child.seeds[0].name: seed set "ns" is already defined by environment "base", which this one extends"#,
                ])
            #expect(errors.map(\.code) == [.duplicate, .duplicate])
            #expect(errors.map(\.location.mark) == [Mark(line: 7, column: 16), Mark(line: 11, column: 16)])
        }
    }

    // MARK: Manifest content

    @Test("a CRD entry holding another kind is an error in the CRD file, at its kind")
    func crdHoldsConfigMap() throws {
        try TemporaryFolder.with { folder in
            try folder.write(
                "crds/all.yaml", crdText + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
            let path = try folder.config("environments:\n  base: {crds: [crds]}\n")
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"v1 ConfigMap "settings" is not a CustomResourceDefinition; a crds entry holds only CRDs (put other objects in a seed set)"#
                ])
            #expect(errors.first?.location.file == folder("crds/all.yaml"))
            #expect(errors.first?.location.mark == Mark(line: 12, column: 7))
        }
    }

    @Test("every manifest needs apiVersion, kind and metadata.name, each error inside the manifest file")
    func manifestFields() throws {
        try TemporaryFolder.with { folder in
            try folder.write(
                "seeds/bad.yaml",
                """
                kind: ConfigMap
                metadata: {name: a}
                ---
                apiVersion: v1
                metadata: {name: b}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  namespace: x
                ---
                apiVersion: v1
                kind: Secret
                ---
                - not an object
                ---
                apiVersion: ""
                kind: ConfigMap
                metadata: {name: c}
                ---
                # an empty document is fine

                """)
            let path = try folder.config("environments:\n  base:\n    seeds: [{name: s, manifests: [seeds/]}]\n")
            let errors = validationErrors(path)
            let file = folder("seeds/bad.yaml")
            #expect(errors.allSatisfy { $0.location.file == file })
            #expect(
                errors.map(\.location.mark) == [
                    Mark(line: 1, column: 1), Mark(line: 4, column: 1), Mark(line: 10, column: 3),
                    Mark(line: 12, column: 1),
                    Mark(line: 15, column: 1), Mark(line: 17, column: 13),
                ])
            #expect(
                errors.map(\.message) == [
                    "the object has no apiVersion",
                    "the object has no kind",
                    "the v1 ConfigMap has no metadata.name (or metadata.generateName)",
                    "the v1 Secret has no metadata.name (or metadata.generateName)",
                    "a manifest document must be a mapping (a Kubernetes object), not a list",
                    "apiVersion must be a non-empty string",
                ])
        }
    }

    @Test(
        "objects with only a generateName are valid, and two with one prefix are not duplicates; an empty name is still an error"
    )
    func generateName() throws {
        try TemporaryFolder.with { folder in
            try folder.write(
                "seeds/jobs.yaml",
                """
                apiVersion: v1
                kind: ConfigMap
                metadata: {generateName: run-}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {generateName: run-}
                """)
            let valid = try folder.config(
                "environments:\n  base:\n    seeds: [{name: s, manifests: [seeds/jobs.yaml]}]\n")
            #expect(validationErrors(valid).isEmpty)
            try folder.write(
                "seeds/empty.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"\", generateName: run-}\n")
            let invalid = try folder.config(
                "environments:\n  base:\n    seeds: [{name: s, manifests: [seeds/empty.yaml]}]\n")
            #expect(validationErrors(invalid).map(\.message) == ["metadata.name must be a non-empty string"])
        }
    }

    @Test("the items of a List are checked one by one")
    func listItems() throws {
        try TemporaryFolder.with { folder in
            try folder.write(
                "seeds/list.yaml",
                """
                apiVersion: v1
                kind: List
                items:
                  - {apiVersion: v1, kind: ConfigMap, metadata: {name: ok}}
                  - {apiVersion: v1, kind: ConfigMap, metadata: {}}
                  - {apiVersion: v1, metadata: {name: x}}

                """)
            let path = try folder.config(
                "environments:\n  base:\n    seeds: [{name: s, manifests: [seeds/list.yaml]}]\n")
            let errors = validationErrors(path)
            #expect(errors.map(\.location.mark) == [Mark(line: 5, column: 49), Mark(line: 6, column: 5)])
            #expect(
                errors.map(\.message) == [
                    "the v1 ConfigMap has no metadata.name (or metadata.generateName)", "the object has no kind",
                ])
            let loader = ConfigLoader(variables: [:])
            try folder.write(
                "seeds/list.yaml",
                "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n  - {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"
            )
            let config = try loader.load(path)
            let plan = try Plan(config)
            let file = try #require(plan.environments.first?.seedSets.first?.files.first)
            #expect(try Manifests.read(file, files: loader.files).map(\.name) == ["a", "b"])
        }
    }

    @Test("YAML errors in a manifest file point into that file")
    func manifestSyntax() throws {
        try TemporaryFolder.with { folder in
            try folder.write("seeds/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n")
            let path = try folder.config(
                "environments:\n  base:\n    seeds: [{name: s, manifests: [seeds/broken.yaml]}]\n")
            let errors = validationErrors(path)
            #expect(errors.count == 1)
            #expect(errors.first?.code == .yamlSyntax)
            #expect(errors.first?.location.file == folder("seeds/broken.yaml"))
            #expect(errors.first?.location.mark?.line == 4)
        }
    }

    @Test(
        "a timeout of 0s is rejected at the value that sets it",
        arguments: ["start", "stop", "acquire", "crds", "seeds"])
    func zeroTimeout(key: String) throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("timeouts:\n  \(key): 0s\nenvironments: {base: {}}\n")
            let errors = validationErrors(path)
            #expect(errors.map(\.message) == ["timeouts.\(key): must be longer than 0s"])
            #expect(
                errors.first?.location.mark == Mark(line: 4, column: 5 + key.count),
                "the error should name the line and column of timeouts.\(key)")
        }
    }

    @Test(
        "Go durations",
        arguments: [
            ("500ms", Int64(500_000_000)), ("30s", 30_000_000_000), ("2m", 120_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5s", 1_500_000_000), ("10us", 10_000), ("10µs", 10_000), ("7ns", 7), ("0s", 0),
        ])
    func durations(text: String, nanoseconds: Int64) {
        #expect(GoDuration(text)?.nanoseconds == nanoseconds)
    }

    @Test("not Go durations", arguments: ["", "30", "s", "1.s", ".5s", "1d", "1 s", "-1s", "1m 30s", "99999999999h"])
    func notDurations(text: String) {
        #expect(GoDuration(text) == nil)
    }

    // MARK: Whole-file shape

    @Test("an empty file and a multi-document file are rejected with a position")
    func fileShape() throws {
        try TemporaryFolder.with { folder in
            let empty = try folder.write("empty.yaml", "# nothing here\n")
            let e = validationErrors(empty)
            #expect(e.count == 1)
            #expect(e.first?.location.mark == Mark(line: 1, column: 1))
            let two = try folder.write("two.yaml", configHeader + "environments: {base: {}}\n---\n" + configHeader)
            let t = validationErrors(two)
            #expect(t.map(\.message) == ["a config file holds one YAML document; found 2"])
            #expect(t.first?.location.mark == Mark(line: 5, column: 1))
        }
    }

    @Test("a missing config file is an error naming it and saying what writes one (k8senv init) or names another (-f)")
    func missingConfig() throws {
        try TemporaryFolder.with { folder in
            let errors = validationErrors(folder("absent.yaml"))
            #expect(
                errors.map(\.message) == [
                    "cannot read \(folder("absent.yaml")): no such file; `k8senv init` writes a k8senv.yaml for the repository in the current folder (--dir for another), or -f names another config file"
                ])
            #expect(errors.first?.code == .io)
        }
    }

    @Test("the report prints every error, then a count")
    func reportText() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("storage: etdc\nenvironments:\n  base: {pool: {size: 0}}\n")
            let report = ConfigLoader(variables: [:]).validate(path, profile: nil)
            #expect(!report.isValid)
            #expect(
                report.text == """
                    \(path):3:10: error: storage: "etdc" is not one of "embedded", "etcd", "kine"; did you mean "etcd"?
                        storage: etdc
                                 ^
                    \(path):5:23: error: environments.base.pool.size: 0 is less than the minimum of 1
                          base: {pool: {size: 0}}
                                              ^
                    \(path): 2 errors
                    """)
            let valid = try folder.config("environments: {base: {}, b: {}}\nprofiles: {ci: {}}\n", name: "ok.yaml")
            #expect(
                ConfigLoader(variables: [:]).validate(valid, profile: nil).text
                    == "\(valid): valid (2 environments, 1 profile checked)")
        }
    }

    @Test("the JSON report lists each error with its position and code")
    func reportJSON() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments:\n  base: {pool: {size: 0}}\n")
            let report = ConfigLoader(variables: [:]).validate(path, profile: nil)
            #expect(
                report.json
                    == #"{"errors":[{"code":"schema","column":23,"file":"\#(path)","line":4,"message":"environments.base.pool.size: 0 is less than the minimum of 1"}],"file":"\#(path)","valid":false}"#
            )
        }
    }

    @Test("the JSON report escapes a path holding a quote, a backslash and a newline")
    func reportJSONEscapes() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments:\n  base: {pool: {size: 0}}\n", name: "we\"ird\\na\nme.yaml")
            let report = ConfigLoader(variables: [:]).validate(path, profile: nil)
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any], "\(report.json)")
            #expect(object["file"] as? String == path)
            #expect(((object["errors"] as? [[String: Any]])?.first?["file"] as? String) == path)
            #expect(!report.json.contains("\n"), "one line")
        }
    }
}
