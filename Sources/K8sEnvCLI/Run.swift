import ArgumentParser
import Foundation
import K8sEnvRunner

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Start the environments, run a command with KUBECONFIG set, stop them; exit with the command's status.",
        discussion:
            "The command gets KUBECONFIG (the first instance), K8SENV_KUBECONFIGS (all, colon-separated) and K8SENV_KUBECONFIG_<ENV>. When a detached `k8senv up` of the same config (and profile) serves a pool, run attaches to it instead: one lease per environment, released (reset) when the command ends; no kube-apiserver starts."
    )

    @OptionGroup var options: RunOptions

    @Flag(help: "Start instances of its own even when a detached `k8senv up` of this config serves a pool.")
    var fresh = false

    @Option(
        help: ArgumentHelp(
            "When the command fails (exits non-zero, is killed, or an instance stops), write each instance it used to this folder as a post-mortem bundle before teardown; serve one with `k8senv open`. Over K8SENV_POSTMORTEM and the config's postmortem.dir.",
            valueName: "dir"))
    var postmortem: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty {
            throw ValidationError("give the command to run after --, e.g. k8senv run -- go test ./...")
        }
    }

    func run() async throws {
        var lifecycle = options.lifecycle
        lifecycle.fresh = fresh
        // K8SENV_POSTMORTEM: what the GitHub Action's `postmortem` input sets for every later step.
        lifecycle.postmortemDirectory =
            postmortem ?? ProcessInfo.processInfo.environment["K8SENV_POSTMORTEM"].flatMap { $0.isEmpty ? nil : $0 }
        throw ExitCode(await Lifecycle.run(lifecycle, command: command, output: { printError($0) }))
    }
}
