/// Which object of the API server a manifest object is, however it is spelt: the API group
/// without its version (the groups one resource is served under taken as one), the kind, the
/// namespace after defaulting (`default` for a namespaced object without one; none for a
/// cluster-scoped object, whatever it says) and the name.
///
/// `Namespace team-a` and `Namespace team-a` with `namespace: x`, or `Ingress web` under
/// `extensions/v1beta1` and under `networking.k8s.io/v1`, are one object to the API server:
/// applying both leaves whichever came last.
package struct ObjectIdentity: Hashable, Sendable {
    /// The group without its version (`""` for the core group), canonical among the groups
    /// that serve the same resource.
    package var group: String
    package var kind: String
    /// Nil for a cluster-scoped object.
    package var namespace: String?
    package var name: String

    /// - Parameter scopes: which kinds are cluster-scoped (the built-in ones and the CRDs known).
    package init(_ object: ManifestObject, scopes: ResourceScopes) {
        let group = Self.group(of: object.apiVersion)
        self.group = Self.canonicalGroup(group, kind: object.kind)
        kind = object.kind
        namespace = scopes.isClusterScoped(group: self.group, kind: kind) ? nil : (object.namespace ?? "default")
        name = object.name
    }

    /// `apps/v1` → `apps`; `v1` → `""`.
    package static func group(of apiVersion: String) -> String {
        guard let slash = apiVersion.firstIndex(of: "/") else { return "" }
        return String(apiVersion[..<slash])
    }

    /// The kinds Kubernetes serves under more than one group (the same objects, read and written
    /// through either): to the group they live in now.
    static let sameResource: [String: [String: String]] = [
        "extensions": [
            "Deployment": "apps", "DaemonSet": "apps", "ReplicaSet": "apps",
            "Ingress": "networking.k8s.io", "NetworkPolicy": "networking.k8s.io",
            "PodSecurityPolicy": "policy",
        ],
        "events.k8s.io": ["Event": ""],
    ]

    static func canonicalGroup(_ group: String, kind: String) -> String {
        sameResource[group]?[kind] ?? group
    }

    /// How messages name it: `ConfigMap default/settings`, `Namespace team-a`.
    package var description: String {
        "\(kind) \(namespace.map { $0 + "/" } ?? "")\(name)"
    }
}

/// Which kinds are cluster-scoped: the built-in ones Kubernetes defines, and those of the CRDs
/// an environment has (its own and those it extends, in `crds` or among the seeds), whose
/// `spec.scope` says.
package struct ResourceScopes: Sendable {
    struct GroupKind: Hashable, Sendable {
        var group: String
        var kind: String
    }

    /// From CRDs: true for `scope: Cluster`.
    private var defined: [GroupKind: Bool] = [:]

    package init() {}

    /// Takes the scope of every CustomResourceDefinition among `objects`.
    package mutating func add(_ objects: [ManifestObject]) {
        for object in objects
        where object.kind == "CustomResourceDefinition" && object.apiVersion.hasPrefix("apiextensions.k8s.io/") {
            guard let spec = object.node["spec"], let group = spec["group"]?.resolvedText,
                let kind = spec["names"]?["kind"]?.resolvedText, let scope = spec["scope"]?.resolvedText
            else { continue }
            defined[GroupKind(group: group, kind: kind)] = scope == "Cluster"
        }
    }

    package func isClusterScoped(group: String, kind: String) -> Bool {
        let key = GroupKind(group: group, kind: kind)
        return defined[key] ?? Self.builtInClusterScoped.contains(key)
    }

    /// The cluster-scoped kinds of Kubernetes' own groups (through 1.33), by their canonical
    /// group (``ObjectIdentity``). Any other kind is namespaced unless a CRD says otherwise.
    static let builtInClusterScoped: Set<GroupKind> = {
        let kinds: [String: [String]] = [
            "": ["Namespace", "Node", "PersistentVolume", "ComponentStatus"],
            "rbac.authorization.k8s.io": ["ClusterRole", "ClusterRoleBinding"],
            "apiextensions.k8s.io": ["CustomResourceDefinition"],
            "apiregistration.k8s.io": ["APIService"],
            "admissionregistration.k8s.io": [
                "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
                "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
            ],
            "storage.k8s.io": ["StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass"],
            "scheduling.k8s.io": ["PriorityClass"],
            "node.k8s.io": ["RuntimeClass"],
            "networking.k8s.io": ["IngressClass", "IPAddress", "ServiceCIDR"],
            "policy": ["PodSecurityPolicy"],
            "certificates.k8s.io": ["CertificateSigningRequest", "ClusterTrustBundle"],
            "flowcontrol.apiserver.k8s.io": ["FlowSchema", "PriorityLevelConfiguration"],
            "authentication.k8s.io": ["TokenReview", "SelfSubjectReview"],
            "authorization.k8s.io": ["SubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview"],
            "resource.k8s.io": ["DeviceClass", "ResourceSlice"],
            "storagemigration.k8s.io": ["StorageVersionMigration"],
            "internal.apiserver.k8s.io": ["StorageVersion"],
        ]
        return Set(kinds.flatMap { group, kinds in kinds.map { GroupKind(group: group, kind: $0) } })
    }()
}
