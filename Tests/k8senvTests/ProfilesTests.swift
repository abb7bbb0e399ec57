import Foundation
import Testing

/// `k8senv profiles`, and the GitHub Actions workflow of docs/how-to/ci.md that uses it.
@Suite("profiles (the built binary)", .tags(.cli), .timeLimit(.minutes(1)))
struct ProfilesTests {
    static let threeProfiles = """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        environments:
          base:
            pool: {size: 1}
          payments:
            extends: base
        profiles:
          ci:
            timeouts: {start: 180s}
          small:
            environments:
              payments: null
          extra:
            environments:
              audit: {extends: base}

        """

    @Test("text: the example's one profile, one per line")
    func exampleText() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let outcome = try await ws.k8senv("profiles")
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.stdout == "ci\n", "\(outcome)")
            #expect(outcome.stderr.isEmpty, "\(outcome)")
        }
    }

    @Test(
        "json: a matrix object whose only key is include, one entry per profile with its environments, storage and binaries"
    )
    func exampleJSON() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let outcome = try await ws.k8senv(
                "profiles", "--format", "json", environment: ["K8SENV_KUBE_APISERVER": nil, "K8SENV_STORAGE": nil])
            #expect(outcome.status == 0, "\(outcome)")
            #expect(
                outcome.stdout
                    == #"{"include":[{"binaries":{"kubeAPIServer":"kube-apiserver"},"environments":["base","payments"],"profile":"ci","storage":"embedded"}]}"#
                    + "\n", "\(outcome)")
            let object = try #require(parseJSONObject(outcome.stdout))
            #expect(Array(object.keys) == ["include"])
        }
    }

    @Test("profiles in file order; each lists the environments with that profile applied, parents first")
    func severalProfiles() async throws {
        try await Workspace.with(config: Self.threeProfiles, apiServers: false) { ws in
            let text = try await ws.k8senv("profiles", "-f", "k8senv.yaml")
            #expect(text.status == 0, "\(text)")
            #expect(text.stdout == "ci\nsmall\nextra\n", "\(text)")

            let json = try await ws.k8senv("profiles", "--file", "k8senv.yaml", "--format", "json")
            #expect(json.status == 0, "\(json)")
            let object = try #require(parseJSONObject(json.stdout))
            let include = try #require(object["include"] as? [[String: Any]])
            #expect(include.map { $0["profile"] as? String } == ["ci", "small", "extra"])
            #expect(
                include.map { $0["environments"] as? [String] } == [
                    ["base", "payments"], ["base"], ["base", "payments", "audit"],
                ])
        }
    }

    static let versionMatrix = """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        kubeVersion: v1.20.2
        binaries:
          kubeAPIServer: kube-apiserver
          etcd: /opt/etcd/bin/etcd
        environments:
          base:
            pool: {size: 1}
        profiles:
          plain: {}
          k8s-1-31:
            kubeVersion: v1.31.0
            binaries: {kubeAPIServer: /opt/k8s/v1.31.0/kube-apiserver}
          k8s-1-31-etcd:
            kubeVersion: v1.31.0
            storage: etcd
          kine:
            storage: kine

        """

    @Test(
        "json: each profile's kubeVersion (the file's unless the profile sets one), its storage and the binaries that storage runs"
    )
    func versionMatrix() async throws {
        try await Workspace.with(config: Self.versionMatrix, apiServers: false) { ws in
            let json = try await ws.k8senv("profiles", "--format", "json")
            #expect(json.status == 0, "\(json)")
            let object = try #require(parseJSONObject(json.stdout))
            let include = try #require(object["include"] as? [[String: Any]])
            #expect(include.map { $0["profile"] as? String } == ["plain", "k8s-1-31", "k8s-1-31-etcd", "kine"])
            #expect(include.map { $0["kubeVersion"] as? String } == ["v1.20.2", "v1.31.0", "v1.31.0", "v1.20.2"])
            #expect(include.map { $0["storage"] as? String } == ["embedded", "embedded", "etcd", "kine"])
            #expect(
                include.map { $0["binaries"] as? [String: String] } == [
                    ["kubeAPIServer": "kube-apiserver"],
                    ["kubeAPIServer": "/opt/k8s/v1.31.0/kube-apiserver"],
                    ["kubeAPIServer": "kube-apiserver", "etcd": "/opt/etcd/bin/etcd"],
                    ["kubeAPIServer": "kube-apiserver", "kine": "kine"],
                ])
            // Without a declared kubeVersion the key is absent (not null).
            try ws.write("k8senv.yaml", Self.versionMatrix.replacingOccurrences(of: "kubeVersion: v1.20.2\n", with: ""))
            let absent = try await ws.k8senv("profiles", "--format", "json")
            let first = try #require((parseJSONObject(absent.stdout)?["include"] as? [[String: Any]])?.first)
            #expect(first["kubeVersion"] == nil && first["profile"] as? String == "plain", "\(absent)")
        }
    }

    @Test("kubeVersion: a malformed one is an error at its file:line:col, in the file or in a profile")
    func malformedKubeVersion() async throws {
        let config = Self.versionMatrix.replacingOccurrences(
            of: "kubeVersion: v1.31.0\n    binaries", with: "kubeVersion: \"1.31\"\n    binaries")
        try await Workspace.with(config: config, apiServers: false) { ws in
            let outcome = try await ws.k8senv("profiles", "--format", "json")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stderr.contains("k8senv.yaml:13:18: error:")
                    && outcome.stderr.contains("a Kubernetes release such as v1.31.0"), "\(outcome)")
            #expect(outcome.stdout.isEmpty, "\(outcome)")
        }
    }

    @Test("kubeVersion: hash refuses another kube-apiserver version, saying where kubeVersion is and what to install")
    func kubeVersionMismatch() async throws {
        try await Workspace.with(config: Self.versionMatrix, apiServers: false) { ws in
            let fits = try await ws.k8senv("hash", "--profile", "k8s-1-31", "--apiserver-version", "v1.31.0")
            #expect(fits.status == 0, "\(fits)")
            let other = try await ws.k8senv("hash", "--profile", "k8s-1-31", "--apiserver-version", "v1.20.2")
            #expect(other.status == 1, "\(other)")
            #expect(
                other.stderr.contains(
                    "k8senv.yaml:13:18: kubeVersion is v1.31.0 (with profile \"k8s-1-31\"), but --apiserver-version reports v1.20.2; install kube-apiserver v1.31.0 and point K8SENV_KUBE_APISERVER (or binaries.kubeAPIServer) at it: https://github.com/k8senv/k8senv/blob/main/docs/how-to/upgrade-apiserver.md"
                ), "\(other)")
            #expect(other.stdout.isEmpty, "\(other)")
        }
    }

    @Test("kubeVersion: run refuses a kube-apiserver binary of another version before starting anything")
    func kubeVersionMismatchAtRun() async throws {
        let binaries = try RealBinaries.require()
        let config = Workspace.smallConfig().replacingOccurrences(
            of: "kind: Config\n", with: "kind: Config\nkubeVersion: v1.99.0\n")
        try await Workspace.with(config: config, apiServers: false) { ws in
            let outcome = try await ws.k8senv("run", "--", "true")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stderr.contains("kubeVersion is v1.99.0, but \(binaries.kubeAPIServer) reports v1."),
                "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "no profiles: nothing in text; in JSON one entry, the config as written with profile \"\", so a CI matrix is never empty"
    )
    func noProfiles() async throws {
        try await Workspace.with(config: Workspace.smallConfig(), apiServers: false) { ws in
            let text = try await ws.k8senv("profiles")
            #expect(text.status == 0 && text.stdout.isEmpty, "\(text)")
            let json = try await ws.k8senv(
                "profiles", "--format", "json", environment: ["K8SENV_KUBE_APISERVER": nil, "K8SENV_STORAGE": nil])
            #expect(json.status == 0, "\(json)")
            #expect(
                json.stdout
                    == #"{"include":[{"binaries":{"kubeAPIServer":"kube-apiserver"},"environments":["one"],"profile":"","storage":"embedded"}]}"#
                    + "\n", "\(json)")
            // --profile "" is the config without a profile, for every command the matrix feeds.
            let hash = try await ws.k8senv("hash", "--profile", "", "--apiserver-version", "v1.20.2")
            let plain = try await ws.k8senv("hash", "--apiserver-version", "v1.20.2")
            #expect(hash.status == 0 && hash.stdout == plain.stdout && !hash.stdout.isEmpty, "\(hash)")
            let validate = try await ws.k8senv("validate", "--profile", "")
            #expect(validate.status == 0, "\(validate)")
        }
    }

    @Test("--profile \"\" is no profile also in a file with profiles; a profile the file lacks is still an error")
    func emptyProfileIsNone() async throws {
        try await Workspace.with(config: Self.threeProfiles, apiServers: false) { ws in
            let none = try await ws.k8senv("hash", "--profile", "", "--apiserver-version", "v1.20.2")
            let plain = try await ws.k8senv("hash", "--apiserver-version", "v1.20.2")
            #expect(none.status == 0 && none.stdout == plain.stdout, "\(none)")
            let json = try await ws.k8senv("profiles", "--format", "json")
            let include = try #require(parseJSONObject(json.stdout)?["include"] as? [[String: Any]])
            #expect(
                include.map { $0["profile"] as? String } == ["ci", "small", "extra"],
                "profiles, when there are any, are the matrix: \(json)")
            let unknown = try await ws.k8senv("hash", "--profile", "cj", "--apiserver-version", "v1.20.2")
            #expect(unknown.status == 1 && unknown.stderr.contains("no profile \"cj\""), "\(unknown)")
        }
    }

    @Test("an invalid file: exit 1, file:line:col errors on stderr, nothing on stdout")
    func invalidFile() async throws {
        try await Workspace.with(config: CLITests.invalid, apiServers: false) { ws in
            for format in ["text", "json"] {
                let outcome = try await ws.k8senv("profiles", "--format", format)
                #expect(outcome.status == 1, "\(outcome)")
                #expect(outcome.stderr.contains("k8senv.yaml:3:10: error: storage: \"etc\""), "\(outcome)")
                #expect(outcome.stdout.isEmpty, "\(outcome)")
            }
        }
    }

    @Test("a profile that breaks the file is an error too (every profile is checked, as validate does)")
    func invalidProfile() async throws {
        let config =
            Self.threeProfiles + """
                  broken:
                    environments:
                      base: null

                """
        try await Workspace.with(config: config, apiServers: false) { ws in
            let outcome = try await ws.k8senv("profiles", "--format", "json")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("k8senv.yaml:"), "\(outcome)")
            #expect(outcome.stderr.contains("(with profile \"broken\")"), "\(outcome)")
            #expect(outcome.stdout.isEmpty, "\(outcome)")
        }
    }

    @Test("a missing file: exit 1 naming it; a bad --format: exit 2")
    func missingFileAndUsage() async throws {
        try await Workspace.with(apiServers: false) { ws in
            let missing = try await ws.k8senv("profiles", "-f", "nope.yaml")
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.stderr.contains("nope.yaml"), "\(missing)")
            let usage = try await ws.k8senv("profiles", "--format", "yaml")
            #expect(usage.status == 2, "\(usage)")
        }
    }

    @Test("every listed profile works with hash --profile (the CI cache key step)")
    func hashEachProfile() async throws {
        try await Workspace.with(config: Self.threeProfiles, apiServers: false) { ws in
            let listed = try await ws.k8senv("profiles")
            for profile in listed.stdout.split(separator: "\n").map(String.init) {
                let hash = try await ws.k8senv("hash", "--profile", profile, "--apiserver-version", "v1.20.2")
                #expect(hash.status == 0, "\(profile): \(hash)")
                #expect(!hash.stdout.isEmpty, "\(profile): \(hash)")
            }
        }
    }
}
