/// The names of the variables that point at kubeconfigs: what `up` prints, what `run` gives its
/// command and what `k8senv acquire` prints. A name is upper-cased and every character that is
/// not an ASCII letter or digit becomes `_` (`payments-eu` → `PAYMENTS_EU`).
package enum KubeconfigVariables {
    package static let prefix = "K8SENV_KUBECONFIG_"
    /// The user k8senv authenticates as itself (in `system:masters`); no declared user may take it.
    package static let adminUser = "k8senv-admin"

    /// `PAYMENTS_EU` for `payments-eu`.
    package static func suffix(_ name: String) -> String {
        String(name.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    /// `K8SENV_KUBECONFIG_<ENV>`: the admin kubeconfig of the environment's first instance.
    package static func environment(_ environment: String) -> String {
        prefix + suffix(environment)
    }

    /// `K8SENV_KUBECONFIG_<ENV>_<USER>`: a user's kubeconfig of the environment's first instance.
    package static func user(_ user: String, environment: String) -> String {
        prefix + suffix(environment) + "_" + suffix(user)
    }

    /// `K8SENV_KUBECONFIG_<USER>`: a user's kubeconfig of a leased instance (`k8senv acquire`).
    package static func leasedUser(_ user: String) -> String {
        prefix + suffix(user)
    }
}
