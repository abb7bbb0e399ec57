import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

struct Hash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the cache key of each environment (SHA-256 over what its snapshot holds).",
        discussion: "The key covers the storage backend, the kube-apiserver version, apiServer.extraArgs, apiServer.featureGates, apiServer.runtimeConfig, the parent's key and every CRD, seed and webhook file (webhook configurations are applied after the snapshot is restored, but a changed webhook manifest still changes the key). Pool size, timeouts, webhookPort, users, apiServer.authorization and comments do not change it: they change how instances run, not what a snapshot holds."
    )

    @OptionGroup var options: ConfigOptions

    @Option(name: [.short, .customLong("environment")], help: "Print only this environment's key.")
    var environment: String?

    @Option(help: "The kube-apiserver version to key on, instead of running `kube-apiserver --version`.")
    var apiserverVersion: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let (version, keys, order) = try await Self.keys(options, environment: environment, apiserverVersion: apiserverVersion)
        let names = environment.map { [$0] } ?? order
        switch format {
        case .text:
            if environment != nil {
                print(keys[names[0]]!)
            } else {
                let width = names.map(\.count).max() ?? 0
                for name in names { print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + keys[name]!) }
            }
        case .json:
            struct Output: Encodable { var kubeAPIServerVersion: String; var environments: [String: String] }
            printJSON(Output(kubeAPIServerVersion: version, environments: keys.filter { names.contains($0.key) }))
        }
    }

    /// The kube-apiserver version, every environment's cache key and the environments in plan order, as `k8senv hash` prints them.
    /// - Throws: ``K8sEnvError`` for an invalid config, an unknown `environment`, a binary
    ///   whose version cannot be read, or a version that is not the config's `kubeVersion`.
    static func keys(_ options: ConfigOptions, environment: String?, apiserverVersion: String?) async throws -> (version: String, keys: [String: String], order: [String]) {
        let loader = ConfigLoader()
        let files = loader.files
        let config: Config, plan: Plan
        do throws(Diagnostics) {
            config = try loader.load(options.file, profile: options.profile)
            if let environment, let message = config.unknownEnvironment(environment) {
                throw Diagnostics([Diagnostic(.reference, at: SourceLocation(file: options.file, mark: nil), message)])
            }
            plan = try Plan(config)
        } catch {
            throw K8sEnvError(.invalidConfig, error, files: files)
        }
        let version: String, source: String
        if let apiserverVersion {
            (version, source) = (apiserverVersion, "--apiserver-version")
        } else {
            do throws(ProcessError) {
                let binary = try BinaryLocator.locate(config.binaries.kubeAPIServer, role: "binaries.kubeAPIServer", relativeTo: config.directory)
                (version, source) = (try await BinaryVersion.read(binary).text, binary)
            } catch {
                throw K8sEnvError(error)
            }
        }
        if let mismatch = config.kubeVersionMismatch(reported: version, by: source) {
            throw K8sEnvError(ProcessError(.unexpectedOutput, mismatch, domain: .binary))
        }
        do throws(Diagnostic) { return (version, try CacheKey.compute(plan, apiServerVersion: version, files: files), plan.environments.map(\.name)) } catch {
            throw K8sEnvError(.invalidConfig, error, files: files)
        }
    }
}
