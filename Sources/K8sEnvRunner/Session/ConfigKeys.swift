import K8sEnvSpec

/// Every environment's cache key as `up` would compute it, without starting anything (`k8senv
/// hash`, `cache export`, `cache import -f`): the config planned as `up` plans it
/// (``Lifecycle/plan(_:files:)``) and keyed by the same ``CacheKey/compute(_:apiServerVersion:files:)``.
package struct ConfigKeys: Sendable {
    /// The kube-apiserver version the keys include.
    package var kubeAPIServerVersion: String
    /// Environment name to key.
    package var keys: [String: String]
    /// Every environment of the plan, parents first.
    package var order: [String]

    /// - Parameters:
    ///   - environments: names that must be environments of the config (none: no check).
    ///   - apiServerVersion: the version to key on; nil reads `kube-apiserver --version`, only if
    ///     `probe` lets it run. When it may not, there is no key to give: the version is part of
    ///     it, and a key without it would silently differ from `up`'s.
    /// - Throws: ``K8sEnvError`` for an invalid config, an unknown environment, a binary whose
    ///   version cannot be read or that may not be run, or a version that is not the config's
    ///   `kubeVersion`.
    package static func compute(
        file: String, profile: String?, environments: [String] = [], apiServerVersion: String?,
        probe: BinaryProbe
    ) async throws(K8sEnvError) -> ConfigKeys {
        let files = SourceFiles()
        let plan = try Lifecycle.plan(
            Lifecycle.Options(
                file: file, profile: profile, environments: environments,
                stateDirectory: nil, quiet: true), files: files)
        let config = plan.config
        let version: String
        let source: String
        if let apiServerVersion {
            (version, source) = (apiServerVersion, "--apiserver-version")
        } else {
            do throws(ProcessError) {
                let binary = try probe.locate("kubeAPIServer", config.binaries.kubeAPIServer, in: config)
                (version, source) = (try await BinaryVersion.read(binary).text, binary)
            } catch {
                if error.code == .notProbed {
                    throw K8sEnvError(
                        .binaryNotFound,
                        "\(error.message)\nThe cache key includes the kube-apiserver version: give it with --apiserver-version VERSION, or let k8senv run the program with --probe-binaries.",
                        cause: error)
                }
                throw K8sEnvError(error)
            }
        }
        if let mismatch = config.kubeVersionMismatch(reported: version, by: source) {
            throw K8sEnvError(ProcessError(.unexpectedOutput, mismatch, domain: .binary))
        }
        do throws(Diagnostic) {
            return ConfigKeys(
                kubeAPIServerVersion: version,
                keys: try CacheKey.compute(plan, apiServerVersion: version, files: files),
                order: plan.environments.map(\.name))
        } catch {
            throw K8sEnvError(.invalidConfig, error, files: files)
        }
    }
}
