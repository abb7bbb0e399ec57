import Foundation
import Testing

/// The composite GitHub Action (action.yml at the repository root), its steps run in order as a
/// runner runs them: `${{ … }}` substituted before the shell starts (inputs with the action's
/// defaults, earlier steps' outputs), each `run:` with `bash --noprofile --norc -eo pipefail`,
/// fresh $GITHUB_OUTPUT/$GITHUB_ENV/$GITHUB_PATH files per step whose lines reach the later steps,
/// GITHUB_ACTION_PATH at this repository, and `if:` conditions evaluated.
///
/// What it cannot run offline, and stands in for: the `uses:` steps (actions/cache/restore and
/// /save) copy the cached folder to and from a folder of the test's own (one entry per key, as
/// GitHub's cache service keeps them); `swift build` is a fake `swift` that copies the k8senv
/// this test run built (a release build takes minutes); and kube-apiserver's download comes from
/// a file:// folder (K8SENV_DOWNLOAD_URL) or, on the full runs, from K8SENV_KUBE_APISERVER.
@Suite("action.yml (the composite action's steps)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct ActionTests {
    /// What one run of the action left: every step's outputs, what it wrote to $GITHUB_ENV and
    /// $GITHUB_PATH, and the step that failed, if one did.
    struct Run {
        var outputs: [String: [String: String]] = [:]
        var environment: [String: String] = [:]
        var path: [String] = []
        var ran: [String] = []
        var failed: (step: String, outcome: Outcome)?
        var log = ""
    }

    /// One machine: its own cache folder (`XDG_CACHE_HOME`), state folder (`XDG_STATE_HOME`: its
    /// own user key, as a fresh runner has) and temp folder; the cache service is shared by all
    /// runners of a test.
    struct Runner {
        var folder: String
        var cacheService: String
        var cache: String { folder + "/cache" }
        var state: String { folder + "/state" }
    }

    static func action(in ws: Workspace) async throws -> [String: Any] {
        let outcome = try await ws.k8senv("json", Repository.root + "/action.yml")
        #expect(outcome.status == 0, "\(outcome)")
        return try #require(parseJSONObject(outcome.stdout))
    }

    /// `${{ expr }}` as GitHub substitutes it in a composite action, for the expressions action.yml uses.
    static func substitute(
        _ text: String, inputs: [String: String], outputs: [String: [String: String]],
        github: [String: String] = [:]
    ) -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${{") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                Issue.record("unclosed ${{ in \(text)")
                return text
            }
            let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            result += value(of: expression, inputs: inputs, outputs: outputs, github: github)
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    static func value(
        of expression: String, inputs: [String: String], outputs: [String: [String: String]],
        github: [String: String] = [:]
    ) -> String {
        let parts = expression.split(separator: ".").map(String.init)
        // The github context: what the runner knows of the workflow (action_ref: the ref in
        // `uses: k8senv/k8senv@REF`; empty when the action is a local path).
        if parts.count == 2, parts[0] == "github" { return github[parts[1]] ?? "" }
        if parts.count == 2, parts[0] == "inputs" {
            guard let value = inputs[parts[1]] else {
                Issue.record("no input \(parts[1])")
                return ""
            }
            return value
        }
        if parts.count == 4, parts[0] == "steps", parts[2] == "outputs" { return outputs[parts[1]]?[parts[3]] ?? "" }
        Issue.record("an expression this test does not know: \(expression)")
        return ""
    }

    /// `steps.ID.outputs.NAME == 'VALUE'` or `inputs.NAME == 'VALUE'` (after `failure() && `), the forms of `if:` action.yml uses.
    static func condition(_ text: String, inputs: [String: String], outputs: [String: [String: String]]) -> Bool {
        // `failure() && …`: the steps here all succeed (a failing step fails the test).
        if text.hasPrefix("failure() && ") { return false }
        let parts = text.components(separatedBy: " == ")
        guard parts.count == 2, parts[1].hasPrefix("'"), parts[1].hasSuffix("'") else {
            Issue.record("an if: this test does not know: \(text)")
            return false
        }
        return value(of: parts[0], inputs: inputs, outputs: outputs) == String(parts[1].dropFirst().dropLast())
    }

    /// Lines `NAME=value` of a GitHub command file.
    static func pairs(_ file: String) -> [(String, String)] {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let equals = line.firstIndex(of: "=") else {
                Issue.record("not NAME=value: \(line)")
                return nil
            }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    /// The test process's PATH without the folders that hold k8senv or kube-apiserver: a runner
    /// has neither until the action provides them.
    static var runnerPATH: String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").filter { dir in
            !FileManager.default.fileExists(atPath: dir + "/k8senv")
                && !FileManager.default.fileExists(atPath: dir + "/kube-apiserver")
        }.joined(separator: ":")
    }

    /// A `swift` that "builds" k8senv by copying the built one, after checking the arguments the
    /// build step passes, and counts its builds in FAKE_SWIFT_LOG.
    static func fakeSwift(in ws: Workspace) throws -> String {
        let folder = ws.path + "/fake-bin"
        try ws.write(
            "../fake-bin/swift",
            """
            #!/bin/sh
            out="$FAKE_SWIFT_OUT"
            case "$*" in
              --version) echo "Swift version 6.3 (the fake of ActionTests)" ;;
              "build -c release --package-path $GITHUB_ACTION_PATH --show-bin-path") echo "$out" ;;
              "build -c release --package-path $GITHUB_ACTION_PATH --product k8senv")
                mkdir -p "$out" && cp "$K8SENV_BUILT" "$out/k8senv" && echo build >> "$FAKE_SWIFT_LOG" ;;
              *) echo "fake swift: unexpected arguments: $*" >&2; exit 3 ;;
            esac

            """, mode: 0o755)
        return folder
    }

    /// Runs the action's steps in order on `runner`, as GitHub would with `inputs`.
    static func run(
        _ action: [String: Any], on runner: Runner, inputs given: [String: String], in ws: Workspace,
        environment extra: [String: String?] = [:], actionRef: String = ""
    ) async throws -> Run {
        let github = ["action_ref": actionRef]
        var inputs: [String: String] = [:]
        for (name, spec) in (action["inputs"] as? [String: Any]) ?? [:] {
            inputs[name] = ((spec as? [String: Any])?["default"] as? String) ?? ""
        }
        for (name, value) in given {
            #expect(inputs[name] != nil, "action.yml has no input \(name)")
            inputs[name] = value
        }
        let runs = try #require(action["runs"] as? [String: Any])
        #expect(runs["using"] as? String == "composite")
        let steps = try #require(runs["steps"] as? [[String: Any]])
        try FileManager.default.createDirectory(atPath: runner.folder + "/temp", withIntermediateDirectories: true)
        let fakeBin = try fakeSwift(in: ws)
        var result = Run()
        for (index, step) in steps.enumerated() {
            let id = step["id"] as? String ?? "step-\(index)"
            if let condition = step["if"] as? String,
                !Self.condition(condition, inputs: inputs, outputs: result.outputs)
            {
                continue
            }
            result.ran.append(id)
            let with = ((step["with"] as? [String: Any]) ?? [:]).mapValues {
                Self.substitute($0 as? String ?? "", inputs: inputs, outputs: result.outputs)
            }
            if let uses = step["uses"] as? String {
                let path = try #require(with["path"])
                let key = try #require(with["key"])
                #expect(!path.isEmpty && !key.isEmpty, "\(id): path \(path), key \(key)")
                let entry = runner.cacheService + "/" + key
                switch uses {
                case "actions/cache/restore@v4":
                    let hit = FileManager.default.fileExists(atPath: entry)
                    if hit {
                        try? FileManager.default.removeItem(atPath: path)
                        try FileManager.default.createDirectory(
                            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        try await ws.copy(entry, to: path)
                    }
                    result.outputs[id] = ["cache-hit": hit ? "true" : "false"]
                case "actions/cache/save@v4":
                    try FileManager.default.createDirectory(
                        atPath: runner.cacheService, withIntermediateDirectories: true)
                    if !FileManager.default.fileExists(atPath: entry) { try await ws.copy(path, to: entry) }
                default:
                    Issue.record("\(id): uses \(uses), which this test cannot stand in for")
                }
                continue
            }
            let script = try #require(step["run"] as? String, "\(id): neither run nor uses")
            #expect(step["shell"] as? String == "bash", "\(id): a composite run step needs shell: bash")
            #expect(!script.contains("${{"), "\(id): expressions belong in env:, not in the script: \(script)")
            let files = ["GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"].map { name in
                (name, runner.folder + "/temp/\(name.lowercased())-\(id)")
            }
            for (_, file) in files { _ = FileManager.default.createFile(atPath: file, contents: nil) }
            var environment: [String: String?] = extra
            for (name, value) in result.environment { environment[name] = value }
            for (name, value) in (step["env"] as? [String: Any]) ?? [:] {
                environment[name] = Self.substitute(
                    value as? String ?? "", inputs: inputs, outputs: result.outputs, github: github)
            }
            for (name, file) in files { environment[name] = file }
            environment["GITHUB_ACTION_PATH"] = Repository.root
            environment["RUNNER_TEMP"] = runner.folder + "/temp"
            environment["XDG_CACHE_HOME"] = runner.cache
            environment["XDG_STATE_HOME"] = runner.state
            environment["FAKE_SWIFT_OUT"] = runner.folder + "/swift-build"
            environment["FAKE_SWIFT_LOG"] = ws.path + "/swift-builds"
            environment["K8SENV_BUILT"] = Repository.binary
            environment["PATH"] = (result.path.reversed() + [fakeBin, Self.runnerPATH]).joined(separator: ":")
            let scriptFile = runner.folder + "/temp/\(id).sh"
            try script.write(toFile: scriptFile, atomically: true, encoding: .utf8)
            // GitHub runs the steps in $GITHUB_WORKSPACE: here the copy's root (examples/ is below it).
            let child = try Subprocess(
                "/bin/bash", ["--noprofile", "--norc", "-eo", "pipefail", scriptFile], in: ws.path,
                environment: ws.environment(environment), outputPrefix: runner.folder + "/temp/\(id).out")
            let exit = try await child.wait()
            let outcome = Outcome(exit: exit, stdout: child.stdout, stderr: child.stderr)
            result.log += "--- \(id): \(outcome)\n"
            result.outputs[id] = Dictionary(Self.pairs(files[0].1), uniquingKeysWith: { $1 })
            for (name, value) in Self.pairs(files[1].1) { result.environment[name] = value }
            result.path += ((try? String(contentsOfFile: files[2].1, encoding: .utf8)) ?? "").split(separator: "\n")
                .map(String.init)
            if outcome.status != 0 {
                result.failed = (id, outcome)
                return result
            }
        }
        return result
    }

    /// A later step of the user's job: runs with what the action wrote to $GITHUB_ENV and $GITHUB_PATH.
    static func later(_ command: String, after run: Run, on runner: Runner, in ws: Workspace) async throws -> Outcome {
        var environment: [String: String?] = run.environment.mapValues { $0 }
        environment["XDG_CACHE_HOME"] = runner.cache
        environment["XDG_STATE_HOME"] = runner.state
        environment["PATH"] = (run.path.reversed() + [Self.runnerPATH]).joined(separator: ":")
        let child = try Subprocess(
            "/bin/bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", command], in: ws.directory,
            environment: ws.environment(environment), outputPrefix: runner.folder + "/later")
        let exit = try await child.wait()
        return Outcome(exit: exit, stdout: child.stdout, stderr: child.stderr)
    }

    static func builds(_ ws: Workspace) -> Int {
        ((try? String(contentsOfFile: ws.path + "/swift-builds", encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// A release folder as scripts/release.sh leaves one (the tarball and its .sha256), holding
    /// the k8senv this test run built (a release build takes minutes); its file:// URL.
    static func releaseFolder(_ version: String, in ws: Workspace) async throws -> String {
        let name = "k8senv-\(version)-linux-x86_64"
        let made = try await ws.shell(
            """
            set -e
            mkdir -p '\(ws.path)/release/\(name)'
            cp '\(Repository.binary)' '\(ws.path)/release/\(name)/k8senv'
            ln -s k8senv '\(ws.path)/release/\(name)/k8senv-kine'
            cd '\(ws.path)/release'
            tar -czf \(name).tar.gz \(name)
            sha256sum \(name).tar.gz > \(name).tar.gz.sha256
            """)
        #expect(made.status == 0, "\(made)")
        return "file://" + ws.path + "/release"
    }

    @Test(
        "version: the action at a release tag downloads that release (its sha256 checked) instead of building; a second runner restores it from the cache; version: source builds; a wrong sha256 fails the step and puts nothing on PATH"
    )
    func releaseDownload() async throws {
        try await Workspace.with(example: true, name: "action-release", apiServers: false) { ws in
            let action = try await Self.action(in: ws)
            let url = try await Self.releaseFolder("1.2.3", in: ws)
            let service = ws.path + "/cache-service"
            let inputs = ["install": "false", "working-directory": "examples"]
            let release: [String: String?] = ["K8SENV_RELEASE_URL": url]

            let first = Runner(folder: ws.path + "/runner-1", cacheService: service)
            let one = try await Self.run(
                action, on: first, inputs: inputs, in: ws, environment: release, actionRef: "v1.2.3")
            #expect(one.failed == nil, "\(one.log)")
            #expect(Self.builds(ws) == 0, "no Swift build: \(one.log)")
            #expect(one.log.contains("downloading k8senv 1.2.3"), "\(one.log)")
            let bin = first.cache + "/k8senv/action/release-1.2.3/bin"
            #expect(
                one.path == [bin] && one.outputs["build"]?["k8senv"] == bin + "/k8senv", "\(one.path) \(one.outputs)")
            #expect(one.outputs["build-key"]?["key"] == "k8senv-release-1.2.3-Linux-x86_64", "\(one.outputs)")
            #expect(one.outputs["build"]?["built"] == "true" && one.ran.contains("build-save"), "\(one.ran)")
            let later = try await Self.later("command -v k8senv && k8senv --version", after: one, on: first, in: ws)
            #expect(later.status == 0 && later.stdout.hasPrefix(bin + "/k8senv\nk8senv "), "\(later)")

            // The second runner's cache has it: no download (the release folder is gone).
            try FileManager.default.removeItem(atPath: ws.path + "/release")
            let second = Runner(folder: ws.path + "/runner-2", cacheService: service)
            let two = try await Self.run(
                action, on: second, inputs: inputs, in: ws, environment: release, actionRef: "v1.2.3")
            #expect(two.failed == nil, "\(two.log)")
            #expect(two.outputs["build"]?["built"] == "false" && !two.log.contains("downloading"), "\(two.log)")

            // version: source, at the same tag: today's build from source.
            let third = Runner(folder: ws.path + "/runner-3", cacheService: service)
            let three = try await Self.run(
                action, on: third, inputs: inputs.merging(["version": "source"]) { $1 }, in: ws,
                environment: release, actionRef: "v1.2.3")
            #expect(three.failed == nil, "\(three.log)")
            #expect(Self.builds(ws) == 1 && three.path == [third.cache + "/k8senv/action/bin"], "\(three.log)")

            // A tarball that is not what its .sha256 says: the step fails, saying so.
            _ = try await Self.releaseFolder("1.2.4", in: ws)
            let tampered = try await ws.shell(
                "cd '\(ws.path)/release' && echo 0000000000000000000000000000000000000000000000000000000000000000  k8senv-1.2.4-linux-x86_64.tar.gz > k8senv-1.2.4-linux-x86_64.tar.gz.sha256"
            )
            #expect(tampered.status == 0, "\(tampered)")
            let fourth = Runner(folder: ws.path + "/runner-4", cacheService: service)
            let four = try await Self.run(
                action, on: fourth, inputs: inputs.merging(["version": "1.2.4"]) { $1 }, in: ws, environment: release)
            #expect(four.failed?.step == "build", "\(four.log)")
            #expect(
                four.failed?.outcome.stderr.contains(
                    "install.sh: checksum mismatch for k8senv-1.2.4-linux-x86_64.tar.gz") == true, "\(four.log)")
            #expect(
                four.failed?.outcome.stderr.contains("could not install the k8senv 1.2.4 release") == true,
                "\(four.log)")
            #expect(
                four.path.isEmpty
                    && !FileManager.default.fileExists(atPath: fourth.cache + "/k8senv/action/release-1.2.4/bin/k8senv")
            )
        }
    }

    @Test(
        "two runners against the example sharing a bundle-key: the first builds k8senv and the snapshots and saves both; the second restores both, imports the bundles, and a later `k8senv run` is a cache hit; a runner with another key rebuilds the snapshots instead of importing them, and one without a key neither restores nor saves them"
    )
    func twoRunners() async throws {
        let binaries = try RealBinaries.require()
        try await Workspace.with(example: true, name: "action") { ws in
            let action = try await Self.action(in: ws)
            let service = ws.path + "/cache-service"
            let inputs = [
                "config": "k8senv.yaml", "profile": "ci", "working-directory": "examples",
                "storage": RealBinaries.storage,
                "bundle-key": "the CI secret of ActionTests, shared by its runners",
            ]
            // No network here: the binaries come from K8SENV_* (install-binaries.sh's first choice).
            let given: [String: String?] = [
                "K8SENV_KUBE_APISERVER": binaries.kubeAPIServer, "K8SENV_ETCD": binaries.etcd,
                "K8SENV_STORAGE": nil,
            ]

            let first = Runner(folder: ws.path + "/runner-1", cacheService: service)
            let one = try await Self.run(action, on: first, inputs: inputs, in: ws, environment: given)
            #expect(one.failed == nil, "\(one.log)")
            #expect(one.path == [first.cache + "/k8senv/action/bin"], "\(one.path)")
            #expect(FileManager.default.isExecutableFile(atPath: first.cache + "/k8senv/action/bin/k8senv"))
            #expect(one.outputs["build"]?["built"] == "true" && Self.builds(ws) == 1, "\(one.log)")
            for name in ["K8SENV_KUBE_APISERVER", "K8SENV_ETCD"] {
                let value = one.environment[name] ?? ""
                #expect(!value.isEmpty && FileManager.default.isExecutableFile(atPath: value), "\(name)=\(value)")
            }
            #expect(one.environment["K8SENV_STORAGE"] == RealBinaries.storage, "\(one.environment)")
            #expect(one.environment["K8SENV_KUBE_VERSION"]?.hasPrefix("v1.") == true, "\(one.environment)")
            let key = try #require(one.outputs["key"]?["key"])
            #expect(key.hasPrefix("k8senv-snapshots-") && key.contains("-ci-"), "\(key)")
            #expect(
                one.outputs["snapshots"]?["cache-hit"] == "false" && one.outputs["snapshots"]?["save"] == "true",
                "\(one.log)")
            let saved = (try? FileManager.default.contentsOfDirectory(atPath: service + "/" + key))?.sorted() ?? []
            #expect(saved == ["base.k8senv-bundle", "payments.k8senv-bundle"], "\(saved)")
            #expect(one.ran.contains("build-save") && one.ran.contains("save"), "\(one.ran)")
            #expect(!one.ran.contains("binaries-save"), "nothing downloaded, nothing to save: \(one.ran)")

            let second = Runner(folder: ws.path + "/runner-2", cacheService: service)
            let two = try await Self.run(action, on: second, inputs: inputs, in: ws, environment: given)
            #expect(two.failed == nil, "\(two.log)")
            #expect(
                two.outputs["build"]?["built"] == "false" && Self.builds(ws) == 1, "k8senv is built once: \(two.log)")
            #expect(two.outputs["key"]?["key"] == key)
            #expect(
                two.outputs["snapshots"]?["cache-hit"] == "true" && two.outputs["snapshots"]?["save"] == "false",
                "\(two.log)")
            #expect(!two.ran.contains { $0.hasSuffix("save") }, "nothing to save: \(two.ran)")
            #expect(two.log.contains("imported from"), "\(two.log)")

            let test = try await Self.later(
                "k8senv run --profile ci -- kubectl get widgets -n demo -o name", after: two, on: second, in: ws)
            #expect(test.status == 0, "\(test)")
            #expect((test.stdout + test.stderr).contains("(cache hit)"), "\(test)")
            #expect(test.stdout.contains("widget.example.k8senv.dev/"), "\(test)")

            // Another key: its own cache entry, which is empty; the snapshots are built, not imported.
            var otherKey = inputs
            otherKey["bundle-key"] = "another CI secret, not the first runners'"
            let third = Runner(folder: ws.path + "/runner-3", cacheService: service)
            let three = try await Self.run(action, on: third, inputs: otherKey, in: ws, environment: given)
            #expect(three.failed == nil, "\(three.log)")
            #expect(three.outputs["key"]?["key"] != key, "\(three.outputs)")
            #expect(
                three.outputs["snapshots"]?["cache-hit"] == "false" && three.outputs["snapshots"]?["save"] == "true",
                "\(three.log)")
            #expect(!three.log.contains("imported from"), "\(three.log)")

            // Runner 1's bundles under runner 3's key (as if the key had changed): refused, then built.
            let entry = service + "/" + (three.outputs["key"]?["key"] ?? "")
            try? FileManager.default.removeItem(atPath: entry)
            try await ws.copy(service + "/" + key, to: entry)
            let fourth = Runner(folder: ws.path + "/runner-4", cacheService: service)
            let four = try await Self.run(action, on: fourth, inputs: otherKey, in: ws, environment: given)
            #expect(four.failed == nil, "\(four.log)")
            #expect(
                four.outputs["restore"]?["cache-hit"] == "true" && four.outputs["snapshots"]?["cache-hit"] == "false",
                "\(four.log)")
            #expect(
                four.log.contains("signed with another key") && four.log.contains("the restored bundles were refused"),
                "\(four.log)")

            // No key: nothing restored or saved; the snapshots are left to the tests (build-snapshots: false).
            var noKey = inputs
            noKey["bundle-key"] = ""
            noKey["build-snapshots"] = "false"
            let fifth = Runner(folder: ws.path + "/runner-5", cacheService: service)
            let five = try await Self.run(action, on: fifth, inputs: noKey, in: ws, environment: given)
            #expect(five.failed == nil, "\(five.log)")
            #expect(!five.ran.contains("restore") && !five.ran.contains("save"), "\(five.ran)")
            #expect(
                five.log.contains("no bundle-key: the snapshots are built on this runner and not cached"), "\(five.log)"
            )
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "ci.md's workflow with the action: its inputs are the action's, the plan job's action (install: 'false') puts k8senv on PATH for the profiles step, and the test job's kube-version is the matrix entry's kubeVersion"
    )
    func documentedWorkflow() async throws {
        try await Workspace.with(example: true, name: "action-doc", apiServers: false) { ws in
            let action = try await Self.action(in: ws)
            let declared = Set(((action["inputs"] as? [String: Any]) ?? [:]).keys)
            let workflow = try await CIWorkflowTests.workflow(in: ws, marker: "action-workflow")
            let jobs = try #require(workflow["jobs"] as? [String: Any])
            var uses: [String: [String: String]] = [:]
            for (name, job) in jobs {
                for step in ((job as? [String: Any])?["steps"] as? [[String: Any]]) ?? [] {
                    guard let target = step["uses"] as? String, target.hasPrefix("k8senv/k8senv@") else { continue }
                    let with = ((step["with"] as? [String: Any]) ?? [:]).compactMapValues { $0 as? String }
                    #expect(
                        Set(with.keys).isSubset(of: declared),
                        "\(name): inputs action.yml does not declare: \(Set(with.keys).subtracting(declared))")
                    uses[name] = with
                }
            }
            #expect(uses["plan"] == ["install": "false"], "\(uses)")
            #expect(
                uses["test"]?["profile"] == "${{ matrix.profile }}"
                    && uses["test"]?["kube-version"] == "${{ matrix.kubeVersion }}", "\(uses)")
            // The test job is never skipped: profiles never prints an empty matrix (a config without
            // profiles is the entry with profile "", which the action's empty `profile` input runs as is).
            #expect((jobs["test"] as? [String: Any])?["if"] == nil, "\(jobs["test"] ?? "")")

            // The plan job: the action with install: 'false' (k8senv only), then the profiles step.
            let runner = Runner(folder: ws.path + "/runner-plan", cacheService: ws.path + "/cache-service")
            let plan = try await Self.run(
                action, on: runner, inputs: ["install": "false", "working-directory": "examples"], in: ws,
                environment: ["K8SENV_KUBE_APISERVER": "/nowhere"])
            #expect(plan.failed == nil, "\(plan.log)")
            #expect(plan.ran == ["build-key", "build-restore", "build", "build-save"], "\(plan.ran)")
            #expect(plan.environment.isEmpty, "\(plan.environment)")
            let profiles = try CIWorkflowTests.step(workflow, job: "plan", id: "profiles")
            let script = try #require(profiles["run"] as? String)
            let output = try ws.write("../plan-output", "")
            let listed = try await Self.later("GITHUB_OUTPUT='\(output)' && " + script, after: plan, on: runner, in: ws)
            #expect(listed.status == 0, "\(listed)")
            let line = try String(contentsOfFile: output, encoding: .utf8)
            #expect(line.hasPrefix(#"matrix={"include":[{"binaries":"#), "\(line)")
        }
    }

    @Test(
        "install: kube-apiserver downloaded from the release folder with its sha256 checked; a wrong sha256, or K8SENV_KUBE_APISERVER pointing nowhere with no download, fails the step with a clear message and exports nothing"
    )
    func install() async throws {
        let binaries = try RealBinaries.require()
        try await Workspace.with(example: true, name: "action-install", apiServers: false) { ws in
            let action = try await Self.action(in: ws)
            let version = try #require(
                try await ws.shell("'\(binaries.kubeAPIServer)' --version").stdout
                    .split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            let arch = (try await ws.shell("uname -m")).stdout.hasPrefix("aarch64") ? "arm64" : "amd64"
            let releases = ws.path + "/releases"
            let folder = releases + "/\(version)/bin/linux/\(arch)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try await ws.copy(binaries.kubeAPIServer, to: folder + "/kube-apiserver")
            let sum = try await ws.shell("sha256sum '\(folder)/kube-apiserver' | cut -c1-64").stdout.trimmingCharacters(
                in: .whitespacesAndNewlines)
            let inputs = [
                "working-directory": "examples", "profile": "ci", "kube-version": version, "build-snapshots": "false",
            ]
            let download: [String: String?] = [
                "K8SENV_KUBE_APISERVER": nil, "K8SENV_ETCD": binaries.etcd,
                "K8SENV_DOWNLOAD_URL": "file://" + releases,
            ]

            // A wrong checksum: refused, nothing exported, the steps after it not run.
            try (String(repeating: "0", count: 64) + "  kube-apiserver\n").write(
                toFile: folder + "/kube-apiserver.sha256", atomically: true, encoding: .utf8)
            let runner = Runner(folder: ws.path + "/runner-sum", cacheService: ws.path + "/cache-service")
            let mismatch = try await Self.run(action, on: runner, inputs: inputs, in: ws, environment: download)
            #expect(mismatch.failed?.step == "install", "\(mismatch.log)")
            #expect(mismatch.failed?.outcome.stderr.contains("sha256 mismatch") == true, "\(mismatch.log)")
            #expect(mismatch.environment["K8SENV_KUBE_APISERVER"] == nil, "\(mismatch.environment)")
            #expect(!mismatch.ran.contains("key"), "\(mismatch.ran)")

            // The right checksum: downloaded into the runner's cache and exported.
            try (sum + "  kube-apiserver\n").write(
                toFile: folder + "/kube-apiserver.sha256", atomically: true, encoding: .utf8)
            let good = Runner(folder: ws.path + "/runner-download", cacheService: ws.path + "/cache-service")
            let downloaded = try await Self.run(action, on: good, inputs: inputs, in: ws, environment: download)
            #expect(downloaded.failed == nil, "\(downloaded.log)")
            let apiServer = downloaded.environment["K8SENV_KUBE_APISERVER"] ?? ""
            #expect(apiServer.hasPrefix(good.cache + "/k8senv/bin/kube-apiserver-\(version)"), "\(apiServer)")
            #expect(FileManager.default.isExecutableFile(atPath: apiServer), "\(apiServer)")
            #expect(downloaded.environment["K8SENV_KUBE_VERSION"] == version, "\(downloaded.environment)")
            #expect(
                downloaded.outputs["snapshots"]?["cache-hit"] == "false"
                    && downloaded.outputs["snapshots"]?["save"] == "false", "\(downloaded.log)")
            #expect(
                downloaded.outputs["install"]?["downloaded"] == "true" && downloaded.ran.contains("binaries-save"),
                "\(downloaded.log)")

            // The next runner restores the download from the cache: no release folder needed.
            let next = Runner(folder: ws.path + "/runner-restored", cacheService: ws.path + "/cache-service")
            let restored = try await Self.run(
                action, on: next, inputs: inputs, in: ws,
                environment: [
                    "K8SENV_KUBE_APISERVER": nil, "K8SENV_ETCD": binaries.etcd,
                    "K8SENV_DOWNLOAD_URL": "file://" + ws.path + "/no-releases",
                ])
            #expect(restored.failed == nil, "\(restored.log)")
            #expect(restored.outputs["binaries-restore"]?["cache-hit"] == "true", "\(restored.log)")
            #expect(
                restored.outputs["install"]?["downloaded"] == "false" && !restored.ran.contains("binaries-save"),
                "\(restored.log)")
            #expect(
                restored.environment["K8SENV_KUBE_APISERVER"]?.hasPrefix(next.cache + "/k8senv/bin/") == true,
                "\(restored.environment)")

            // Pointing nowhere, no release to download, nothing cached: the install step fails and says why.
            let nowhere = Runner(folder: ws.path + "/runner-nowhere", cacheService: ws.path + "/empty-cache-service")
            let missing = try await Self.run(
                action, on: nowhere, inputs: inputs, in: ws,
                environment: [
                    "K8SENV_KUBE_APISERVER": "/nowhere/kube-apiserver", "K8SENV_ETCD": binaries.etcd,
                    "K8SENV_DOWNLOAD_URL": "file://" + ws.path + "/no-releases",
                ])
            let failure = try #require(missing.failed, "\(missing.log)")
            #expect(failure.step == "install" && failure.outcome.status == 1, "\(missing.log)")
            #expect(
                failure.outcome.stderr.contains(
                    "no kube-apiserver \(version): K8SENV_KUBE_APISERVER is not an executable (/nowhere/kube-apiserver)"
                ), "\(failure.outcome)")
            #expect(
                failure.outcome.stderr.contains(
                    "k8senv action: error: scripts/install-binaries.sh could not provide kube-apiserver"),
                "\(failure.outcome)")
            #expect(missing.environment.isEmpty, "nothing exported: \(missing.environment)")
            #expect(!FileManager.default.fileExists(atPath: nowhere.cache + "/k8senv/bin/kube-apiserver-\(version)-r2"))
        }
    }
}
