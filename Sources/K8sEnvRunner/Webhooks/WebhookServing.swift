import Foundation
import K8sEnvSpec

/// Where an instance's kube-apiserver calls webhooks, and where the test's webhook server finds
/// its certificate: what `K8SENV_WEBHOOK_HOST`, `K8SENV_WEBHOOK_PORT` and
/// `K8SENV_WEBHOOK_CERT_DIR` say.
public struct WebhookEndpoint: Sendable, Hashable, Codable {
    /// `127.0.0.1`: the address to listen on.
    public var host: String
    /// The port to listen on: the environment's `webhookPort`, or a free port k8senv chose for the run.
    public var port: Int
    /// A folder with `tls.crt` and `tls.key` (the serving certificate for 127.0.0.1 and
    /// localhost, and its key) and `ca.crt` (the CA kube-apiserver trusts for webhooks).
    public var certDirectory: String

    public init(host: String, port: Int, certDirectory: String) {
        self.host = host
        self.port = port
        self.certDirectory = certDirectory
    }

    /// K8SENV_WEBHOOK_HOST, K8SENV_WEBHOOK_PORT and K8SENV_WEBHOOK_CERT_DIR.
    package var exports: [(String, String)] {
        [
            ("K8SENV_WEBHOOK_HOST", host), ("K8SENV_WEBHOOK_PORT", String(port)),
            ("K8SENV_WEBHOOK_CERT_DIR", certDirectory),
        ]
    }

    enum CodingKeys: String, CodingKey {
        case host, port
        case certDirectory = "certDir"
    }
}

/// What an environment installs on each of its instances once it runs, never kept in the
/// snapshot: the webhook configurations of its `webhooks` (and of the environments it extends),
/// and its CRDs' conversion webhooks, all pointed at ``endpoint``.
package struct WebhookInstall: Sendable {
    package var endpoint: WebhookEndpoint
    /// Each configuration and the JSON applied for it (its clientConfigs rewritten).
    package var configurations: [(object: ManifestObject, json: [UInt8])]
    /// Each CRD that converts through a webhook and the patch that points it at ``endpoint``.
    package var conversions: [(crd: ManifestObject, conversion: WebhookRewrite.Conversion)]
}

/// The webhook side of a run (one ``EnvironmentBuilder``): one CA and serving certificate for
/// 127.0.0.1 and localhost in `<run folder>/webhook/`, one free port shared by the environments
/// that name no `webhookPort`, and what each environment installs. See
/// docs/explanation/webhooks.md.
package struct WebhookServing: Sendable {
    package static let host = "127.0.0.1"

    package var certDirectory: String
    package var caCertificate: String
    /// By environment; only environments with something to install.
    package var installs: [String: WebhookInstall]

    /// Nil when no environment of the plan has webhooks or a CRD with a conversion webhook
    /// (nothing made, no port taken); otherwise the certificate written and the port chosen.
    /// - Throws: ``K8sEnvError``: a manifest that cannot be read or rewritten (`validate` reports
    ///   those first), or certificates that cannot be made or written.
    package static func prepare(plan: Plan, files: SourceFiles, runDirectory: String) throws(K8sEnvError)
        -> WebhookServing?
    {
        // What each environment's lineage (the environments it extends first) installs.
        var configurations: [String: [ManifestObject]] = [:]
        var conversionCRDs: [String: [ManifestObject]] = [:]
        do throws(Diagnostics) {
            for environment in plan.environments {
                let lineage = plan.lineage(of: environment.name)
                configurations[environment.name] = try objects(lineage.flatMap(\.webhookFiles), files: files)
                conversionCRDs[environment.name] = try objects(lineage.flatMap(\.crdFiles), files: files).filter {
                    crd in
                    (try? WebhookRewrite.conversion(crd, target: .placeholder)) != nil
                }
            }
        } catch {
            throw K8sEnvError(.invalidConfig, error, files: files)
        }
        let using = plan.environments.filter {
            !(configurations[$0.name] ?? []).isEmpty || !(conversionCRDs[$0.name] ?? []).isEmpty
        }
        guard !using.isEmpty else { return nil }

        let certDirectory = runDirectory + "/webhook"
        let certificates: Certificates
        var sharedPort: Int?
        do throws(ProcessError) {
            certificates = try Certificates.make(commonName: "k8senv-webhook")
            try PrivateFiles.makeDirectory(certDirectory)
            try PrivateFiles.write(certificates.servingCertificate, to: certDirectory + "/tls.crt")
            try PrivateFiles.write(certificates.servingKey, to: certDirectory + "/tls.key")
            try PrivateFiles.write(certificates.caCertificate, to: certDirectory + "/ca.crt")
            for environment in using {
                if let port = environment.webhookPort {
                    Ports.reserve(port)
                } else if sharedPort == nil {
                    sharedPort = try Ports.reserve()
                }
            }
        } catch {
            throw K8sEnvError(error)
        }

        var installs: [String: WebhookInstall] = [:]
        do throws(Diagnostics) {
            for environment in using {
                let endpoint = WebhookEndpoint(
                    host: host, port: environment.webhookPort ?? sharedPort ?? 0, certDirectory: certDirectory)
                let target = WebhookTarget(host: host, port: endpoint.port, caCertificate: certificates.caCertificate)
                var install = WebhookInstall(endpoint: endpoint, configurations: [], conversions: [])
                for object in configurations[environment.name] ?? [] {
                    install.configurations.append((object, try WebhookRewrite.configuration(object, target: target)))
                }
                for crd in conversionCRDs[environment.name] ?? [] {
                    do throws(Diagnostic) {
                        if let conversion = try WebhookRewrite.conversion(crd, target: target) {
                            install.conversions.append((crd, conversion))
                        }
                    } catch {
                        throw Diagnostics([error])
                    }
                }
                installs[environment.name] = install
            }
        } catch {
            throw K8sEnvError(.invalidConfig, error, files: files)
        }
        return WebhookServing(
            certDirectory: certDirectory, caCertificate: certificates.caCertificate, installs: installs)
    }

    static func objects(_ manifestFiles: [ManifestFile], files: SourceFiles) throws(Diagnostics) -> [ManifestObject] {
        var all: [ManifestObject] = []
        for file in manifestFiles { all += try Manifests.read(file, files: files) }
        return all
    }
}
