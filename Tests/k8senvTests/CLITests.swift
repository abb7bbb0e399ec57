import Foundation
import K8sEnvTestSupport
import Testing

/// validate, schema and hash: the commands that read a config and need no running server.
@Suite("validate, schema and hash (the built binary)", .tags(.cli), .timeLimit(.minutes(1)))
struct CLITests {
    static let invalid = """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        storage: etc
        environments:
          base: {}

        """

    @Test("validate: exit 0 on the example, with a one-line summary")
    func validExample() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let outcome = try await ws.k8senv("validate", "-f", "k8senv.yaml")
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.stdout.contains("k8senv.yaml: valid (2 environments"), "\(outcome)")
        }
    }

    @Test("validate: exit 1 on an invalid file, each problem as file:line:col: error: on stdout")
    func invalidFile() async throws {
        try await Workspace.with(config: Self.invalid, apiServers: false) { ws in
            let outcome = try await ws.k8senv("validate", "-f", "k8senv.yaml")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stdout.contains("k8senv.yaml:3:10: error: "), "\(outcome)")
            #expect(outcome.stdout.contains("did you mean \"etcd\""), "\(outcome)")
        }
    }

    @Test("validate: exit 2 on a usage error (an unknown flag), the message on stderr")
    func usageError() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let outcome = try await ws.k8senv("validate", "-f", "k8senv.yaml", "--no-such-flag")
            #expect(outcome.status == 2, "\(outcome)")
            #expect(outcome.stderr.contains("--no-such-flag"), "\(outcome)")
            #expect(outcome.stdout.isEmpty, "\(outcome)")
        }
    }

    @Test("validate --format json: one JSON object with the errors and their positions")
    func validateJSON() async throws {
        try await Workspace.with(config: Self.invalid, apiServers: false) { ws in
            let outcome = try await ws.k8senv("validate", "-f", "k8senv.yaml", "--format", "json")
            #expect(outcome.status == 1, "\(outcome)")
            let object = try #require(parseJSONObject(outcome.stdout))
            #expect(object["valid"] as? Bool == false)
            #expect(object["file"] as? String == "k8senv.yaml")
            let errors = try #require(object["errors"] as? [[String: Any]])
            let storage = try #require(
                errors.first { ($0["message"] as? String)?.hasPrefix("storage:") == true }, "\(errors)")
            #expect(storage["line"] as? Int == 3)
            #expect(storage["column"] as? Int == 10)
            #expect(storage["code"] as? String == "schema")

            let valid = try await ws.k8senv("validate", "-f", Repository.examples + "/k8senv.yaml", "--format", "json")
            #expect(valid.status == 0, "\(valid)")
            let validObject = try #require(parseJSONObject(valid.stdout))
            #expect(validObject["valid"] as? Bool == true)
            #expect((validObject["errors"] as? [Any])?.isEmpty ?? true)
        }
    }

    @Test("schema prints schemas/k8senv.schema.json byte for byte")
    func schema() async throws {
        try await Workspace.with(apiServers: false) { ws in
            let outcome = try await ws.k8senv("schema")
            #expect(outcome.status == 0, "\(outcome)")
            let file = String(decoding: try Repository.read(Repository.schema), as: UTF8.self)
            #expect(
                outcome.stdout == file || outcome.stdout == file + "\n",
                "k8senv schema differs from schemas/k8senv.schema.json (\(outcome.stdout.utf8.count) vs \(file.utf8.count) bytes)"
            )
            #expect(parseJSONObject(outcome.stdout)?["$schema"] != nil)
        }
    }

    @Test(
        "version and --version: a build from source says dev; version finds the kube-apiserver and its version; --format json"
    )
    func version() async throws {
        let apiServer = try RealBinaries.require().kubeAPIServer
        try await Workspace.with(apiServers: false) { ws in
            // What the binary itself says, e.g. "Kubernetes v1.20.2".
            let reported = try await ws.shell("'\(apiServer)' --version").stdout
            let kubeVersion = try #require(
                reported.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) },
                "\(reported)")
            let flag = try await ws.k8senv("--version")
            #expect(flag.status == 0, "\(flag)")
            #expect(flag.stdout.hasPrefix("k8senv dev\ncommit: unknown (built from source)\n"), "\(flag)")

            let text = try await ws.k8senv("version", environment: ["K8SENV_KUBE_APISERVER": apiServer])
            #expect(text.status == 0, "\(text)")
            #expect(text.stdout.hasPrefix(flag.stdout), "\(text)")
            #expect(
                text.stdout.contains("kube-apiserver: \(kubeVersion) (\(apiServer), from K8SENV_KUBE_APISERVER)"),
                "\(text)")

            let json = try await ws.k8senv(
                "version", "--format", "json", environment: ["K8SENV_KUBE_APISERVER": apiServer])
            #expect(json.status == 0, "\(json)")
            let object = try #require(parseJSONObject(json.stdout), "\(json)")
            #expect(object["version"] as? String == "dev" && object["commit"] == nil, "\(object)")
            let server = try #require(object["kubeAPIServer"] as? [String: Any], "\(object)")
            #expect(server["path"] as? String == apiServer && server["version"] as? String == kubeVersion, "\(server)")

            // None found: said so, and still exit 0 (the build's own lines are what --version is for).
            let missing = try await ws.k8senv(
                "version", environment: ["K8SENV_KUBE_APISERVER": nil, "PATH": "/nowhere"])
            #expect(missing.status == 0, "\(missing)")
            #expect(
                missing.stdout.contains(
                    "kube-apiserver: none (binaries.kubeAPIServer: \"kube-apiserver\" is not on PATH"), "\(missing)")
            #expect(
                missing.stdout.contains("set K8SENV_KUBE_APISERVER to its path")
                    && missing.stdout.contains(Self.docs + "how-to/install.md"), "\(missing)")
            #expect(
                !missing.stdout.contains("scripts/install-binaries.sh") && !missing.stdout.contains("K8SENV_*"),
                "\(missing)")
            // Named by the variable but not there: the line says the variable named it.
            let wrong = try await ws.k8senv(
                "version", environment: ["K8SENV_KUBE_APISERVER": "/nowhere/kube-apiserver"])
            #expect(wrong.status == 0, "\(wrong)")
            #expect(
                wrong.stdout.contains(
                    "kube-apiserver: none (binaries.kubeAPIServer: /nowhere/kube-apiserver does not exist; from K8SENV_KUBE_APISERVER)"
                ), "\(wrong)")
        }
    }

    /// `name  key` lines of `k8senv hash`.
    static func keys(_ text: String) -> [String: String] {
        var keys: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if let match = line.wholeMatch(of: /(\S+) +([0-9a-f]{64})/) { keys[String(match.1)] = String(match.2) }
        }
        return keys
    }

    @Test("hash --apiserver-version: one line per environment with a 64-hex key; -e prints only the key")
    func hashWithVersion() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let all = try await ws.k8senv("hash", "-f", "k8senv.yaml", "--apiserver-version", "v1.20.2")
            #expect(all.status == 0, "\(all)")
            let lines = all.stdout.split(separator: "\n")
            #expect(lines.count == 2, "\(all)")
            let keys = Self.keys(all.stdout)
            #expect(Set(keys.keys) == ["base", "payments"], "\(all)")
            #expect(keys["base"] != keys["payments"])

            let base = try await ws.k8senv("hash", "-f", "k8senv.yaml", "--apiserver-version", "v1.20.2", "-e", "base")
            #expect(base.status == 0, "\(base)")
            #expect(base.stdout == (keys["base"] ?? "?") + "\n", "\(base)")

            let other = try await ws.k8senv("hash", "-f", "k8senv.yaml", "--apiserver-version", "v1.21.0", "-e", "base")
            #expect(other.stdout.wholeMatch(of: /[0-9a-f]{64}\n/) != nil, "\(other)")
            #expect(other.stdout != base.stdout, "the kube-apiserver version is part of the key")

            let unknown = try await ws.k8senv(
                "hash", "-f", "k8senv.yaml", "--apiserver-version", "v1.20.2", "-e", "bsae")
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderr.contains("did you mean \"base\""), "\(unknown)")
        }
    }

    @Test("cache export and hash word an unknown environment the same way, whichever -e it is (one planning step)")
    func unknownEnvironmentWordedOnce() async throws {
        try await Workspace.with(example: true, apiServers: false) { ws in
            let export = try await ws.k8senv(
                "cache", "export", "-f", "k8senv.yaml", "--apiserver-version", "v1.20.2",
                "-e", "base", "-e", "paymnts", "-o", "out/")
            #expect(export.status == 1, "\(export)")
            #expect(
                export.stderr.contains("k8senv.yaml: error: no environment \"paymnts\"; did you mean \"payments\"?"),
                "\(export)")
            let hash = try await ws.k8senv(
                "hash", "-f", "k8senv.yaml", "--apiserver-version", "v1.20.2", "-e", "paymnts")
            #expect(hash.status == 1 && hash.stderr == export.stderr, "\(hash)")
        }
    }

    @Test("hash without --apiserver-version runs kube-apiserver --version: the same keys as v1.20.2")
    func hashFromBinary() async throws {
        let binaries = try RealBinaries.require()
        try await Workspace.with(example: true, apiServers: false) { ws in
            let pinned = try await ws.k8senv("hash", "-f", "k8senv.yaml", "--apiserver-version", "v1.20.2")
            let probed = try await ws.k8senv(
                "hash", "-f", "k8senv.yaml",
                environment: ["K8SENV_KUBE_APISERVER": binaries.kubeAPIServer])
            #expect(probed.status == 0, "\(probed)")
            #expect(Self.keys(probed.stdout).count == 2, "\(probed)")
            #expect(probed.stdout == pinned.stdout, "\(probed)")

            let json = try await ws.k8senv(
                "hash", "-f", "k8senv.yaml", "--format", "json",
                environment: ["K8SENV_KUBE_APISERVER": binaries.kubeAPIServer])
            let object = try #require(parseJSONObject(json.stdout))
            #expect(object["kubeAPIServerVersion"] as? String == "v1.20.2")
        }
    }

    @Test(
        "validate and hash run no program the repository names (binaries: ./evil.sh, or a variable naming one inside it) unless --probe-binaries, and say so; one named by the user's environment outside the repository is run"
    )
    func repositoryProgramsNotProbed() async throws {
        let config = """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            binaries:
              kubeAPIServer: ./evil.sh
            apiServer:
              featureGates: {APIPriorityAndFairness: false}
            environments:
              base: {}

            """
        try await Workspace.with(config: config, apiServers: false) { ws in
            let marker = ws("marker")
            let program = "#!/bin/sh\ntouch '\(marker)'\necho 'Kubernetes v1.20.2'\n"
            try ws.write("evil.sh", program, mode: 0o755)
            func ran() -> Bool { FileManager.default.fileExists(atPath: marker) }

            let validate = try await ws.k8senv("validate", "-f", "k8senv.yaml")
            #expect(validate.status == 0, "\(validate)")
            #expect(
                validate.stdout.contains(
                    "k8senv.yaml:6:3: note: apiServer.featureGates: not checked against kube-apiserver's gates: binaries.kubeAPIServer: ./evil.sh is a path the config names (not a program on PATH or named by your environment), so it was not run; pass --probe-binaries to run it"
                ), "\(validate)")
            #expect(!ran(), "validate ran ./evil.sh")

            let hash = try await ws.k8senv("hash", "-f", "k8senv.yaml")
            #expect(hash.status == 1, "\(hash)")
            #expect(hash.stdout.isEmpty, "\(hash)")
            #expect(hash.stderr.contains("binaries.kubeAPIServer: ./evil.sh is a path the config names"), "\(hash)")
            #expect(
                hash.stderr.contains(
                    "--apiserver-version VERSION, or let k8senv run the program with --probe-binaries"), "\(hash)")
            #expect(!ran(), "hash ran ./evil.sh")
            // With the version given, nothing needs to run.
            let pinned = try await ws.k8senv("hash", "-f", "k8senv.yaml", "--apiserver-version", "v1.20.2")
            #expect(pinned.status == 0, "\(pinned)")
            #expect(!ran())

            // Named through a variable of the user's environment, but inside the repository.
            try ws.write("env.yaml", config.replacingOccurrences(of: "./evil.sh", with: "${EVIL}"))
            let inside = try await ws.k8senv("validate", "-f", "env.yaml", environment: ["EVIL": ws("evil.sh")])
            #expect(
                inside.stdout.contains(
                    "binaries.kubeAPIServer: \(ws("evil.sh")) is inside the config's folder (the repository), so it was not run; pass --probe-binaries to run it"
                ), "\(inside)")
            #expect(!ran(), "validate ran evil.sh named by a variable")
            // Outside it, named by the user's environment: run.
            let outside = try TemporaryFolder()
            let mine = try outside.write("kube-apiserver", program)
            chmod(mine, 0o755)
            let theirs = try await ws.k8senv("hash", "-f", "env.yaml", environment: ["EVIL": mine])
            #expect(theirs.status == 0, "\(theirs)")
            #expect(ran(), "a program named by the user's environment outside the repository is run")
            try FileManager.default.removeItem(atPath: marker)

            // --probe-binaries: run.
            let probedHash = try await ws.k8senv("hash", "-f", "k8senv.yaml", "--probe-binaries")
            #expect(probedHash.status == 0, "\(probedHash)")
            #expect(probedHash.stdout == pinned.stdout, "\(probedHash)")
            #expect(ran(), "hash --probe-binaries did not run ./evil.sh")
            try FileManager.default.removeItem(atPath: marker)
            let probed = try await ws.k8senv("validate", "-f", "k8senv.yaml", "--probe-binaries")
            #expect(probed.status == 0, "\(probed)")
            #expect(!probed.stdout.contains("note:"), "\(probed)")
            #expect(ran(), "validate --probe-binaries did not run ./evil.sh")
        }
    }

    /// Where error messages send a user: one base, the project's docs on GitHub.
    static let docs = "https://github.com/k8senv/k8senv/blob/main/docs/"

    @Test(
        "completion bash|zsh|fish: a visible subcommand printing each shell's script, which knows the subcommands; another shell is a usage error"
    )
    func completion() async throws {
        try await Workspace.with(apiServers: false) { ws in
            let help = try await ws.k8senv("--help")
            #expect(help.stdout.contains("completion"), "\(help)")
            for (shell, marker) in [
                ("bash", "-F _k8senv k8senv\n"), ("zsh", "#compdef k8senv"), ("fish", "complete -c 'k8senv'"),
            ] {
                let script = try await ws.k8senv("completion", shell)
                #expect(script.status == 0, "\(shell): \(script)")
                #expect(script.stdout.contains(marker), "\(shell): \(script.stdout.prefix(300))")
                for subcommand in ["init", "up", "run", "profiles", "version", "completion"] {
                    #expect(script.stdout.contains(subcommand), "\(shell) script without \(subcommand)")
                }
            }
            let other = try await ws.k8senv("completion", "tcsh")
            #expect(other.status == 2 && other.stderr.contains("tcsh"), "\(other)")
        }
    }

    @Test("a folder without k8senv.yaml: up, run, validate, hash, env and diff say to run k8senv init (or -f), exit 1")
    func missingConfigSuggestsInit() async throws {
        try await Workspace.with(apiServers: false) { ws in
            for arguments: [String] in [
                ["up"], ["run", "--", "true"], ["validate"], ["hash", "--apiserver-version", "v1.20.2"],
            ] {
                let child = try ws.start(arguments)
                let outcome = try await ws.finish(child)
                #expect(outcome.status == 1, "\(arguments): \(outcome)")
                let said = outcome.stderr + outcome.stdout
                #expect(
                    said.contains("cannot read k8senv.yaml: no such file")
                        && said.contains("`k8senv init` writes a k8senv.yaml") && said.contains("-f names another"),
                    "\(arguments): \(outcome)")
            }
            // The commands that read a running up's state: no file to start, so up --detach is not the advice.
            for (arguments, status): ([String], Int32) in [(["env"], 1), (["diff"], 2)] {
                let outcome = try await ws.finish(try ws.start(arguments))
                #expect(outcome.status == status, "\(arguments): \(outcome)")
                #expect(
                    outcome.stderr.contains("there is no k8senv.yaml to start: `k8senv init` writes a k8senv.yaml")
                        && !outcome.stderr.contains("start one with"),
                    "\(arguments): \(outcome)")
            }
        }
    }

    @Test(
        "a program that is not on PATH: the message names its K8SENV_ variable and links the install page, never a script of k8senv's checkout"
    )
    func missingBinaryMessages() async throws {
        try await Workspace.with(config: Workspace.smallConfig(), apiServers: false) { ws in
            let up = try await ws.k8senv("up", environment: ["K8SENV_KUBE_APISERVER": nil, "PATH": "/nowhere"])
            #expect(up.status == 1, "\(up)")
            #expect(
                up.stderr.contains(
                    "binaries.kubeAPIServer: \"kube-apiserver\" is not on PATH; install kube-apiserver and put it on PATH, or set K8SENV_KUBE_APISERVER to its path"
                ), "\(up)")
            #expect(
                up.stderr.contains(Self.docs + "how-to/install.md")
                    && !up.stderr.contains("scripts/install-binaries.sh"), "\(up)")
        }
    }
}
