import Foundation

/// What an instance's start writes into its folder before any process runs (once for all its
/// tries): the folders, certificates and keys, the tokens and the token file, the token
/// webhook's kubeconfig, the audit policy. Tokens are made here, per instance, and never stored
/// with a snapshot: a snapshot serves any set of users.
struct StartFiles: Sendable {
    let name: String
    let layout: InstanceLayout
    let certificates: Certificates
    /// The admin's bearer token.
    let token: String
    /// Each declared user with the token made for it.
    let userTokens: [(identity: UserIdentity, token: String)]
    /// kube-controller-manager's token, when the instance runs controllers.
    let controllerManagerToken: String?
    /// The secret kube-apiserver sends to k8senv's token webhook.
    let tokenReviewer: String
    /// The AuthenticationConfiguration that lets health checks in anonymously, where supported.
    let authenticationConfig: String?
    let audit: AuditFiles?

    /// Makes the folder (0700) and writes everything in it (0600).
    static func write(_ configuration: InstanceConfiguration) throws(ProcessError) -> StartFiles {
        let layout = InstanceLayout(configuration.directory)
        try PrivateFiles.makeDirectory(layout.folder)
        try PrivateFiles.makeDirectory(layout.pki)
        try PrivateFiles.makeDirectory(layout.logs)
        let certificates = try Certificates.make(commonName: "k8senv-\(configuration.name)")
        try PrivateFiles.write(certificates.caCertificate, to: layout.caCertificate)
        try PrivateFiles.write(certificates.servingCertificate, to: layout.servingCertificate)
        try PrivateFiles.write(certificates.servingKey, to: layout.servingKey)
        try PrivateFiles.write(certificates.serviceAccountKey, to: layout.serviceAccountKey)
        try PrivateFiles.write(certificates.serviceAccountPublicKey, to: layout.serviceAccountPublicKey)
        let token = makeToken()
        let userTokens = configuration.users.map { (identity: $0, token: makeToken()) }
        let controllerManagerToken = configuration.controllers.isEmpty ? nil : makeToken()
        let tokenUsers =
            userTokens + (controllerManagerToken.map { [(identity: ControllerManagerIdentity.user, token: $0)] } ?? [])
        try PrivateFiles.write(TokenFile.render(adminToken: token, users: tokenUsers), to: layout.tokenFile)
        try PrivateFiles.write(token + "\n", to: layout.token)
        // Leases' tokens are not in the token file: kube-apiserver asks k8senv about them.
        let tokenReviewer = makeToken()
        try PrivateFiles.write(
            TokenWebhook.kubeconfig(try TokenWebhook.endpoint(), reviewer: tokenReviewer),
            to: layout.tokenWebhookConfig)
        if !userTokens.isEmpty { try PrivateFiles.makeDirectory(layout.users) }
        var authenticationConfig: String?
        if APIServerArguments.probesAnonymously(configuration.binaries.kubeAPIServerVersion) {
            authenticationConfig = layout.authenticationConfig
            try PrivateFiles.write(APIServerArguments.anonymousHealthConfig, to: layout.authenticationConfig)
        }
        return StartFiles(
            name: configuration.name, layout: layout, certificates: certificates, token: token,
            userTokens: userTokens, controllerManagerToken: controllerManagerToken, tokenReviewer: tokenReviewer,
            authenticationConfig: authenticationConfig, audit: try writeAudit(configuration, layout))
    }

    /// The audit policy and log kube-apiserver is given, when the instance audits.
    static func writeAudit(_ configuration: InstanceConfiguration, _ layout: InstanceLayout) throws(ProcessError)
        -> AuditFiles?
    {
        guard let audit = configuration.audit else { return nil }
        try AuditLog.prepare(layout.auditLog)
        switch audit {
        case .level(let level):
            try PrivateFiles.write(AuditPolicy.builtIn(level), to: layout.auditPolicy)
            return AuditFiles(policy: layout.auditPolicy, log: layout.auditLog)
        case .policyFile(let path):
            return AuditFiles(policy: path, log: layout.auditLog)
        }
    }

    /// The admin's and each user's kubeconfig, for kube-apiserver at `server` (a try's port).
    func writeKubeconfigs(server: String) throws(ProcessError) -> [InstanceUser] {
        let cluster = "k8senv-\(name)"
        try PrivateFiles.write(
            Kubeconfig.render(name: cluster, server: server, caCertificate: certificates.caCertificate, token: token),
            to: layout.kubeconfig)
        var users: [InstanceUser] = []
        for user in userTokens {
            let path = layout.userKubeconfig(user.identity.name)
            try PrivateFiles.write(
                Kubeconfig.render(
                    name: cluster, user: user.identity.name, server: server,
                    caCertificate: certificates.caCertificate, token: user.token),
                to: path)
            users.append(InstanceUser(identity: user.identity, token: user.token, kubeconfigPath: path))
        }
        return users
    }
}
