import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

struct Hash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the cache key of each environment (SHA-256 over what its snapshot holds).",
        discussion: "The key covers the storage backend, the kube-apiserver version, apiServer.extraArgs, apiServer.featureGates, apiServer.runtimeConfig, the parent's key and every CRD, seed and webhook file (webhook configurations are applied after the snapshot is restored, but a changed webhook manifest still changes the key). Pool size, timeouts, webhookPort, users, apiServer.authorization and comments do not change it: they change how instances run, not what a snapshot holds. The version is read by running kube-apiserver --version, only when that program is on PATH or named by your environment (K8SENV_KUBE_APISERVER) and outside the config's folder; otherwise hash stops and asks for --apiserver-version or --probe-binaries, rather than print a key without the version."
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
        let (version, keys, order) = try await Self.keys(options, environment: environment, apiserverVersion: apiserverVersion,
                                                         probe: probe.binaryProbe)
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
    /// - Parameter probe: whether kube-apiserver may be run for its version (``BinaryProbe``).
    ///   When it may not, and no `apiserverVersion` is given, there is no key to print: the
    ///   version is part of it, and a key without it would silently differ from `up`'s.
    /// - Throws: ``K8sEnvError`` for an invalid config, an unknown `environment`, a binary
    ///   whose version cannot be read or that may not be run, or a version that is not the
    ///   config's `kubeVersion`.
    static func keys(_ options: ConfigOptions, environment: String?, apiserverVersion: String?,
                     probe: BinaryProbe) async throws -> (version: String, keys: [String: String], order: [String]) {
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
                let binary = try probe.locate("kubeAPIServer", config.binaries.kubeAPIServer, in: config)
                (version, source) = (try await BinaryVersion.read(binary).text, binary)
            } catch {
                if error.code == .notProbed {
                    throw K8sEnvError(.binaryNotFound, "\(error.message)\nThe cache key includes the kube-apiserver version: give it with --apiserver-version VERSION, or let k8senv run the program with --probe-binaries.", cause: error)
                }
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
