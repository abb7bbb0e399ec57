import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// A validating webhook configuration with one webhook per clientConfig given (YAML flow mappings).
func webhookConfiguration(
    _ clientConfigs: [String], kind: String = "ValidatingWebhookConfiguration",
    apiVersion: String = "admissionregistration.k8s.io/v1"
) -> String {
    var text = "apiVersion: \(apiVersion)\nkind: \(kind)\nmetadata:\n  name: checks\nwebhooks:\n"
    for (i, clientConfig) in clientConfigs.enumerated() {
        text += """
              - name: check\(i).example.com
                admissionReviewVersions: [v1]
                sideEffects: None
                failurePolicy: Fail
                clientConfig: \(clientConfig)
                rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]

            """
    }
    return text
}

/// A CRD that stores v1, serves v1 and v2, and converts through a webhook.
func conversionCRD(
    apiVersion: String = "apiextensions.k8s.io/v1",
    clientConfig: String = "{service: {namespace: system, name: webhooks, path: /convert}}"
) -> String {
    if apiVersion.hasSuffix("v1beta1") {
        return """
            apiVersion: apiextensions.k8s.io/v1beta1
            kind: CustomResourceDefinition
            metadata: {name: gizmos.example.com}
            spec:
              group: example.com
              names: {kind: Gizmo, plural: gizmos}
              scope: Namespaced
              versions: [{name: v1, served: true, storage: true}, {name: v2, served: true, storage: false}]
              conversion:
                strategy: Webhook
                conversionReviewVersions: [v1beta1]
                webhookClientConfig: \(clientConfig)

            """
    }
    return """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: gizmos.example.com}
        spec:
          group: example.com
          names: {kind: Gizmo, plural: gizmos}
          scope: Namespaced
          versions:
            - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
            - {name: v2, served: true, storage: false, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
          conversion:
            strategy: Webhook
            webhook:
              conversionReviewVersions: [v1]
              clientConfig: \(clientConfig)

        """
}

/// The objects of a manifest text, as k8senv reads them.
func objects(_ text: String, in folder: TemporaryFolder, name: String = "manifest.yaml") throws -> [ManifestObject] {
    let path = try folder.write(name, text)
    return try Manifests.read(ManifestFile(relativePath: name, displayPath: path, path: path), files: SourceFiles())
}

func jsonObject(_ bytes: [UInt8]) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

