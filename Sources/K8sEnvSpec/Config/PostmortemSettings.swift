import Foundation

/// `postmortem:`: what `k8senv run` keeps of the instances its command used
/// (docs/explanation/postmortem.md). `k8senv run --postmortem DIR` turns it on for one run.
package struct PostmortemSettings: Sendable, Hashable {
    /// When bundles are written.
    package enum When: String, Sendable, Hashable, Codable {
        /// The command exited non-zero, was ended by a signal, or an instance failed under it.
        case failure
        /// After every command.
        case always
    }

    /// The folder the bundles are written to (absolute: joined to the config's folder); nil:
    /// only a run given `--postmortem DIR` writes bundles.
    package var dir: String?
    package var when: When
    /// `maxSize` as written (`256Mi`, `1G`, bytes); nil: the default.
    package var maxSize: String?

    package init(dir: String?, when: When = .failure, maxSize: String? = nil) {
        self.dir = dir
        self.when = when
        self.maxSize = maxSize
    }
}

extension ConfigDecoder {
    /// `postmortem:` at the top level; the schema has checked its keys and values.
    static func decodePostmortem(_ root: YAMLValue, directory: String) -> PostmortemSettings? {
        guard let postmortem = root["postmortem"] else { return nil }
        let path = postmortem["dir"]?.string.map { $0.hasPrefix("/") ? $0 : ManifestFiles.join(directory, $0) }
        return PostmortemSettings(
            dir: path, when: postmortem["when"]?.string.flatMap(PostmortemSettings.When.init(rawValue:)) ?? .failure,
            maxSize: postmortem["maxSize"]?.string)
    }
}

extension Config {
    /// The config `k8senv open` runs a bundle with: every default,
    /// the programs named by `K8SENV_KUBE_APISERVER`, `K8SENV_ETCD` and `K8SENV_KINE` when set (as the scaffold of `k8senv init` writes them), else found on PATH.
    /// One environment, `environment`, of one instance, with no CRDs or seeds (they are in the
    /// bundle's store).
    package static func forOpening(
        storage: StorageKind, environment: String, directory: String,
        variables: [String: String] = ProcessInfo.processInfo.environment
    ) -> Config {
        var config = Config(file: "(k8senv open)", directory: directory)
        config.storage = storage
        var opened = Environment(name: environment, location: SourceLocation(file: config.file, mark: nil))
        opened.poolSize = 1
        config.environments = [opened]
        func pick(_ variable: String, _ key: String, _ fallback: String) -> String {
            guard let value = variables[variable], !value.isEmpty else { return fallback }
            config.binaries.givenByEnvironment.insert(key)
            return value
        }
        config.binaries.kubeAPIServer = pick("K8SENV_KUBE_APISERVER", "kubeAPIServer", "kube-apiserver")
        config.binaries.etcd = pick("K8SENV_ETCD", "etcd", "etcd")
        config.binaries.kine = pick("K8SENV_KINE", "kine", "kine")
        return config
    }
}
