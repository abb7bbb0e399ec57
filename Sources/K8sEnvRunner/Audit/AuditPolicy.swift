import K8sEnvSpec

/// How an instance audits (``InstanceConfiguration/audit``).
package enum InstanceAudit: Sendable, Hashable {
    /// k8senv's built-in policy at this level (``AuditPolicy/builtIn(_:)``).
    case level(AuditLevel)
    /// A user's policy file (absolute path), passed as it is.
    case policyFile(String)

    /// From a config's settings for an environment.
    package init(_ settings: AuditSettings, config: Config) {
        switch settings.policy {
        case .level(let level): self = .level(level)
        case .file(let reference): self = .policyFile(Session.absolute(config.path(of: reference)))
        }
    }
}

/// The files kube-apiserver audits with: the policy it reads and the log it writes.
package struct AuditFiles: Sendable, Hashable {
    package var policy: String
    package var log: String

    package init(policy: String, log: String) {
        self.policy = policy
        self.log = log
    }
}

/// k8senv's built-in audit policy. See docs/explanation/audit.md for what it leaves out and why.
package enum AuditPolicy {
    /// One event per request (ResponseComplete; RequestReceived is omitted), at `level`, except:
    /// health probes (`/livez`, `/readyz`, `/healthz`: k8senv's readiness polling and `status`),
    /// discovery (`/api`, `/apis`, `/version`, `/openapi`: dozens of GETs per kubectl call) and
    /// kube-apiserver's own loopback client (`system:apiserver`: its start-up bootstrapping of
    /// RBAC roles, priority classes and system namespaces), which are not the test's doing.
    package static func builtIn(_ level: AuditLevel) -> String {
        """
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitStages: ["RequestReceived"]
        rules:
        - level: None
          nonResourceURLs: ["/livez", "/livez/*", "/readyz", "/readyz/*", "/healthz", "/healthz/*"]
        - level: None
          nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/version", "/openapi/*"]
        - level: None
          users: ["system:apiserver"]
        - level: \(level.rawValue)

        """
    }
}
