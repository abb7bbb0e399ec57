/// `controllers` of an environment: which kube-controller-manager controllers run beside each
/// of its instances. See docs/reference/configuration.md and docs/how-to/test-controllers.md.
package enum ControllerSelection: Sendable, Hashable {
    /// `controllers: default`: ``ControllerSelection/defaultSet``, those of it the binary has.
    case defaultSet(SourceLocation)
    /// A list of controller names, each where it was written; empty: none run.
    case names([Name], SourceLocation)

    /// One name of the list, where it was written.
    package struct Name: Sendable, Hashable {
        package var name: String
        package var location: SourceLocation

        package init(name: String, location: SourceLocation) {
            self.name = name
            self.location = location
        }
    }

    /// The controllers `default` stands for: those that need no nodes, no cloud provider and no
    /// signing keys other than the instance's service-account key, so they do on a lone
    /// kube-apiserver what they do in a cluster (namespaces and owners cleaned up, workloads
    /// scaled into Pods that stay Pending, service accounts with their tokens, quotas counted).
    /// Left out: node, volume-attachment and cloud controllers (nodelifecycle, nodeipam, route,
    /// service, attachdetach, persistentvolume-binder, persistentvolume-expander, ttl), podgc
    /// (deletes Pods bound to Nodes that do not exist), daemonset (needs Nodes),
    /// horizontalpodautoscaling (needs metrics), the CSR and bootstrap-token controllers.
    package static let defaultSet = [
        "namespace", "garbagecollector", "serviceaccount", "serviceaccount-token", "clusterrole-aggregation",
        "resourcequota", "deployment", "replicaset", "replicationcontroller", "statefulset", "job", "cronjob",
        "endpoint", "endpointslice", "endpointslicemirroring", "disruption", "root-ca-cert-publisher",
        "pvc-protection", "pv-protection",
    ]

    /// From a schema-valid value: the string `default`, or a list of names.
    init?(_ value: YAMLValue) {
        if value.string == "default" {
            self = .defaultSet(value.location)
        } else if let items = value.items {
            self = .names(
                items.compactMap { item in item.string.map { Name(name: $0, location: item.location) } }, value.location
            )
        } else {
            return nil
        }
    }

    /// Where `controllers` was written.
    package var location: SourceLocation {
        switch self {
        case .defaultSet(let location), .names(_, let location): return location
        }
    }

    /// Whether no controller runs (`controllers: []`).
    package var isEmpty: Bool {
        if case .names(let names, _) = self { return names.isEmpty }
        return false
    }

    /// The names to run: the list as written (duplicates dropped), or `default`'s set limited to
    /// `available` (a binary's own list; nil: all of the set).
    package func resolved(available: [String]?) -> [String] {
        switch self {
        case .defaultSet:
            guard let available else { return Self.defaultSet }
            let known = Set(available)
            return Self.defaultSet.filter(known.contains)
        case .names(let names, _):
            var seen = Set<String>()
            return names.map(\.name).filter { seen.insert($0).inserted }
        }
    }
}

extension Config {
    /// The `controllers` of an environment: its own, else the nearest one of those it extends;
    /// nil when none says (then no kube-controller-manager runs).
    package func controllers(of environment: String) -> ControllerSelection? {
        var seen = Set<String>()
        var current = self.environment(named: environment)
        while let e = current, seen.insert(e.name).inserted {
            if let controllers = e.controllers { return controllers }
            current = e.extends.flatMap { self.environment(named: $0) }
        }
        return nil
    }

    /// Whether some environment runs controllers (then `binaries.kubeControllerManager` is needed):
    /// one whose own `controllers` name some (any that inherits them has them from such a one).
    package var usesControllers: Bool {
        environments.contains { $0.controllers.map { !$0.isEmpty } ?? false }
    }
}
