import ArgumentParser
import Foundation
import K8sEnvRunner

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the environments a `k8senv up --detach` left running.")

    @OptionGroup var config: ConfigOptions

    @Option(help: "The state folder (default: .k8senv next to the config file).")
    var stateDir: String?

    func run() async throws {
        let state = stateDir.map { StateFolder(path: $0) } ?? StateFolder.forConfig(config.file)
        throw ExitCode(await Lifecycle.down(state, timeout: .seconds(60), output: printLine))
    }
}
