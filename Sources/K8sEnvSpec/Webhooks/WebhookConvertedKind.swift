/// A kind whose CRD converts between versions through a webhook (`spec.conversion.strategy:
/// Webhook`), and the version it is stored in.
///
/// kube-apiserver calls the conversion webhook whenever an object is written or read in a version
/// other than the stored one. While k8senv builds a snapshot no webhook server runs (the test
/// starts it later), so seeds of such a kind must be written in the storage version.
package struct WebhookConvertedKind: Sendable {
    package var group: String
    package var kind: String
    package var storageVersion: String
    /// The CRD that declares it.
    package var crd: ManifestObject

    /// Nil unless `crd` is a CRD that converts through a webhook and names its storage version.
    package init?(_ crd: ManifestObject) {
        guard crd.kind == "CustomResourceDefinition", crd.apiVersion.hasPrefix("apiextensions.k8s.io/"),
            let spec = crd.node["spec"], spec["conversion"]?["strategy"]?.resolvedText == "Webhook",
            let group = spec["group"]?.resolvedText, let kind = spec["names"]?["kind"]?.resolvedText
        else { return nil }
        var storage: String?
        for version in spec["versions"]?.items ?? [] where version["storage"]?.resolvedText == "true" {
            storage = version["name"]?.resolvedText
        }
        // v1beta1 with a single `version`: that one is stored.
        guard let storageVersion = storage ?? spec["version"]?.resolvedText else { return nil }
        self.group = group
        self.kind = kind
        self.storageVersion = storageVersion
        self.crd = crd
    }

    /// Why `object` cannot be a seed (it is of this kind, written in another version), or nil.
    package func problem(with object: ManifestObject) -> Diagnostic? {
        let parts = object.apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        guard object.kind == kind, parts.count == 2, parts[0] == group, parts[1] != storageVersion else { return nil }
        return Diagnostic(
            .manifest, at: object.node["apiVersion"]?.location ?? object.location,
            "\(object.kind) \(object.quotedName) is written in \(object.apiVersion), but CustomResourceDefinition \"\(crd.name)\" (\(crd.location)) stores \(group)/\(storageVersion) and converts other versions through a webhook, which does not run while k8senv builds the snapshot; write this seed in \(group)/\(storageVersion)"
        )
    }
}

extension YAMLNode {
    /// A scalar's text as resolved (`true`, `v1`), or nil for a collection or an error.
    var resolvedText: String? {
        guard kind == .scalar, let value = try? resolved() else { return nil }
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }
}
