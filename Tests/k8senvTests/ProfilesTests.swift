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

    @Test("json: a matrix object whose only key is include, one entry per profile with its environments, storage and binaries")
    func exampleJSON() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let outcome = try await ws.k8senv("profiles", "--format", "json", environment: ["K8SENV_KUBE_APISERVER": nil, "K8SENV_STORAGE": nil])
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.stdout == #"{"include":[{"binaries":{"kubeAPIServer":"kube-apiserver"},"environments":["base","payments"],"profile":"ci","storage":"embedded"}]}"# + "\n", "\(outcome)")
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
            #expect(include.map { $0["environments"] as? [String] } == [["base", "payments"], ["base"], ["base", "payments", "audit"]])
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

    @Test("json: each profile's kubeVersion (the file's unless the profile sets one), its storage and the binaries that storage runs")
    func versionMatrix() async throws {
        try await Workspace.with(config: Self.versionMatrix, apiServers: false) { ws in
            let json = try await ws.k8senv("profiles", "--format", "json")
            #expect(json.status == 0, "\(json)")
            let object = try #require(parseJSONObject(json.stdout))
            let include = try #require(object["include"] as? [[String: Any]])
            #expect(include.map { $0["profile"] as? String } == ["plain", "k8s-1-31", "k8s-1-31-etcd", "kine"])
            #expect(include.map { $0["kubeVersion"] as? String } == ["v1.20.2", "v1.31.0", "v1.31.0", "v1.20.2"])
            #expect(include.map { $0["storage"] as? String } == ["embedded", "embedded", "etcd", "kine"])
            #expect(include.map { $0["binaries"] as? [String: String] } == [
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
        let config = Self.versionMatrix.replacingOccurrences(of: "kubeVersion: v1.31.0\n    binaries", with: "kubeVersion: \"1.31\"\n    binaries")
        try await Workspace.with(config: config, apiServers: false) { ws in
            let outcome = try await ws.k8senv("profiles", "--format", "json")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("k8senv.yaml:13:18: error:") && outcome.stderr.contains("a Kubernetes release such as v1.31.0"), "\(outcome)")
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
            #expect(other.stderr.contains("k8senv.yaml:13:18: kubeVersion is v1.31.0 (with profile \"k8s-1-31\"), but --apiserver-version reports v1.20.2; install kube-apiserver v1.31.0 and point K8SENV_KUBE_APISERVER (or binaries.kubeAPIServer) at it: https://github.com/k8senv/k8senv/blob/main/docs/how-to/upgrade-apiserver.md"), "\(other)")
            #expect(other.stdout.isEmpty, "\(other)")
        }
    }

    @Test("kubeVersion: run refuses a kube-apiserver binary of another version before starting anything")
    func kubeVersionMismatchAtRun() async throws {
        let binaries = try RealBinaries.require()
        let config = Workspace.smallConfig().replacingOccurrences(of: "kind: Config\n", with: "kind: Config\nkubeVersion: v1.99.0\n")
        try await Workspace.with(config: config, apiServers: false) { ws in
            let outcome = try await ws.k8senv("run", "--", "true")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("kubeVersion is v1.99.0, but \(binaries.kubeAPIServer) reports v1."), "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("no profiles: nothing in text; in JSON one entry, the config as written with profile \"\", so a CI matrix is never empty")
    func noProfiles() async throws {
        try await Workspace.with(config: Workspace.smallConfig(), apiServers: false) { ws in
            let text = try await ws.k8senv("profiles")
            #expect(text.status == 0 && text.stdout.isEmpty, "\(text)")
            let json = try await ws.k8senv("profiles", "--format", "json", environment: ["K8SENV_KUBE_APISERVER": nil, "K8SENV_STORAGE": nil])
            #expect(json.status == 0, "\(json)")
            #expect(json.stdout == #"{"include":[{"binaries":{"kubeAPIServer":"kube-apiserver"},"environments":["one"],"profile":"","storage":"embedded"}]}"# + "\n", "\(json)")
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
            #expect(include.map { $0["profile"] as? String } == ["ci", "small", "extra"], "profiles, when there are any, are the matrix: \(json)")
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
        let config = Self.threeProfiles + """
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

/// The workflow of docs/how-to/ci.md, its `run:` scripts run as written, with bash as GitHub
/// runs them (`bash -eo pipefail`), against a copy of the example.
@Suite("docs/how-to/ci.md (the workflow's shell steps)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct CIWorkflowTests {
    /// The workflow's jobs, parsed: the ```yaml block after `<!-- workflow -->` (or another
    /// marker), read by `k8senv json` (the YAML reader k8senv uses for everything).
    static func workflow(in ws: Workspace, marker: String = "workflow") async throws -> [String: Any] {
        let page = String(decoding: try Repository.read(Repository.root + "/docs/how-to/ci.md"), as: UTF8.self)
        let blocks = MarkdownBlocks.fenced(page)
        let block = try #require(blocks.first { $0.marker == marker }, "no <!-- \(marker) --> block in ci.md")
        let file = try ws.write("../workflow.yml", block.text)
        let outcome = try await ws.k8senv("json", file)
        #expect(outcome.status == 0, "\(outcome)")
        return try #require(parseJSONObject(outcome.stdout))
    }

    static func step(_ workflow: [String: Any], job: String, id: String) throws -> [String: Any] {
        let jobs = try #require(workflow["jobs"] as? [String: Any])
        let steps = try #require((jobs[job] as? [String: Any])?["steps"] as? [[String: Any]], "no job \(job)")
        return try #require(steps.first { $0["id"] as? String == id }, "no step \(id) in job \(job)")
    }

    /// Runs a step's script as GitHub's `shell: bash` does, with `PROFILE` and `GITHUB_OUTPUT`.
    static func runStep(_ step: [String: Any], in ws: Workspace, profile: String? = nil,
                        path extraPath: String? = nil) async throws -> (Outcome, [String: String]) {
        let script = try #require(step["run"] as? String)
        #expect(!script.contains("${{"), "a run: script with a GitHub expression cannot be tested: \(script)")
        let output = ws.path + "/github-output-\(UUID().uuidString.prefix(6))"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let scriptFile = try ws.write("../step-\(UUID().uuidString.prefix(6)).sh", script)
        let bin = (Repository.binary as NSString).deletingLastPathComponent
        let path = [extraPath, bin, ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].compactMap { $0 }.joined(separator: ":")
        let child = try ws.launch("/bin/bash", ["--noprofile", "--norc", "-eo", "pipefail", scriptFile],
                                  environment: ["PATH": path, "PROFILE": profile, "GITHUB_OUTPUT": output])
        let outcome = try await ws.finish(child)
        var values: [String: String] = [:]
        for line in ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n") {
            if let equals = line.firstIndex(of: "=") { values[String(line[..<equals])] = String(line[line.index(after: equals)...]) }
        }
        return (outcome, values)
    }

    @Test("plan: the profiles step writes the matrix; the test job consumes it with fromJSON")
    func planStep() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let workflow = try await Self.workflow(in: ws)
            let (outcome, outputs) = try await Self.runStep(try Self.step(workflow, job: "plan", id: "profiles"), in: ws)
            #expect(outcome.status == 0, "\(outcome)")
            let matrix = try #require(parseJSONObject(outputs["matrix"] ?? ""), "\(outputs)")
            let include = try #require(matrix["include"] as? [[String: Any]])
            #expect(include.count == 1 && include[0]["profile"] as? String == "ci", "\(outputs)")
            #expect(include[0]["environments"] as? [String] == ["base", "payments"], "\(outputs)")
            #expect(include[0]["storage"] as? String == RealBinaries.storage, "\(outputs)")

            let jobs = try #require(workflow["jobs"] as? [String: Any])
            let plan = try #require(jobs["plan"] as? [String: Any])
            #expect((plan["outputs"] as? [String: Any])?["matrix"] as? String == "${{ steps.profiles.outputs.matrix }}")
            let test = try #require(jobs["test"] as? [String: Any])
            #expect((test["strategy"] as? [String: Any])?["matrix"] as? String == "${{ fromJSON(needs.plan.outputs.matrix) }}")
            #expect(test["if"] == nil, "the test job is never skipped: an empty matrix would fail it (GitHub refuses one), and profiles never prints one")
            #expect((test["env"] as? [String: Any])?["PROFILE"] as? String == "${{ matrix.profile }}")
        }
    }

    @Test("plan: an invalid k8senv.yaml fails the profiles step")
    func planStepFails() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let workflow = try await Self.workflow(in: ws)
            try ws.write("k8senv.yaml", CLITests.invalid)
            let (outcome, outputs) = try await Self.runStep(try Self.step(workflow, job: "plan", id: "profiles"), in: ws)
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("k8senv.yaml:3:10: error:"), "\(outcome)")
            #expect(outputs["matrix"] == nil, "\(outputs)")
        }
    }

    @Test("a config without profiles (the tutorial's) is one job, not none: its matrix entry has profile \"\", and the key and test steps run it")
    func configWithoutProfiles() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig()) { ws in
            let workflow = try await Self.workflow(in: ws)
            let (plan, outputs) = try await Self.runStep(try Self.step(workflow, job: "plan", id: "profiles"), in: ws)
            #expect(plan.status == 0, "\(plan)")
            let include = try #require(parseJSONObject(outputs["matrix"] ?? "")?["include"] as? [[String: Any]], "\(outputs)")
            #expect(include.count == 1 && include[0]["profile"] as? String == "", "\(outputs)")
            let jobs = try #require(workflow["jobs"] as? [String: Any])
            #expect((jobs["test"] as? [String: Any])?["if"] == nil, "the test job must not be skipped")

            let (key, keys) = try await Self.runStep(try Self.step(workflow, job: "test", id: "key"), in: ws, profile: "")
            #expect(key.status == 0, "\(key)")
            #expect(keys["key"]?.hasPrefix("k8senv--") == true, "\(keys)")
            try ws.write("fake-bin/go", """
                #!/bin/sh
                test "$1 $2" = "test ./..." || exit 3
                kubectl get namespace default -o name

                """, mode: 0o755)
            let (run, _) = try await Self.runStep(try Self.step(workflow, job: "test", id: "test"), in: ws, profile: "",
                                                  path: ws.path + "/fake-bin")
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("namespace/default"), "\(run)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test("test: the key step gives one stable key per profile from k8senv hash, which changes with a CRD; the test step runs the command with KUBECONFIG set")
    func keyAndTestSteps() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true) { ws in
            let workflow = try await Self.workflow(in: ws)
            let keyStep = try Self.step(workflow, job: "test", id: "key")
            let (first, outputs) = try await Self.runStep(keyStep, in: ws, profile: "ci")
            #expect(first.status == 0, "\(first)")
            let key = try #require(outputs["key"], "\(first)")
            #expect(key.hasPrefix("k8senv-ci-") && key.count == "k8senv-ci-".count + 64, "\(key)")
            let (_, again) = try await Self.runStep(keyStep, in: ws, profile: "ci")
            #expect(again["key"] == key)

            // A CRD outside the config's folder (../crds/) changes the key: what hashFiles would miss.
            let crd = ws.path + "/crds/widgets.example.k8senv.dev.yaml"
            let original = try String(contentsOfFile: crd, encoding: .utf8)
            try (original + "\n# changed\n").write(toFile: crd, atomically: true, encoding: .utf8)
            let (_, changed) = try await Self.runStep(keyStep, in: ws, profile: "ci")
            #expect(changed["key"] != nil && changed["key"] != key, "\(changed)")
            try original.write(toFile: crd, atomically: true, encoding: .utf8)

            // An unknown profile fails the step (pipefail), instead of keying on nothing.
            let (unknown, unknownOutputs) = try await Self.runStep(keyStep, in: ws, profile: "cj")
            #expect(unknown.status != 0, "\(unknown)")
            #expect(unknownOutputs["key"] == nil)

            // The test step, with a `go` that checks what the tests would see.
            try ws.write("../fake-bin/go", """
                #!/bin/sh
                test "$1 $2" = "test ./..." || exit 3
                kubectl get widgets -n demo -o name

                """, mode: 0o755)
            let (run, _) = try await Self.runStep(try Self.step(workflow, job: "test", id: "test"), in: ws, profile: "ci",
                                                  path: ws.path + "/fake-bin")
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("widget.example.k8senv.dev/"), "\(run)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
