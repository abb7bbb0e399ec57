/// The storage behind kube-apiserver.
package enum StorageKind: String, Sendable, CaseIterable {
    /// k8senv's own etcd v3 store (K8sEnvStore), served in the k8senv process.
    case embedded
    case etcd
    case kine
}

/// A path as written in the config, resolved against the config file's folder.
package struct PathReference: Sendable, Hashable {
    /// As written (after `${}` expansion).
    package var written: String
    /// Where it was written.
    package var location: SourceLocation
    /// The key it was written under, e.g. `environments.base.crds[0]`.
    package var keyPath: String

    package init(written: String, location: SourceLocation, keyPath: String) {
        self.written = written
        self.location = location
        self.keyPath = keyPath
    }
}

/// One entry of `apiServer.featureGates` or `apiServer.runtimeConfig`: a name turned on or off.
package struct APIServerSwitch: Sendable, Hashable {
    /// A feature gate (`APIPriorityAndFairness`) or an API (`batch/v1beta1`, `api/alpha`).
    package var name: String
    package var enabled: Bool
    /// Where the name was written.
    package var location: SourceLocation

    package init(name: String, enabled: Bool, location: SourceLocation) {
        self.name = name
        self.enabled = enabled
        self.location = location
    }
}

extension [APIServerSwitch] {
    /// Name to on/off.
    package var values: [String: Bool] {
        Dictionary(map { ($0.name, $0.enabled) }, uniquingKeysWith: { _, last in last })
    }
}

/// `apiServer.authorization`: kube-apiserver's `--authorization-mode`.
package enum AuthorizationMode: String, Sendable, CaseIterable {
    /// Role-based access control: a user may do what Roles and ClusterRoles bound to it (or to
    /// one of its groups) allow; `system:masters` (k8senv's admin) may do everything.
    case rbac = "RBAC"
    /// Every authenticated request is allowed (k8senv's default without `users`: the fastest).
    case alwaysAllow = "AlwaysAllow"
}

/// One entry of `users`: a user every instance authenticates with a bearer token of its own.
package struct ConfigUser: Sendable, Hashable {
    package var name: String
    /// In the order written; may be empty.
    package var groups: [String]
    /// Where the name was written.
    package var location: SourceLocation

    package init(name: String, groups: [String], location: SourceLocation) {
        self.name = name
        self.groups = groups
        self.location = location
    }
}

