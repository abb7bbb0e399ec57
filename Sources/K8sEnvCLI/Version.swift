import ArgumentParser
import CK8sEnvBuildInfo
import Foundation
import K8sEnvRunner
import K8sEnvSpec

/// What this build is: stamped by scripts/release.sh (through Package.swift's K8SENV_BUILD_*
/// defines of CK8sEnvBuildInfo); a build from source is `dev` with nothing else known.
struct BuildInfo: Encodable, Equatable {
    var version: String
    var commit: String?
    var swiftVersion: String?
    var buildDate: String?

    static let current = BuildInfo(
        version: String(cString: k8senv_build_version()),
        commit: String(cString: k8senv_build_commit()),
        swiftVersion: String(cString: k8senv_build_swift_version()),
        buildDate: String(cString: k8senv_build_date()))

    /// Empty values (a build from source) become `dev` and nil.
    init(version: String, commit: String?, swiftVersion: String?, buildDate: String?) {
        func known(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        self.version = known(version) ?? "dev"
        self.commit = known(commit)
        self.swiftVersion = known(swiftVersion)
        self.buildDate = known(buildDate)
    }

    /// `k8senv --version` and the first lines of `k8senv version`.
    var text: String {
        """
        k8senv \(version)
        commit: \(commit ?? "unknown (built from source)")
        swift: \(swiftVersion ?? "unknown (built from source)")
        built: \(buildDate ?? "unknown (built from source)")
        """
    }
}

struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print k8senv's version, commit, Swift version and build date, and the kube-apiserver it would run.",
        discussion:
            "The kube-apiserver is the config's binaries.kubeAPIServer when the config file exists, else ${K8SENV_KUBE_APISERVER:-kube-apiserver} on PATH; its version is what `kube-apiserver --version` prints. A kube-apiserver that is missing or cannot report a version is printed as such, and the exit status is still 0."
    )

    @OptionGroup var config: ConfigFileOption

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    /// The kube-apiserver `version` reports: where it is and its version, or why there is none.
    struct APIServer: Encodable, Equatable {
        var path: String?
        var version: String?
        var error: String?
        /// Where the name came from: the config file, K8SENV_KUBE_APISERVER or the default.
        var source: String
    }

    struct Output: Encodable {
        var version: String
        var commit: String?
        var swiftVersion: String?
        var buildDate: String?
        var kubeAPIServer: APIServer
    }

    func run() async throws {
        let build = BuildInfo.current
        let apiServer = await Self.apiServer(configFile: config.file)
        switch format {
        case .text:
            print(build.text)
            if let path = apiServer.path, let version = apiServer.version {
                print("kube-apiserver: \(version) (\(path), from \(apiServer.source))")
            } else {
                // Named by the variable: say so, the path alone does not tell where it came from.
                let named = apiServer.source == "K8SENV_KUBE_APISERVER" ? "; from K8SENV_KUBE_APISERVER" : ""
                print("kube-apiserver: none (\(apiServer.error ?? "unknown")\(named))")
            }
        case .json:
            printJSON(
                Output(
                    version: build.version, commit: build.commit, swiftVersion: build.swiftVersion,
                    buildDate: build.buildDate, kubeAPIServer: apiServer))
        }
    }

    /// Finds the kube-apiserver as `up` would: the config's `binaries.kubeAPIServer` when the
    /// file exists and loads, else `${K8SENV_KUBE_APISERVER:-kube-apiserver}`; then reads its version.
    static func apiServer(configFile: String, environment: [String: String] = ProcessInfo.processInfo.environment) async
        -> APIServer
    {
        var name = environment["K8SENV_KUBE_APISERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? "kube-apiserver"
        var source =
            environment["K8SENV_KUBE_APISERVER"].flatMap { $0.isEmpty ? nil : "K8SENV_KUBE_APISERVER" } ?? "PATH"
        var directory = "."
        if FileManager.default.fileExists(atPath: configFile) {
            do throws(Diagnostics) {
                let config = try ConfigLoader(variables: environment).load(configFile)
                (name, source, directory) = (config.binaries.kubeAPIServer, configFile, config.directory)
            } catch {
                return APIServer(
                    error: "\(configFile) is not valid (k8senv validate -f \(configFile) says why)", source: configFile)
            }
        }
        let path: String
        do throws(ProcessError) {
            path = try BinaryLocator.locate(
                name, role: "binaries.kubeAPIServer", relativeTo: directory, path: environment["PATH"])
        } catch {
            return APIServer(error: error.message, source: source)
        }
        do throws(ProcessError) {
            return APIServer(path: path, version: try await BinaryVersion.read(path).text, source: source)
        } catch {
            return APIServer(path: path, error: error.message, source: source)
        }
    }
}
