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
        subcommands: [
            Init.self, Validate.self, Hash.self, Up.self, Down.self, Run.self, Env.self, Status.self, Diff.self,
            Open.self, Acquire.self, Release.self, Cache.self, Schema.self, ConvertToJSON.self, Profiles.self,
            Audit.self, Version.self, Completion.self,
        ]
    )

    public init() {}

    /// Exit codes: 0 success, 1 failure (invalid config, failed run: a ``K8sEnvError``), 2 usage
    /// error, 130 a start interrupted by SIGINT or SIGTERM; `run` exits with its command's status.
    public static func main() async {
        var parsed: (any ParsableCommand)?
        do {
            var command = try parseAsRoot()
            parsed = command
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as K8sEnvError {
            // The one place an error of k8senv becomes what the user sees and an exit status.
            printError(error.report)
            Foundation.exit(
                parsed.map { type(of: $0) as? any ErrorExitStatus.Type }??.errorExitStatus ?? error.exitStatus)
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

/// A command whose errors exit with a status of its own instead of ``K8sEnvError/exitStatus``
/// (`diff`: 2, as diff and kubectl diff, since 1 means "something changed").
protocol ErrorExitStatus {
    static var errorExitStatus: Int32 { get }
}

/// A line on standard error (progress, notes). Errors are not printed with it by the commands:
/// they throw a ``K8sEnvError`` and ``K8sEnvCommand/main()`` prints it.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// One JSON document on a line (``JSONOutput``): every `--format json` prints through here.
func printJSON(_ value: some Encodable) {
    print(JSONOutput.encode(value))
}