/// A validated k8senv.yaml with the chosen profile applied and defaults filled in.
package struct Config: Sendable {
    package struct Binaries: Sendable, Hashable {
        package var kubeAPIServer: String = "kube-apiserver"
        package var etcd: String = "etcd"
        package var etcdctl: String = "etcdctl"
        package var kine: String = "kine"
        /// Resolved only when an environment runs `controllers`.
        package var kubeControllerManager: String = "kube-controller-manager"
        /// The keys (`kubeAPIServer`, …) whose value is the whole of one `${VAR}` of the user's
        /// environment, set and not empty: the user named that program, not the file.
        package var givenByEnvironment: Set<String> = []

        /// For each key, the variable a file reads it from as `init` writes it
        /// (`kubeAPIServer: ${K8SENV_KUBE_APISERVER:-kube-apiserver}`) and the program's name:
        /// what a message tells the user to set or install.
        package static let variables: [String: (variable: String, program: String)] = [
            "kubeAPIServer": ("K8SENV_KUBE_APISERVER", "kube-apiserver"),
            "etcd": ("K8SENV_ETCD", "etcd"),
            "etcdctl": ("K8SENV_ETCDCTL", "etcdctl"),
            "kine": ("K8SENV_KINE", "kine"),
            "kubeControllerManager": ("K8SENV_KUBE_CONTROLLER_MANAGER", "kube-controller-manager"),
        ]
    }

    package struct Timeouts: Sendable, Hashable {
        package var start = GoDuration(seconds: 60)
        package var stop = GoDuration(seconds: 10)
        package var acquire = GoDuration(seconds: 30)
        package var crds = GoDuration(seconds: 60)
        package var seeds = GoDuration(seconds: 120)
    }

    package struct SeedSet: Sendable, Hashable {
        package var name: String
        package var location: SourceLocation
        package var dependsOn: [String]
        package var dependsOnLocations: [SourceLocation]
        package var manifests: [PathReference]
    }

    package struct Environment: Sendable, Hashable {
        package var name: String
        package var location: SourceLocation
        package var extends: String?
        package var extendsLocation: SourceLocation?
        package var poolSize: Int = 4
        package var crds: [PathReference] = []
        package var seeds: [SeedSet] = []
        /// `webhooks`: files or folders of Validating/MutatingWebhookConfigurations, applied to
        /// each instance after it starts (never kept in the snapshot), pointed at the run's
        /// webhook address and CA. See docs/explanation/webhooks.md.
        package var webhooks: [PathReference] = []
        /// `webhookPort`: where the test's webhook server listens on 127.0.0.1; nil: a free port
        /// k8senv picks for the run (or the one of the environment this one extends).
        package var webhookPort: Int?
        /// `audit`: this environment's own audit settings (else the top-level ones).
        package var audit: AuditSettings?
        /// `controllers` as written here; nil when absent (then the one of the environment this
        /// one extends: see ``Config/controllers(of:)``).
        package var controllers: ControllerSelection?
    }

    /// A config with every default, of the file `file` in the folder `directory`.
    init(file: String, directory: String) {
        self.file = file
        self.directory = directory
    }

    /// The config file as the user named it (used in messages).
    package var file: String
    /// The folder relative paths resolve against, as the user would write it ("." for the current one).
    package var directory: String
    /// The profile applied, if any.
    package var profile: String?
    package var binaries = Binaries()
    package var storage: StorageKind = .embedded
    package var timeouts = Timeouts()
    /// Where each timeout was written, by key (`start`, …).
    package var timeoutLocations: [String: SourceLocation] = [:]
    package var apiServerExtraArgs: [String] = []
    /// Where each `apiServer.extraArgs` item was written, in order.
    package var apiServerExtraArgLocations: [SourceLocation] = []
    /// `apiServer.featureGates`, sorted by name.
    package var apiServerFeatureGates: [APIServerSwitch] = []
    /// `apiServer.runtimeConfig`, sorted by name.
    package var apiServerRuntimeConfig: [APIServerSwitch] = []
    /// Where the keys `featureGates`, `runtimeConfig` and `authorization` under `apiServer` were written.
    package var apiServerKeyLocations: [String: SourceLocation] = [:]
    /// `apiServer.authorization` as written; nil when absent (see ``authorization``).
    package var apiServerAuthorization: AuthorizationMode?
    /// `users`, in the order of the file.
    package var users: [ConfigUser] = []
    /// `audit` at the top level: every environment's instances write an audit log, unless the
    /// environment has its own `audit`. See ``audit(for:)``.
    package var audit: AuditSettings?
    /// `postmortem`: the bundles `k8senv run` writes of the instances a failed command used.
    package var postmortem: PostmortemSettings?

    /// The authorization mode instances run with: `apiServer.authorization` when written, else
    /// RBAC when `users` are declared (so that they are not all-powerful), else AlwaysAllow.
    package var authorization: AuthorizationMode {
        apiServerAuthorization ?? (users.isEmpty ? .alwaysAllow : .rbac)
    }
    /// In the order of the file.
    package var environments: [Environment] = [] {
        didSet { environmentIndex = Self.index(environments) }
    }
    /// Each environment's position in `environments` by name (the first of a name): a lookup by
    /// name costs one hash, so what walks `extends` stays linear in the number of environments.
    private var environmentIndex: [String: Int] = [:]
    /// Every profile the file defines, in order.
    package var profileNames: [String] = []
    /// `kubeVersion`: the release `binaries.kubeAPIServer` must report; nil when not declared.
    package var kubeVersion: String?
    /// Where `kubeVersion` was written (in the file or in the profile).
    package var kubeVersionLocation: SourceLocation?

    /// Nil when the config has the environment `name`; otherwise what to tell the user: `no
    /// environment "x"; did you mean "y"?` (the one wording of `up -e`, `hash -e` and pools).
    package func unknownEnvironment(_ name: String) -> String? {
        environment(named: name) == nil
            ? "no environment \"\(name)\"\(Suggestions.didYouMean(name, in: environments.map(\.name)))" : nil
    }

    package func environment(named name: String) -> Environment? {
        environmentIndex[name].map { environments[$0] }
    }

    /// The position of environment `name` in ``environments``.
    package func index(ofEnvironment name: String) -> Int? {
        environmentIndex[name]
    }

    private static func index(_ environments: [Environment]) -> [String: Int] {
        var index: [String: Int] = [:]
        for (i, environment) in environments.enumerated() where index[environment.name] == nil {
            index[environment.name] = i
        }
        return index
    }
}
