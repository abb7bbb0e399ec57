import ArgumentParser
import Foundation
import K8sEnvRunner

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop the environments a `k8senv up --detach` left running.")

    @OptionGroup var config: ConfigOptions

    @OptionGroup var state: StateOptions

    func run() async throws {
        let state = self.state.folder(for: config.file)
        throw ExitCode(await Lifecycle.down(state, timeout: .seconds(60), output: printLine))
    }
}
