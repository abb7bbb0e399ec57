import ArgumentParser
import Foundation
import K8sEnvRunner

struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the shell exports of the running detached environments.")

    @OptionGroup var config: ConfigOptions

    @Option(
        name: [.short, .customLong("environment")], help: "KUBECONFIG (and the webhook variables) for this environment."
    )
    var environment: String?

    @OptionGroup var state: StateOptions

    func run() throws {
        guard let record = state.folder(for: config.file).current() else {
            throw K8sEnvError(
                .notRunning,
                "no detached k8senv up is running for \(config.file); \(Lifecycle.startAdvice(config: config.file))")
        }
        var exports = record.exports
        if let environment {
            guard let instance = record.instances.first(where: { $0.environment == environment }) else {
                throw K8sEnvError(
                    .notRunning,
                    "environment \"\(environment)\" is not running (running: \(Set(record.instances.map(\.environment)).sorted().joined(separator: ", ")))"
                )
            }
            exports = [("KUBECONFIG", instance.kubeconfig)] + (instance.webhook.map(\.exports) ?? [])
        }
        for (key, value) in exports { print("export \(key)=\(Lifecycle.shellQuote(value))") }
    }
}
