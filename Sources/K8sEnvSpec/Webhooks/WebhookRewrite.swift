import Foundation

/// Where kube-apiserver calls the webhooks of a run: `https://<host>:<port>`, trusting a CA of
/// k8senv's own.
package struct WebhookTarget: Sendable, Hashable {
    package var host: String
    package var port: Int
    /// PEM of the CA that signed the webhook server's certificate.
    package var caCertificate: String

    package init(host: String, port: Int, caCertificate: String) {
        self.host = host
        self.port = port
        self.caCertificate = caCertificate
    }

    /// `127.0.0.1:9443` (an IPv6 host in brackets).
    package var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `caBundle`: the PEM, base64-encoded.
    package var caBundle: String { Data(caCertificate.utf8).base64EncodedString() }

    /// What `k8senv validate` rewrites with: the checks do not depend on the port or the CA.
    package static let placeholder = WebhookTarget(host: "127.0.0.1", port: 9443, caCertificate: "")
}

/// Points webhook configurations and CRD conversion webhooks at a ``WebhookTarget``, as envtest
/// does: a `service` reference becomes `url: https://<host>:<port><service.path or />`, an `url`
/// keeps its path and query but gets the target's host and port, and `caBundle` is the target's
/// CA. See docs/explanation/webhooks.md.
package enum WebhookRewrite {
    package static let kinds: [String] = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
    package static let apiVersions: [String] = [
        "admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1beta1",
    ]

    /// Whether `object` is one of the objects a `webhooks` entry may hold.
    package static func isWebhookConfiguration(_ object: ManifestObject) -> Bool {
        kinds.contains(object.kind) && apiVersions.contains(object.apiVersion)
    }

    /// The webhook configuration as JSON, each webhook's `clientConfig` pointed at `target`.
    /// - Throws: ``Diagnostics`` at each webhook whose clientConfig cannot be pointed anywhere
    ///   (neither `url` nor `service`, both, an `url` that is not https).
    package static func configuration(_ object: ManifestObject, target: WebhookTarget) throws(Diagnostics) -> [UInt8] {
        var root: YAMLValue
        do { root = try YAMLValue(object.node) } catch { throw Diagnostics([error]) }
        let what = "\(object.kind) \(object.quotedName)"
        guard let webhooks = root["webhooks"] else { return root.json }  // no webhooks: nothing to point
        guard var items = webhooks.items else {
            throw Diagnostics([Diagnostic(.manifest, at: webhooks.location, "\(what): webhooks must be a list")])
        }
        var errors: [Diagnostic] = []
        for i in items.indices {
            let keyPath = "webhooks[\(i)].clientConfig"
            guard items[i].entries != nil, let clientConfig = items[i]["clientConfig"] else {
                errors.append(
                    Diagnostic(
                        .manifest, at: items[i].location,
                        "\(what): \(keyPath) is missing; give a service or an url (k8senv points either at the test's webhook server)"
                    ))
                continue
            }
            do {
                items[i].set(
                    "clientConfig", try self.clientConfig(clientConfig, keyPath: keyPath, of: what, target: target))
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw Diagnostics(errors) }
        root.set("webhooks", YAMLValue(.sequence(items), at: webhooks.location))
        return root.json
    }

    /// A CRD's conversion webhook, if it converts through one (`spec.conversion.strategy: Webhook`).
    package struct Conversion: Sendable {
        /// `apiextensions.k8s.io/v1` or `v1beta1`: the path of the patch.
        package var apiVersion: String
        package var name: String
        /// A JSON merge patch that points the CRD's conversion webhook at the target (and drops
        /// its `service`).
        package var patch: [UInt8]
    }

    /// The patch that points `crd`'s conversion webhook at `target`; nil when the CRD converts
    /// without a webhook (or is not a CRD).
    /// - Throws: a ``Diagnostic`` when the CRD asks for a webhook but gives no clientConfig that
    ///   can be pointed anywhere.
    package static func conversion(_ crd: ManifestObject, target: WebhookTarget) throws(Diagnostic) -> Conversion? {
        guard crd.kind == "CustomResourceDefinition", crd.apiVersion.hasPrefix("apiextensions.k8s.io/") else {
            return nil
        }
        let root = try YAMLValue(crd.node)
        guard let conversion = root["spec"]?["conversion"], conversion["strategy"]?.string == "Webhook" else {
            return nil
        }
        let v1 = crd.apiVersion == "apiextensions.k8s.io/v1"
        let keyPath = v1 ? "spec.conversion.webhook.clientConfig" : "spec.conversion.webhookClientConfig"
        let what = "CustomResourceDefinition \(crd.quotedName)"
        guard let clientConfig = v1 ? conversion["webhook"]?["clientConfig"] : conversion["webhookClientConfig"] else {
            throw Diagnostic(
                .manifest, at: conversion.location,
                "\(what): spec.conversion.strategy is Webhook but \(keyPath) is missing; give a service or an url (k8senv points either at the test's webhook server)"
            )
        }
        var rewritten = try self.clientConfig(clientConfig, keyPath: keyPath, of: what, target: target)
        // A merge patch: the service the stored CRD has goes (url and service exclude each other).
        if clientConfig["service"] != nil { rewritten.set("service", YAMLValue(.null, at: clientConfig.location)) }
        let at = clientConfig.location
        func mapping(_ key: String, _ value: YAMLValue) -> YAMLValue {
            YAMLValue(.mapping([YAMLValue.Entry(key: key, keyLocation: at, value: value)]), at: at)
        }
        let inner =
            v1 ? mapping("webhook", mapping("clientConfig", rewritten)) : mapping("webhookClientConfig", rewritten)
        return Conversion(
            apiVersion: crd.apiVersion, name: crd.name, patch: mapping("spec", mapping("conversion", inner)).json)
    }

    /// A `clientConfig` (of a webhook, or of a CRD's conversion) pointed at `target`.
    /// - Parameters:
    ///   - keyPath: where it is in its object, for messages (`webhooks[0].clientConfig`).
    ///   - what: the object, for messages (`ValidatingWebhookConfiguration "deny"`).
    package static func clientConfig(
        _ value: YAMLValue, keyPath: String, of what: String,
        target: WebhookTarget
    ) throws(Diagnostic) -> YAMLValue {
        guard value.entries != nil else {
            throw Diagnostic(
                .manifest, at: value.location, "\(what): \(keyPath) must be a mapping with a service or an url")
        }
        let url: String
        switch (value["service"], value["url"]) {
        case (.some, .some):
            throw Diagnostic(
                .manifest, at: value.location, "\(what): \(keyPath) has both a service and an url; give one")
        case (let service?, nil):
            var path = "/"
            if let written = service["path"] {
                guard let text = written.string, text.hasPrefix("/") else {
                    throw Diagnostic(
                        .manifest, at: written.location,
                        "\(what): \(keyPath).service.path must be a path starting with /")
                }
                path = text
            }
            url = "https://" + target.authority + path
        case (nil, let written?):
            guard let text = written.string, text.lowercased().hasPrefix("https://") else {
                throw Diagnostic(
                    .manifest, at: written.location,
                    "\(what): \(keyPath).url must start with https:// (kube-apiserver calls webhooks over TLS)")
            }
            let rest = text.dropFirst("https://".count)
            let end = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
            url = "https://" + target.authority + rest[end...]
        case (nil, nil):
            throw Diagnostic(
                .manifest, at: value.location,
                "\(what): \(keyPath) has neither a service nor an url; give one (k8senv points either at the test's webhook server)"
            )
        }
        let at = value.location
        var result = value
        result.remove("service")
        result.remove("url")
        result.remove("caBundle")
        result.set("url", YAMLValue(.string(url), at: at))
        result.set("caBundle", YAMLValue(.string(target.caBundle), at: at))
        return result
    }
}

extension YAMLValue {
    /// Sets `key` of a mapping (in place when present, else at the end).
    mutating func set(_ key: String, _ value: YAMLValue) {
        var entries = self.entries ?? []
        if let i = entries.firstIndex(where: { $0.key == key }) {
            entries[i].value = value
        } else {
            entries.append(Entry(key: key, keyLocation: value.location, value: value))
        }
        content = .mapping(entries)
    }

    /// Removes `key` of a mapping, if present.
    mutating func remove(_ key: String) {
        guard var entries = self.entries else { return }
        entries.removeAll { $0.key == key }
        content = .mapping(entries)
    }
}
