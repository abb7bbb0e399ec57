import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

/// `k8senv`: the root command. The executable's main is `await K8sEnvCommand.main()`.
public struct K8sEnvCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "k8senv",
        abstract: "Declarative Kubernetes test environments: real kube-apiserver instances from a k8senv.yaml.",
        version: BuildInfo.current.text,
        subcommands: [Init.self, Validate.self, Hash.self, Up.self, Down.self, Run.self, Env.self, Status.self, Diff.self, Open.self, Acquire.self, Release.self, Cache.self, Schema.self, ConvertToJSON.self, Profiles.self, Audit.self, Version.self]
    )

    public init() {}

    /// Exit codes: 0 success, 1 failure (invalid config, failed run: a ``K8sEnvError``), 2 usage
    /// error, 130 a start interrupted by SIGINT or SIGTERM; `run` exits with its command's status.
    public static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as K8sEnvError {
            // The one place an error of k8senv becomes what the user sees and an exit status.
            printError(error.report)
            Foundation.exit(error.exitStatus)
        } catch let status as ExitCode {
            // A status of our own (e.g. `run`'s command's, which may well be 64): as it is.
            Foundation.exit(status.rawValue)
        } catch {
            let status = status(for: error)
            if status == 2 {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    /// The exit status of an error from parsing or running: a usage error is 2 (ArgumentParser's
    /// own is 64, which `run` keeps for the commands it runs); help and version are 0.
    static func status(for error: any Error) -> Int32 {
        let code = exitCode(for: error)
        return code == .validationFailure ? 2 : code.rawValue
    }
}

/// Options every command that reads a config takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: "The config file.")
    var file: String = "k8senv.yaml"

    @Option(help: "A profile of the config to apply.")
    var profile: String?
}

/// `--probe-binaries` of the commands that check a config without starting it (`validate`,
/// `hash`): without it they run no program the repository could have put there (``BinaryProbe``).
struct ProbeOption: ParsableArguments {
    @Flag(help: "Run the programs the config names to read their --version and --help even when they are inside the config's folder or named by a path in it (by default only programs on PATH or named by your environment, outside the folder, are run).")
    var probeBinaries = false

    var binaryProbe: BinaryProbe { BinaryProbe(probeRepositoryPrograms: probeBinaries) }
}

/// The config file alone, for commands that only need to find its state folder (the pool
/// service's clients: a profile changes nothing for them).
struct ConfigFileOption: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: "The config file (the state folder is .k8senv next to it).")
    var file: String = "k8senv.yaml"
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// One JSON document on a line (``JSONOutput``): every `--format json` prints through here.
func printJSON(_ value: some Encodable) {
    print(JSONOutput.encode(value))
}