let testTarget = WebhookTarget(
    host: "127.0.0.1", port: 40123, caCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")

@Suite("Webhooks: clientConfig rewrite, validation, cache key", .tags(.fast))
struct WebhookTests {
    // MARK: The rewrite

    @Test(
        "a service reference becomes an url to the target with the service's path (/ without one); an url keeps its path and query, gets the target's host and port; caBundle is the target's CA"
    )
    func clientConfigRewrite() throws {
        try TemporaryFolder.with { folder in
            let text = webhookConfiguration([
                "{service: {namespace: system, name: webhook-service, path: /validate-v1-configmap, port: 443}}",
                "{service: {namespace: system, name: webhook-service}}",
                "{url: \"https://webhook.example.com:8443/mutate?x=1\", caBundle: b2xk}",
                "{url: \"https://10.0.0.1\"}",
            ])
            let object = try #require(try objects(text, in: folder).first)
            let json = try jsonObject(try WebhookRewrite.configuration(object, target: testTarget))
            let webhooks = try #require(json["webhooks"] as? [[String: Any]])
            let configs = webhooks.map { $0["clientConfig"] as? [String: Any] ?? [:] }
            #expect(
                configs.map { $0["url"] as? String } == [
                    "https://127.0.0.1:40123/validate-v1-configmap", "https://127.0.0.1:40123/",
                    "https://127.0.0.1:40123/mutate?x=1", "https://127.0.0.1:40123",
                ])
            #expect(configs.allSatisfy { $0["service"] == nil })
            let caBundle = Data(testTarget.caCertificate.utf8).base64EncodedString()
            #expect(configs.allSatisfy { $0["caBundle"] as? String == caBundle })
            #expect(
                Data(base64Encoded: caBundle).map { String(decoding: $0, as: UTF8.self) } == testTarget.caCertificate)
            // Everything else is as written.
            #expect(
                webhooks.map { $0["name"] as? String } == [
                    "check0.example.com", "check1.example.com", "check2.example.com", "check3.example.com",
                ])
            #expect(webhooks.allSatisfy { $0["failurePolicy"] as? String == "Fail" && $0["rules"] != nil })
            #expect((json["metadata"] as? [String: Any])?["name"] as? String == "checks")
        }
    }

    @Test(
        "a clientConfig that cannot be pointed anywhere is an error at its position, naming the object and the field",
        arguments: [
            ("{service: {name: a}, url: \"https://a/b\"}", "has both a service and an url; give one", 10, 19),
            ("{caBundle: b2xk}", "has neither a service nor an url; give one", 10, 19),
            ("{url: \"http://plain.example.com/x\"}", "clientConfig.url must start with https://", 10, 25),
            (
                "{service: {name: a, path: validate}}", "clientConfig.service.path must be a path starting with /", 10,
                45
            ),
        ])
    func clientConfigErrors(clientConfig: String, message: String, line: Int, column: Int) throws {
        try TemporaryFolder.with { folder in
            let object = try #require(try objects(webhookConfiguration([clientConfig]), in: folder).first)
            #expect {
                try WebhookRewrite.configuration(object, target: testTarget)
            } throws: { error in
                guard let item = (error as? Diagnostics)?.items.first else { return false }
                return item.message.hasPrefix("ValidatingWebhookConfiguration \"checks\": webhooks[0].")
                    && item.message.contains(message) && item.location.mark == Mark(line: line, column: column)
            }
        }
    }

    @Test(
        "a CRD converting through a webhook gets a merge patch of its conversion clientConfig (the service dropped); v1beta1's webhookClientConfig too; other CRDs none"
    )
    func conversionRewrite() throws {
        try TemporaryFolder.with { folder in
            let v1 = try #require(try objects(conversionCRD(), in: folder, name: "v1.yaml").first)
            let conversion = try #require(try WebhookRewrite.conversion(v1, target: testTarget))
            #expect(conversion.apiVersion == "apiextensions.k8s.io/v1" && conversion.name == "gizmos.example.com")
            let patch = try jsonObject(conversion.patch)
            let clientConfig =
                ((((patch["spec"] as? [String: Any])?["conversion"] as? [String: Any])?["webhook"] as? [String: Any])?[
                    "clientConfig"] as? [String: Any]) ?? [:]
            #expect(clientConfig["url"] as? String == "https://127.0.0.1:40123/convert")
            #expect(clientConfig["caBundle"] as? String == testTarget.caBundle)
            #expect(
                clientConfig.keys.contains("service") && clientConfig["service"] is NSNull,
                "a merge patch removes the stored service: \(clientConfig)")
            #expect(
                patch.count == 1 && (patch["spec"] as? [String: Any])?.count == 1,
                "the patch touches only the conversion: \(patch)")

            let urlCRD = try #require(
                try objects(
                    conversionCRD(clientConfig: "{url: \"https://convert.example.com:9443/c\"}"), in: folder,
                    name: "url.yaml"
                ).first)
            let urlPatch = try jsonObject(try #require(try WebhookRewrite.conversion(urlCRD, target: testTarget)).patch)
            let urlConfig =
                ((((urlPatch["spec"] as? [String: Any])?["conversion"] as? [String: Any])?["webhook"] as? [String: Any])?[
                    "clientConfig"] as? [String: Any]) ?? [:]
            #expect(urlConfig["url"] as? String == "https://127.0.0.1:40123/c" && urlConfig["service"] == nil)

            let beta = try #require(
                try objects(conversionCRD(apiVersion: "apiextensions.k8s.io/v1beta1"), in: folder, name: "beta.yaml")
                    .first)
            let betaConversion = try #require(try WebhookRewrite.conversion(beta, target: testTarget))
            #expect(betaConversion.apiVersion == "apiextensions.k8s.io/v1beta1")
            let betaConfig =
                (((try jsonObject(betaConversion.patch)["spec"] as? [String: Any])?["conversion"] as? [String: Any])?[
                    "webhookClientConfig"] as? [String: Any]) ?? [:]
            #expect(betaConfig["url"] as? String == "https://127.0.0.1:40123/convert")

            let plain = try #require(try objects(crdText, in: folder, name: "plain.yaml").first)
            #expect(try WebhookRewrite.conversion(plain, target: testTarget) == nil)
        }
    }

    // MARK: validate

    @Test(
        "a webhooks entry holding another kind is an error in that file at its kind; another apiVersion at the apiVersion"
    )
    func wrongKind() throws {
        try TemporaryFolder.with { folder in
            try folder.write(
                "webhooks/all.yaml",
                webhookConfiguration(["{service: {name: a}}"]) + "---\n" + manifest("ConfigMap", "settings")
                    + "---\n"
                    + webhookConfiguration(
                        ["{service: {name: a}}"], kind: "MutatingWebhookConfiguration",
                        apiVersion: "admissionregistration.k8s.io/v2"))
            let path = try folder.config("environments:\n  base: {webhooks: [webhooks/]}\n")
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"v1 ConfigMap "settings" is not a ValidatingWebhookConfiguration or MutatingWebhookConfiguration; a webhooks entry holds only those (put other objects in a seed set)"#,
                    #"MutatingWebhookConfiguration "checks" has apiVersion admissionregistration.k8s.io/v2; a webhooks entry takes admissionregistration.k8s.io/v1 or admissionregistration.k8s.io/v1beta1"#,
                ])
            #expect(errors.map(\.location.file) == [folder("webhooks/all.yaml"), folder("webhooks/all.yaml")])
            #expect(errors.map(\.location.mark) == [Mark(line: 14, column: 7), Mark(line: 17, column: 13)])
            #expect(errors.allSatisfy { $0.code == .manifest })
        }
    }

    @Test(
        "a webhook without a usable clientConfig, and a conversion webhook without one, are errors before anything starts"
    )
    func unusableClientConfig() throws {
        try TemporaryFolder.with { folder in
            try folder.write("webhooks/checks.yaml", webhookConfiguration(["{caBundle: b2xk}"]))
            try folder.write("crds/gizmos.yaml", conversionCRD(clientConfig: "{url: \"http://x/convert\"}"))
            let path = try folder.config("environments:\n  base: {crds: [crds/], webhooks: [webhooks/checks.yaml]}\n")
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"CustomResourceDefinition "gizmos.example.com": spec.conversion.webhook.clientConfig.url must start with https:// (kube-apiserver calls webhooks over TLS)"#,
                    #"ValidatingWebhookConfiguration "checks": webhooks[0].clientConfig has neither a service nor an url; give one (k8senv points either at the test's webhook server)"#,
                ])
            #expect(errors.map(\.location.file) == [folder("crds/gizmos.yaml"), folder("webhooks/checks.yaml")])
        }
    }

    @Test(
        "a seed of a kind whose CRD (own or inherited) converts through a webhook must be in the storage version: an error at its apiVersion otherwise"
    )
    func seedsInStorageVersion() throws {
        try TemporaryFolder.with { folder in
            try folder.write("crds/gizmos.yaml", conversionCRD())
            try folder.write(
                "seeds/v1.yaml",
                "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: stored, namespace: default}\nspec: {size: 1}\n"
            )
            try folder.write(
                "seeds/v2.yaml",
                "apiVersion: example.com/v2\nkind: Gizmo\nmetadata: {name: converted, namespace: default}\nspec: {replicas: 1}\n"
            )
            let path = try folder.config(
                """
                environments:
                  base:
                    crds: [crds/]
                    seeds: [{name: stored, manifests: [seeds/v1.yaml]}]
                  child:
                    extends: base
                    seeds: [{name: converted, manifests: [seeds/v2.yaml]}]
                  in-seeds:
                    seeds:
                      - {name: crd, manifests: [crds/gizmos.yaml]}
                      - {name: gizmos, dependsOn: [crd], manifests: [seeds/v1.yaml, seeds/v2-again.yaml]}

                """)
            try folder.write(
                "seeds/v2-again.yaml",
                "apiVersion: example.com/v2\nkind: Gizmo\nmetadata: {name: again, namespace: default}\n")
            let errors = validationErrors(path)
            #expect(errors.count == 2)
            #expect(
                errors.contains { $0.location.file == folder("seeds/v2-again.yaml") },
                "a CRD in a seed set counts too: \(errors)")
            let error = try #require(errors.first { $0.location.file == folder("seeds/v2.yaml") })
            #expect(error.location.file == folder("seeds/v2.yaml") && error.location.mark == Mark(line: 1, column: 13))
            #expect(
                error.message.hasPrefix(
                    #"Gizmo "converted" is written in example.com/v2, but CustomResourceDefinition "gizmos.example.com" ("#
                ))
            #expect(
                error.message.hasSuffix(
                    "stores example.com/v1 and converts other versions through a webhook, which does not run while k8senv builds the snapshot; write this seed in example.com/v1"
                ))
        }
    }

    @Test(
        "webhooks and webhookPort load; the port is inherited by an environment that extends one without naming its own"
    )
    func loadAndPlan() throws {
        try TemporaryFolder.with { folder in
            try folder.write("webhooks/checks.yaml", webhookConfiguration(["{service: {name: a}}"]))
            let path = try folder.config(
                """
                environments:
                  base: {webhooks: [webhooks/], webhookPort: 9443}
                  child: {extends: base}
                  own: {extends: base, webhookPort: 9444}
                  plain: {}

                """)
            let config = try ConfigLoader(variables: [:]).load(path)
            #expect(config.environment(named: "base")?.webhooks.map(\.written) == ["webhooks/"])
            #expect(config.environment(named: "base")?.webhooks.first?.keyPath == "environments.base.webhooks[0]")
            let plan = try Plan(config)
            #expect(plan.environment(named: "base")?.webhookFiles.map(\.relativePath) == ["webhooks/checks.yaml"])
            #expect(plan.environment(named: "child")?.webhookFiles.isEmpty == true, "its parent's are the parent's")
            #expect(
                plan.environments.map { "\($0.name):\($0.webhookPort.map(String.init) ?? "-")" } == [
                    "base:9443", "child:9443", "own:9444", "plain:-",
                ])
        }
    }

    @Test("webhookPort outside 1...65535 is a schema error at the value", arguments: [0, 65536])
    func portRange(port: Int) throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config("environments:\n  base: {webhookPort: \(port)}\n")
            let errors = validationErrors(path)
            #expect(
                errors.count == 1 && errors.first?.code == .schema
                    && errors.first?.location.mark == Mark(line: 4, column: 23), "\(errors)")
        }
    }

    // MARK: Cache key

    @Test(
        "a webhook manifest's bytes are in the key (its own environment's and its children's); webhookPort and an empty webhooks list are not"
    )
    func cacheKey() throws {
        try TemporaryFolder.with { folder in
            let checks = webhookConfiguration(["{service: {name: a}}"])
            try folder.write("webhooks/checks.yaml", checks)
            let plainPath = try folder.config(
                "environments:\n  base: {}\n  child: {extends: base}\n", name: "plain.yaml")
            let emptyPath = try folder.config(
                "environments:\n  base: {webhooks: [], webhookPort: 9443}\n  child: {extends: base}\n",
                name: "empty.yaml")
            #expect(
                try cacheKeys(emptyPath) == (try cacheKeys(plainPath)),
                "no webhooks: the keys configs had before the key existed")

            let path = try folder.config("environments:\n  base: {webhooks: [webhooks/]}\n  child: {extends: base}\n")
            let original = try cacheKeys(path)
            #expect(original["base"] != (try cacheKeys(plainPath))["base"])

            try folder.write("webhooks/checks.yaml", webhookConfiguration(["{service: {name: a, path: /other}}"]))
            let changed = try cacheKeys(path)
            #expect(changed["base"] != original["base"])
            #expect(changed["child"] != original["child"])

            try folder.write("webhooks/checks.yaml", checks)
            #expect(try cacheKeys(path) == original)
            let portPath = try folder.config(
                "environments:\n  base: {webhooks: [webhooks/], webhookPort: 9443}\n  child: {extends: base}\n",
                name: "port.yaml")
            #expect(try cacheKeys(portPath) == original, "the port is the run's, not the snapshot's")
        }
    }

    @Test("the key's webhook lines follow the seed sets: `webhook <path> <size>`, the bytes, an empty line")
    func cacheKeyForm() throws {
        try TemporaryFolder.with { folder in
            let text = webhookConfiguration(["{service: {name: a}}"])
            try folder.write("webhooks/checks.yaml", text)
            let path = try folder.config("environments:\n  base: {webhooks: [webhooks/checks.yaml]}\n")
            var form = "k8senv-cache-key/v1\nstorage embedded\nkube-apiserver v1.20.2\nparent -\n"
            form += "webhook webhooks/checks.yaml \(text.utf8.count)\n" + text + "\n"
            #expect(try cacheKeys(path)["base"] == SHA256Hasher.hex(Array(form.utf8)))
        }
    }
}
