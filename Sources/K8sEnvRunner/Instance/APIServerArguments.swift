import K8sEnvSpec

/// The files and ports one kube-apiserver is started with.
package struct APIServerLayout: Sendable {
    package var port: Int
    package var storageURL: String
    package var certificateDirectory: String
    package var servingCertificate: String
    package var servingKey: String
    package var serviceAccountKey: String
    package var serviceAccountPublicKey: String
    package var tokenFile: String
    /// An AuthenticationConfiguration allowing anonymous health checks (only where supported).
    package var authenticationConfig: String?
    /// The kubeconfig of k8senv's token webhook (``TokenWebhook``), which authenticates the
    /// tokens of leases; nil: none.
    package var tokenWebhookConfig: String?

    package init(
        port: Int, storageURL: String, certificateDirectory: String, servingCertificate: String,
        servingKey: String, serviceAccountKey: String, serviceAccountPublicKey: String, tokenFile: String,
        authenticationConfig: String?, tokenWebhookConfig: String? = nil
    ) {
        self.tokenWebhookConfig = tokenWebhookConfig
        self.port = port
        self.storageURL = storageURL
        self.certificateDirectory = certificateDirectory
        self.servingCertificate = servingCertificate
        self.servingKey = servingKey
        self.serviceAccountKey = serviceAccountKey
        self.serviceAccountPublicKey = serviceAccountPublicKey
        self.tokenFile = tokenFile
        self.authenticationConfig = authenticationConfig
    }
}

/// kube-apiserver's command line, chosen by its version. See docs/reference/apiserver-flags.md.
package enum APIServerArguments {
    /// From this version, AuthenticationConfiguration's `anonymous` section (with conditions on
    /// the health paths) is on by default (AnonymousAuthConfigurableEndpoints beta).
    package static let anonymousHealthSince = KubeVersion(major: 1, minor: 32)
    /// `--insecure-port` was removed in 1.24.
    package static let insecurePortRemovedIn = KubeVersion(major: 1, minor: 24)

    /// Whether this version probes `/livez` anonymously (else with the bearer token).
    package static func probesAnonymously(_ version: KubeVersion) -> Bool {
        version >= anonymousHealthSince
    }

    /// The AuthenticationConfiguration that lets anonymous requests reach only the health paths.
    package static let anonymousHealthConfig = """
        apiVersion: apiserver.config.k8s.io/v1beta1
        kind: AuthenticationConfiguration
        anonymous:
          enabled: true
          conditions:
          - path: /livez
          - path: /readyz
          - path: /healthz

        """

    /// `--feature-gates=A=true,B=false` (or `--runtime-config=…`): one flag, entries sorted by
    /// name so the command line does not depend on the order of the file; nil when empty.
    package static func switches(_ flag: String, _ values: [String: Bool]) -> String? {
        guard !values.isEmpty else { return nil }
        return "\(flag)=" + values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// - Parameters:
    ///   - authorization: `--authorization-mode` (AlwaysAllow unless the config asks for RBAC,
    ///     explicitly or by declaring users).
    ///   - featureGates: `apiServer.featureGates`, passed as one `--feature-gates` flag.
    ///   - runtimeConfig: `apiServer.runtimeConfig`, passed as one `--runtime-config` flag.
    ///   - audit: the audit policy and log (`audit`), when the instance audits: a JSON log
    ///     written in blocking mode (a request's event is written before its response).
    ///   - extraArgs: `apiServer.extraArgs`, last, as written.
    package static func make(
        version: KubeVersion, layout: APIServerLayout, authorization: AuthorizationMode = .alwaysAllow,
        featureGates: [String: Bool] = [:],
        runtimeConfig: [String: Bool] = [:], audit: AuditFiles? = nil, extraArgs: [String]
    ) -> [String] {
        var args = [
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--secure-port=\(layout.port)",
            "--etcd-servers=\(layout.storageURL)",
            "--cert-dir=\(layout.certificateDirectory)",
            "--tls-cert-file=\(layout.servingCertificate)",
            "--tls-private-key-file=\(layout.servingKey)",
            "--token-auth-file=\(layout.tokenFile)",
            // k8senv's webhook first when lease tokens are asked of it: it denies a revoked
            // lease token's requests and has no opinion on any other.
            "--authorization-mode=" + (layout.tokenWebhookConfig == nil ? "" : "Webhook,") + authorization.rawValue,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=\(layout.serviceAccountPublicKey)",
            "--service-account-signing-key-file=\(layout.serviceAccountKey)",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--disable-admission-plugins=ServiceAccount",
            "--watch-cache=false",
            "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--allow-privileged=true",
        ]
        if version < insecurePortRemovedIn {
            args.append("--insecure-port=0")
        }
        if probesAnonymously(version), let config = layout.authenticationConfig {
            args.append("--authentication-config=\(config)")
        } else {
            args.append("--anonymous-auth=false")
        }
        if let webhook = layout.tokenWebhookConfig {
            // Authentication: asked after the token file (k8senv's own and kube-controller-manager's
            // tokens never reach it), with no cache of its own. kube-apiserver still keeps each
            // successful authentication 10 s, so authorization asks too, on every request (no
            // cache either): a revoked lease token's request is denied at once.
            args += [
                "--authentication-token-webhook-config-file=\(webhook)", "--authentication-token-webhook-version=v1",
                "--authentication-token-webhook-cache-ttl=0s",
                "--authorization-webhook-config-file=\(webhook)", "--authorization-webhook-version=v1",
                "--authorization-webhook-cache-authorized-ttl=0s", "--authorization-webhook-cache-unauthorized-ttl=0s",
            ]
        }
        if let gates = switches("--feature-gates", featureGates) { args.append(gates) }
        if let apis = switches("--runtime-config", runtimeConfig) { args.append(apis) }
        if let audit {
            args += [
                "--audit-policy-file=\(audit.policy)", "--audit-log-path=\(audit.log)",
                "--audit-log-format=json", "--audit-log-mode=blocking",
            ]
        }
        return args + extraArgs
    }
}
