import ArgumentParser
import Foundation
import K8sEnvRunner

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the environments, run a command with KUBECONFIG set, stop them; exit with the command's status.",
        discussion: "The command gets KUBECONFIG (the first instance), K8SENV_KUBECONFIGS (all, colon-separated) and K8SENV_KUBECONFIG_<ENV>."
    )

    @OptionGroup var options: RunOptions

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. k8senv run -- go test ./...") }
    }

    func run() async throws {
        throw ExitCode(await Lifecycle.run(options.lifecycle, command: command, output: { printError($0) }))
    }
}
