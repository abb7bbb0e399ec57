import ArgumentParser
import Foundation
import K8sEnvRunner
import Testing

@testable import K8sEnvCLI

/// Every command's command line, parsed in process (no binary, no server): what each flag sets,
/// and the usage errors a user gets (exit 2).
@Suite("Command lines, parsed in process", .tags(.cli))
struct ParsingTests {
    func parse<C: ParsableCommand>(_ arguments: [String], as: C.Type) throws -> C {
        let command = try K8sEnvCommand.parseAsRoot(arguments)
        return try #require(command as? C, "\(arguments) parsed as \(type(of: command))")
    }

    /// The message and exit code a usage error gives.
    func usageError(_ arguments: [String]) -> (message: String, code: Int32)? {
        do {
            _ = try K8sEnvCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return (K8sEnvCommand.message(for: error), K8sEnvCommand.status(for: error))
        }
    }

    @Test("cache export: config, profile, environments, output; cache import: one or more bundles, at least one")
    func cacheExportImport() throws {
        let export = try parse(
            [
                "cache", "export", "-f", "ci/k8senv.yaml", "--profile", "ci", "-e", "base", "--environment", "payments",
                "-o", "bundles/", "--apiserver-version", "v1.20.2",
            ], as: Cache.Export.self)
        #expect(export.options.file == "ci/k8senv.yaml" && export.options.profile == "ci")
        #expect(
            export.environments == ["base", "payments"] && export.output == "bundles/"
                && export.apiserverVersion == "v1.20.2")
        #expect(
            usageError(["cache", "export"])?.message.contains("Missing expected argument '--output <output>'") == true)
        #expect(usageError(["cache", "export"])?.code == 2)
        let importing = try parse(["cache", "import", "a.k8senv-bundle", "b.k8senv-bundle"], as: Cache.Import.self)
        #expect(importing.bundles == ["a.k8senv-bundle", "b.k8senv-bundle"])
        #expect(usageError(["cache", "import"])?.code == 2)
    }

    @Test("up: config, profile, environments, state folder, cache, pool size, detach")
    func up() throws {
        let up = try parse(
            [
                "up", "-f", "ci/k8senv.yaml", "--profile", "ci", "-e", "base", "--environment", "payments",
                "--state-dir", "/tmp/s", "--no-cache", "--pool-size", "3", "--quiet", "--detach",
            ], as: Up.self)
        #expect(up.detach && up.supervise == nil)
        let options = up.options.lifecycle
        #expect(options.file == "ci/k8senv.yaml" && options.profile == "ci")
        #expect(options.environments == ["base", "payments"])
        #expect(options.stateDirectory == "/tmp/s" && options.noCache && options.quiet && options.poolSize == 3)
        let plain = try parse(["up"], as: Up.self)
        #expect(
            plain.options.lifecycle.file == "k8senv.yaml" && !plain.detach && plain.options.lifecycle.poolSize == nil)
        // --trace FILE, made absolute (the detached supervisor writes it from wherever it runs).
        #expect(try parse(["up", "--trace", "/tmp/t.json"], as: Up.self).options.lifecycle.tracePath == "/tmp/t.json")
        #expect(
            try parse(["run", "--trace", "t.json", "--", "true"], as: Run.self).options.lifecycle.tracePath
                == FileManager.default.currentDirectoryPath + "/t.json")
        #expect(plain.options.lifecycle.tracePath == nil)
        #expect(
            usageError(["up", "--pool-size", "0"])?.message.contains("--pool-size must be between 1 and 64") == true)
        #expect(usageError(["up", "--pool-size", "0"])?.code == 2)
        #expect(usageError(["up", "--detatch"])?.message.contains("Unknown option '--detatch'") == true)
    }

    @Test("run: the command after --, with the run options before it")
    func run() throws {
        let run = try parse(
            ["run", "-f", "x.yaml", "-e", "base", "--", "go", "test", "-run", "TestX", "./..."], as: Run.self)
        #expect(run.command == ["go", "test", "-run", "TestX", "./..."])
        #expect(run.options.lifecycle.file == "x.yaml" && run.options.lifecycle.environments == ["base"])
        let missing = usageError(["run", "-f", "x.yaml"])
        #expect(missing?.message.contains("give the command to run after --") == true)
        #expect(missing?.code == 2)
    }

    @Test("acquire and release: environment, timeout, holder, TTL, format; the lease and mode; usage errors")
    func leases() throws {
        let acquire = try parse(
            [
                "acquire", "-e", "base", "--timeout", "5", "--holder", "42", "--ttl", "600", "--format", "json",
                "--state-dir", "/s",
            ], as: Acquire.self)
        #expect(acquire.environment == "base" && acquire.timeout == 5 && acquire.holder == 42 && acquire.ttl == 600)
        #expect(acquire.format == .json && acquire.state.stateDir == "/s")
        let plain = try parse(["acquire"], as: Acquire.self)
        #expect(
            plain.environment == nil && plain.timeout == 60 && plain.holder == nil && plain.ttl == nil
                && plain.format == .env)
        #expect(usageError(["acquire", "--timeout", "-1"])?.code == 2)
        #expect(usageError(["acquire", "--holder", "0"])?.message.contains("--holder must be a process id") == true)
        let release = try parse(["release", "0123abcd", "--mode", "stop"], as: Release.self)
        #expect(release.lease == "0123abcd" && release.mode == "stop")
        #expect(try parse(["release"], as: Release.self).mode == "reset")
        #expect(try parse(["release", "x", "--mode", "clean"], as: Release.self).mode == "clean")
        #expect(try parse(["release", "x", "--mode", "keep"], as: Release.self).mode == "keep")
        #expect(
            usageError(["release", "x", "--mode", "wipe"])?.message.contains(
                "--mode must be reset, clean, stop or keep") == true)
        #expect(
            usageError(["release", "x", "--profile", "ci"])?.code == 2,
            "a profile changes nothing for release: not an option")
    }

    @Test("down, env, status: config and state folder; env's environment; status's format")
    func detachedCommands() throws {
        let down = try parse(["down", "-f", "a.yaml", "--state-dir", "/s"], as: Down.self)
        #expect(down.config.file == "a.yaml" && down.state.stateDir == "/s")
        let env = try parse(["env", "-e", "payments"], as: Env.self)
        #expect(env.environment == "payments" && env.config.file == "k8senv.yaml" && env.state.stateDir == nil)
        let status = try parse(["status", "--format", "json"], as: Status.self)
        #expect(status.format == .json)
        #expect(usageError(["status", "--format", "yaml"])?.message.contains("yaml") == true)
    }

    @Test("diff: an instance or none, config, state folder, format, all; usage errors")
    func diff() throws {
        let all = try parse(["diff"], as: Diff.self)
        #expect(
            all.instance == nil && all.config.file == "k8senv.yaml" && all.state.stateDir == nil && all.format == .text
                && !all.all)
        let one = try parse(
            ["diff", "base-0", "-f", "a.yaml", "--state-dir", "/s", "--format", "json", "--all"], as: Diff.self)
        #expect(
            one.instance == "base-0" && one.config.file == "a.yaml" && one.state.stateDir == "/s" && one.format == .json
                && one.all)
        #expect(usageError(["diff", "--format", "yaml"])?.code == 2)
        #expect(usageError(["diff", "base-0", "base-1"])?.code == 2)
    }

    @Test("validate, hash, profiles: config, profile, format, version override, --probe-binaries")
    func configCommands() throws {
        let validate = try parse(
            ["validate", "-f", "c.yaml", "--profile", "ci", "--format", "json"], as: Validate.self)
        #expect(validate.options.file == "c.yaml" && validate.options.profile == "ci" && validate.format == .json)
        let hash = try parse(["hash", "-e", "base", "--apiserver-version", "v1.20.2"], as: Hash.self)
        #expect(hash.environment == "base" && hash.apiserverVersion == "v1.20.2" && hash.format == .text)
        #expect(
            !validate.probe.probeBinaries && !hash.probe.probeBinaries,
            "programs of the repository are not run by default")
        #expect(try parse(["validate", "--probe-binaries"], as: Validate.self).probe.probeBinaries)
        #expect(try parse(["hash", "--probe-binaries"], as: Hash.self).probe.probeBinaries)
        let profiles = try parse(["profiles", "--file", "p.yaml", "--format", "json"], as: Profiles.self)
        #expect(profiles.file == "p.yaml" && profiles.format == .json)
    }

    @Test("cache ls/prune/path, schema, json: their options; a bad duration is a usage error")
    func otherCommands() throws {
        #expect(try parse(["cache", "ls", "--format", "json"], as: Cache.List.self).format == .json)
        #expect(try parse(["cache", "prune", "--older-than", "168h"], as: Cache.Prune.self).olderThan == "168h")
        _ = try parse(["cache", "path"], as: Cache.Path.self)
        _ = try parse(["schema"], as: Schema.self)
        let json = try parse(["json", "--count", "a.yaml", "-"], as: ConvertToJSON.self)
        #expect(json.files == ["a.yaml", "-"] && json.count)
        let prune = usageError(["cache", "prune", "--older-than", "a week"])
        #expect(prune?.code == 2, "\(String(describing: prune))")
        #expect(usageError(["frobnicate"])?.message.contains("frobnicate") == true)
        #expect(usageError(["frobnicate"])?.code == 2)
    }

    @Test("version: config file and format; a build from source is dev, and --version prints the same lines as version")
    func version() throws {
        let version = try parse(["version", "-f", "c.yaml", "--format", "json"], as: Version.self)
        #expect(version.config.file == "c.yaml" && version.format == .json)
        #expect(try parse(["version"], as: Version.self).format == .text)
        #expect(usageError(["version", "--format", "yaml"])?.code == 2)
        #expect(
            BuildInfo(version: "", commit: "", swiftVersion: "", buildDate: "")
                == BuildInfo(version: "dev", commit: nil, swiftVersion: nil, buildDate: nil))
        // --version is ArgumentParser's: it prints the configuration's version, which is the build's.
        #expect(K8sEnvCommand.configuration.version == BuildInfo.current.text)
        #expect(K8sEnvCommand.configuration.version.hasPrefix("k8senv "))
    }

    @Test("completion: one shell of bash, zsh or fish; none or another is a usage error naming the choices")
    func completion() throws {
        for shell in Completion.Shell.allCases {
            #expect(try parse(["completion", shell.rawValue], as: Completion.self).shell == shell)
        }
        #expect(usageError(["completion"])?.code == 2)
        let other = usageError(["completion", "tcsh"])
        #expect(other?.code == 2 && other?.message.contains("bash") == true, "\(String(describing: other))")
    }
}
