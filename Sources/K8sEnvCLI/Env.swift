import ArgumentParser
import Foundation
import K8sEnvRunner

struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the shell exports of the running detached environments.")

    @OptionGroup var config: ConfigOptions

    @Option(name: [.short, .customLong("environment")], help: "KUBECONFIG (and the webhook variables) for this environment.")
    var environment: String?

    @Option(help: "The state folder (default: .k8senv next to the config file).")
    var stateDir: String?

    func run() throws {
        let state = stateDir.map { StateFolder(path: $0) } ?? StateFolder.forConfig(config.file)
        guard let record = state.current() else {
            printError("error: no detached k8senv up is running for \(config.file); \(Lifecycle.startAdvice(config: config.file))")
            throw ExitCode(1)
        }
        var exports = record.exports
        if let environment {
            guard let instance = record.instances.first(where: { $0.environment == environment }) else {
                printError("error: environment \"\(environment)\" is not running (running: \(Set(record.instances.map(\.environment)).sorted().joined(separator: ", ")))")
                throw ExitCode(1)
            }
            exports = [("KUBECONFIG", instance.kubeconfig)] + (instance.webhook.map(\.exports) ?? [])
        }
        for (key, value) in exports { print("export \(key)=\(Lifecycle.shellQuote(value))") }
    }
}
