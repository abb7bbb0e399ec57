import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// `apiServer.featureGates` and `apiServer.runtimeConfig`: their shape, how they load, the
/// clash with the same flag in extraArgs, and the cache key.
@Suite("apiServer.featureGates and apiServer.runtimeConfig", .tags(.fast))
struct APIServerSwitchesTests {
    // MARK: Schema

    @Test("a value that is not true or false is an error at the value")
    func valuesAreBooleans() throws {
        let errors = try configSchemaErrors(
            minimalConfig + """
                apiServer:
                  featureGates: {EphemeralContainers: "true", AllAlpha: false}
                  runtimeConfig:
                    batch/v1beta1: 0
                environments: {base: {}}

                """)
        #expect(
            errors.map(\.message) == [
                #"apiServer.featureGates.EphemeralContainers: expected a boolean (true or false), got a string ("true")"#,
                #"apiServer.runtimeConfig["batch/v1beta1"]: expected a boolean (true or false), got an integer (0)"#,
            ])
        #expect(errors.map(\.location.mark) == [Mark(line: 4, column: 39), Mark(line: 6, column: 20)])
    }

    @Test("runtimeConfig takes <group>/<version>, v1 and api/all|ga|beta|alpha; anything else is an error at the key")
    func runtimeConfigKeys() throws {
        let good = [
            "batch/v1beta1", "apps/v1", "flowcontrol.apiserver.k8s.io/v1alpha1", "autoscaling/v2beta2", "v1",
            "api/all", "api/ga", "api/beta", "api/alpha", "api/v1",
        ]
        for key in good {
            #expect(
                try configSchemaErrors(
                    minimalConfig + "apiServer: {runtimeConfig: {\(key): false}}\nenvironments: {base: {}}\n"
                ).isEmpty, "\(key)")
        }
        for key in [
            "batch", "api/legacy", "Batch/v1", "batch/1", "batch/v1/jobs", "batch/v1beta", "/v1", "api/everything",
        ] {
            let errors = try configSchemaErrors(
                minimalConfig + "apiServer:\n  runtimeConfig:\n    \(key): false\nenvironments: {base: {}}\n")
            #expect(
                errors.map(\.message) == [
                    "apiServer.runtimeConfig: \"\(key)\" is not an API of the form <group>/<version> (such as batch/v1beta1), v1, or api/all, api/ga, api/beta, api/alpha"
                ], "\(key)")
            #expect(errors.first?.location.mark == Mark(line: 5, column: 5), "\(key)")
        }
    }

    @Test("a feature gate name is letters and digits")
    func gateNames() throws {
        #expect(
            try configSchemaErrors(
                minimalConfig + "apiServer: {featureGates: {CSIMigrationvSphere: true}}\nenvironments: {base: {}}\n"
            ).isEmpty)
        let errors = try configSchemaErrors(
            minimalConfig + "apiServer:\n  featureGates:\n    Ephemeral-Containers: true\nenvironments: {base: {}}\n")
        #expect(
            errors.map(\.message) == [
                #"apiServer.featureGates: "Ephemeral-Containers" is not a feature gate name (letters and digits, such as APIPriorityAndFairness)"#
            ])
        #expect(errors.first?.location.mark == Mark(line: 5, column: 5))
    }

    // MARK: Loading

    @Test("both load sorted by name, each with the place of its name; a profile merges into them")
    func loading() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                apiServer:
                  featureGates:
                    EphemeralContainers: true
                    APIPriorityAndFairness: false
                  runtimeConfig:
                    batch/v1beta1: false
                    api/alpha: true
                environments: {base: {}}
                profiles:
                  ci:
                    apiServer:
                      featureGates: {EphemeralContainers: false, AllAlpha: true}

                """)
            let plain = try ConfigLoader(variables: [:]).load(path)
            #expect(plain.apiServerFeatureGates.map(\.name) == ["APIPriorityAndFairness", "EphemeralContainers"])
            #expect(plain.apiServerFeatureGates.map(\.enabled) == [false, true])
            #expect(plain.apiServerFeatureGates.map(\.location.description) == ["\(path):6:5", "\(path):5:5"])
            #expect(plain.apiServerRuntimeConfig.values == ["api/alpha": true, "batch/v1beta1": false])
            #expect(plain.apiServerKeyLocations["featureGates"]?.description == "\(path):4:3")

            let ci = try ConfigLoader(variables: [:]).load(path, profile: "ci")
            #expect(
                ci.apiServerFeatureGates.values == [
                    "APIPriorityAndFairness": false, "EphemeralContainers": false, "AllAlpha": true,
                ])
            #expect(ci.apiServerRuntimeConfig.values == ["api/alpha": true, "batch/v1beta1": false])
        }
    }

    @Test(
        "--feature-gates or --runtime-config in extraArgs next to the key is an error at the argument, naming the key's place"
    )
    func flagAndKey() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                apiServer:
                  extraArgs:
                    - --v=2
                    - --feature-gates=EphemeralContainers=true
                    - --runtime-config=batch/v1beta1=false
                  featureGates:
                    APIPriorityAndFairness: false
                  runtimeConfig: {autoscaling/v2beta2: false}
                environments: {base: {}}

                """)
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    "apiServer.extraArgs[1]: --feature-gates is set here and by apiServer.featureGates at \(path):8:3; use one of the two: move its entries into apiServer.featureGates and drop this argument, or drop apiServer.featureGates",
                    "apiServer.extraArgs[2]: --runtime-config is set here and by apiServer.runtimeConfig at \(path):10:3; use one of the two: move its entries into apiServer.runtimeConfig and drop this argument, or drop apiServer.runtimeConfig",
                ])
            #expect(errors.map(\.location.description) == ["\(path):6:7", "\(path):7:7"])
            #expect(errors.allSatisfy { $0.code == .duplicate })

            // Either one alone is fine; so is a flag with another name that starts the same.
            for body in [
                "apiServer: {extraArgs: [--feature-gates=A=true, --runtime-config=v1=true]}",
                "apiServer: {featureGates: {A: true}, runtimeConfig: {v1: true}, extraArgs: [--feature-gates-extra=1]}",
                "apiServer: {featureGates: {}, extraArgs: [--feature-gates=A=true]}",
            ] {
                #expect(
                    validationErrors(try folder.config(body + "\nenvironments: {base: {}}\n", name: "ok.yaml")).isEmpty,
                    "\(body)")
            }
        }
    }

    @Test("a profile that adds the key to a file whose extraArgs set the flag is an error with the profile named")
    func flagAndKeyFromProfile() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                apiServer: {extraArgs: [--feature-gates=A=true]}
                environments: {base: {}}
                profiles:
                  gates: {apiServer: {featureGates: {B: true}}}

                """)
            let errors = validationErrors(path)
            #expect(errors.count == 1)
            #expect(
                errors.first?.message.hasPrefix(
                    "apiServer.extraArgs[0]: --feature-gates is set here and by apiServer.featureGates at \(path):6:23")
                    == true, "\(errors)")
            #expect(errors.first?.message.hasSuffix(" (with profile \"gates\")") == true, "\(errors)")
        }
    }

    // MARK: Cache key

    static let config = """
        storage: etcd
        apiServer:
          extraArgs: [--v=2]
          featureGates: {EphemeralContainers: true, APIPriorityAndFairness: false}
          runtimeConfig: {batch/v1beta1: false}
        environments:
          base:
            pool: {size: 4}
            seeds: [{name: ns, manifests: [ns.yaml]}]

        """

    @Test("the key has one line per gate and per API, sorted by name, after the extraArgs")
    func canonicalForm() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let keys = try cacheKeys(try folder.config(Self.config))
            let bytes = try Repository.read(folder("ns.yaml"))
            let form =
                Array(
                    """
                    k8senv-cache-key/v1
                    storage etcd
                    kube-apiserver v1.20.2
                    arg --v=2
                    feature-gate APIPriorityAndFairness false
                    feature-gate EphemeralContainers true
                    runtime-config batch/v1beta1 false
                    parent -
                    seed-set ns\u{20}
                    manifest ns.yaml \(bytes.count)

                    """.utf8) + bytes + Array("\n".utf8)
            #expect(keys["base"] == SHA256Hasher.hex(form))
        }
    }

    @Test(
        "a gate or an API added, removed or flipped changes the key",
        arguments: [
            config.replacingOccurrences(of: "EphemeralContainers: true", with: "EphemeralContainers: false"),
            config.replacingOccurrences(of: "EphemeralContainers: true, ", with: ""),
            config.replacingOccurrences(of: "{EphemeralContainers", with: "{AllAlpha: true, EphemeralContainers"),
            config.replacingOccurrences(of: "{batch/v1beta1: false}", with: "{batch/v1beta1: true}"),
            config.replacingOccurrences(of: "{batch/v1beta1: false}", with: "{batch/v1beta1: false, api/alpha: true}"),
            config.replacingOccurrences(of: "  runtimeConfig: {batch/v1beta1: false}\n", with: ""),
            // The same flag through extraArgs instead of the key is another description of the work.
            config.replacingOccurrences(of: "  runtimeConfig: {batch/v1beta1: false}\n", with: "")
                .replacingOccurrences(of: "[--v=2]", with: "[--v=2, --runtime-config=batch/v1beta1=false]"),
        ])
    func changesKey(variant: String) throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let original = try cacheKeys(try folder.config(Self.config))
            let changed = try cacheKeys(try folder.config(variant, name: "variant.yaml"))
            #expect(changed["base"] != original["base"])
        }
    }

    @Test(
        "order in the file, flow or block style, comments and the pool size do not change the key",
        arguments: [
            config.replacingOccurrences(
                of: "{EphemeralContainers: true, APIPriorityAndFairness: false}",
                with: "{APIPriorityAndFairness: false, EphemeralContainers: true}"),
            config.replacingOccurrences(
                of: "  featureGates: {EphemeralContainers: true, APIPriorityAndFairness: false}\n",
                with:
                    "  featureGates:\n    # slow in CI\n    APIPriorityAndFairness: false\n    EphemeralContainers: true\n"
            ),
            config.replacingOccurrences(of: "size: 4", with: "size: 1"),
            config.replacingOccurrences(of: "  extraArgs: [--v=2]\n", with: "")
                .replacingOccurrences(
                    of: "  runtimeConfig: {batch/v1beta1: false}\n",
                    with: "  runtimeConfig: {batch/v1beta1: false}\n  extraArgs: [--v=2]\n"),
        ])
    func keepsKey(variant: String) throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let original = try cacheKeys(try folder.config(Self.config))
            #expect(try cacheKeys(try folder.config(variant, name: "variant.yaml")) == original)
        }
    }

    @Test("empty featureGates and runtimeConfig give the key of a config without them (existing snapshots stay valid)")
    func emptyIsAbsent() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            let without = "storage: etcd\nenvironments:\n  base:\n    seeds: [{name: ns, manifests: [ns.yaml]}]\n"
            let empty =
                "storage: etcd\napiServer: {featureGates: {}, runtimeConfig: {}}\nenvironments:\n  base:\n    seeds: [{name: ns, manifests: [ns.yaml]}]\n"
            #expect(
                try cacheKeys(try folder.config(without))
                    == (try cacheKeys(try folder.config(empty, name: "empty.yaml"))))
        }
    }
}
