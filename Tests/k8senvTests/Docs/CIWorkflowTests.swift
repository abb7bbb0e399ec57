import Foundation
import Testing

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
    static func runStep(
        _ step: [String: Any], in ws: Workspace, profile: String? = nil,
        path extraPath: String? = nil
    ) async throws -> (Outcome, [String: String]) {
        let script = try #require(step["run"] as? String)
        #expect(!script.contains("${{"), "a run: script with a GitHub expression cannot be tested: \(script)")
        let output = ws.path + "/github-output-\(UUID().uuidString.prefix(6))"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let scriptFile = try ws.write("../step-\(UUID().uuidString.prefix(6)).sh", script)
        let bin = (Repository.binary as NSString).deletingLastPathComponent
        let path = [extraPath, bin, ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].compactMap { $0 }
            .joined(separator: ":")
        let child = try ws.launch(
            "/bin/bash", ["--noprofile", "--norc", "-eo", "pipefail", scriptFile],
            environment: ["PATH": path, "PROFILE": profile, "GITHUB_OUTPUT": output])
        let outcome = try await ws.finish(child)
        var values: [String: String] = [:]
        for line in ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n") {
            if let equals = line.firstIndex(of: "=") {
                values[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
        }
        return (outcome, values)
    }

    @Test("plan: the profiles step writes the matrix; the test job consumes it with fromJSON")
    func planStep() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let workflow = try await Self.workflow(in: ws)
            let (outcome, outputs) = try await Self.runStep(
                try Self.step(workflow, job: "plan", id: "profiles"), in: ws)
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
            #expect(
                (test["strategy"] as? [String: Any])?["matrix"] as? String
                    == "${{ fromJSON(needs.plan.outputs.matrix) }}")
            #expect(
                test["if"] == nil,
                "the test job is never skipped: an empty matrix would fail it (GitHub refuses one), and profiles never prints one"
            )
            #expect((test["env"] as? [String: Any])?["PROFILE"] as? String == "${{ matrix.profile }}")
        }
    }

    @Test("plan: an invalid k8senv.yaml fails the profiles step")
    func planStepFails() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let workflow = try await Self.workflow(in: ws)
            try ws.write("k8senv.yaml", CLITests.invalid)
            let (outcome, outputs) = try await Self.runStep(
                try Self.step(workflow, job: "plan", id: "profiles"), in: ws)
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("k8senv.yaml:3:10: error:"), "\(outcome)")
            #expect(outputs["matrix"] == nil, "\(outputs)")
        }
    }

    @Test(
        "a config without profiles (the tutorial's) is one job, not none: its matrix entry has profile \"\", and the key and test steps run it"
    )
    func configWithoutProfiles() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig()) { ws in
            let workflow = try await Self.workflow(in: ws)
            let (plan, outputs) = try await Self.runStep(try Self.step(workflow, job: "plan", id: "profiles"), in: ws)
            #expect(plan.status == 0, "\(plan)")
            let include = try #require(
                parseJSONObject(outputs["matrix"] ?? "")?["include"] as? [[String: Any]], "\(outputs)")
            #expect(include.count == 1 && include[0]["profile"] as? String == "", "\(outputs)")
            let jobs = try #require(workflow["jobs"] as? [String: Any])
            #expect((jobs["test"] as? [String: Any])?["if"] == nil, "the test job must not be skipped")

            let (key, keys) = try await Self.runStep(
                try Self.step(workflow, job: "test", id: "key"), in: ws, profile: "")
            #expect(key.status == 0, "\(key)")
            #expect(keys["key"]?.hasPrefix("k8senv--") == true, "\(keys)")
            try ws.write(
                "fake-bin/go",
                """
                #!/bin/sh
                test "$1 $2" = "test ./..." || exit 3
                kubectl get namespace default -o name

                """, mode: 0o755)
            let (run, _) = try await Self.runStep(
                try Self.step(workflow, job: "test", id: "test"), in: ws, profile: "",
                path: ws.path + "/fake-bin")
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("namespace/default"), "\(run)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "test: the key step gives one stable key per profile from k8senv hash, which changes with a CRD; the test step runs the command with KUBECONFIG set"
    )
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
            try ws.write(
                "../fake-bin/go",
                """
                #!/bin/sh
                test "$1 $2" = "test ./..." || exit 3
                kubectl get widgets -n demo -o name

                """, mode: 0o755)
            let (run, _) = try await Self.runStep(
                try Self.step(workflow, job: "test", id: "test"), in: ws, profile: "ci",
                path: ws.path + "/fake-bin")
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("widget.example.k8senv.dev/"), "\(run)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
