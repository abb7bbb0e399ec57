/// The order objects of one seed set are applied in: Helm's install order by kind, unknown
/// kinds last in alphabetical order, stable within a kind.
package enum ApplyOrder {
    package static let kinds: [String] = [
        "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
        "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
        "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
        "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
        "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
        "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    ]
    static let rank: [String: Int] = Dictionary(uniqueKeysWithValues: kinds.enumerated().map { ($1, $0) })

    package static func sorted(_ objects: [ManifestObject]) -> [ManifestObject] {
        objects.enumerated().sorted { a, b in
            let ra = rank[a.element.kind]
            let rb = rank[b.element.kind]
            switch (ra, rb) {
            case (let x?, let y?) where x != y: return x < y
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil) where a.element.kind != b.element.kind: return a.element.kind < b.element.kind
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }
}
