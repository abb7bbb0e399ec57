import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

struct Hash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the cache key of each environment (SHA-256 over what its snapshot holds).",
        discussion:
            "The key covers the storage backend, the kube-apiserver version, apiServer.extraArgs, apiServer.featureGates, apiServer.runtimeConfig, the parent's key and every CRD, seed and webhook file (webhook configurations are applied after the snapshot is restored, but a changed webhook manifest still changes the key). Pool size, timeouts, webhookPort, users, apiServer.authorization and comments do not change it: they change how instances run, not what a snapshot holds. The version is read by running kube-apiserver --version, only when that program is on PATH or named by your environment (K8SENV_KUBE_APISERVER) and outside the config's folder; otherwise hash stops and asks for --apiserver-version or --probe-binaries, rather than print a key without the version."
    )

    @OptionGroup var options: ConfigOptions

    @Option(name: [.short, .customLong("environment")], help: "Print only this environment's key.")
    var environment: String?

    @Option(help: "The kube-apiserver version to key on, instead of running `kube-apiserver --version`.")
    var apiserverVersion: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @OptionGroup var probe: ProbeOption

    func run() async throws {
        let computed = try await ConfigKeys.compute(
            file: options.file, profile: options.profile, environments: environment.map { [$0] } ?? [],
            apiServerVersion: apiserverVersion, probe: probe.binaryProbe)
        let keys = computed.keys
        let names = environment.map { [$0] } ?? computed.order
        switch format {
        case .text:
            if environment != nil {
                print(keys[names[0]]!)
            } else {
                let width = names.map(\.count).max() ?? 0
                for name in names {
                    print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + keys[name]!)
                }
            }
        case .json:
            struct Output: Encodable {
                var kubeAPIServerVersion: String
                var environments: [String: String]
            }
            printJSON(
                Output(
                    kubeAPIServerVersion: computed.kubeAPIServerVersion,
                    environments: keys.filter { names.contains($0.key) }))
        }
    }
}
