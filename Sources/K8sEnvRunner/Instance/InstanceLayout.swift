/// The files of an instance's folder, by name: the one place that says where each one is. An
/// instance folder holds (0700; every secret 0600):
///
/// ```
/// kubeconfig                  the admin kubeconfig
/// controller-manager.kubeconfig  kube-controller-manager's, when it runs controllers
/// token                       the admin bearer token
/// pki/                        ca.crt, serving.crt/.key, service-account.key/.pub, tokens.csv,
///                             token-webhook.kubeconfig, authentication-config.yaml, audit-policy.yaml
/// users/<name>.kubeconfig     each declared user's kubeconfig
/// logs/                       kube-apiserver.log, kube-controller-manager.log, audit.log,
///                             etcd.log, etcdctl.log, kine.log
/// store/state.db              the embedded store's SQLite file
/// kine/state.db               kine's SQLite file
/// etcd-data/                  etcd's data folder
/// sockets                     a link to the store's private socket folder under /tmp, when the
///                             folder's own path is too long for a socket address
/// ```
package struct InstanceLayout: Sendable, Hashable {
    /// The instance folder.
    package let folder: String

    package init(_ folder: String) { self.folder = folder }

    package var kubeconfig: String { folder + "/kubeconfig" }
    package var token: String { folder + "/token" }
    package var controllerManagerKubeconfig: String { folder + "/controller-manager.kubeconfig" }

    package var pki: String { folder + "/pki" }
    package var caCertificate: String { pki + "/ca.crt" }
    package var servingCertificate: String { pki + "/serving.crt" }
    package var servingKey: String { pki + "/serving.key" }
    package var serviceAccountKey: String { pki + "/service-account.key" }
    package var serviceAccountPublicKey: String { pki + "/service-account.pub" }
    /// kube-apiserver's static tokens: the admin's, the users', kube-controller-manager's.
    package var tokenFile: String { pki + "/tokens.csv" }
    package var tokenWebhookConfig: String { pki + "/token-webhook.kubeconfig" }
    package var authenticationConfig: String { pki + "/authentication-config.yaml" }
    /// The built-in audit policy, written when `audit` names a level.
    package var auditPolicy: String { pki + "/audit-policy.yaml" }

    package var users: String { folder + "/users" }
    package func userKubeconfig(_ name: String) -> String { users + "/\(name).kubeconfig" }

    package var logs: String { folder + "/logs" }
    /// `logs/<program>.log`: kube-apiserver, kube-controller-manager, etcd, etcdctl, kine.
    package func log(_ program: String) -> String { logs + "/\(program).log" }
    package var apiServerLog: String { log("kube-apiserver") }
    package var controllerManagerLog: String { log("kube-controller-manager") }
    package var auditLog: String { logs + "/audit.log" }

    /// The embedded store's SQLite file.
    package var storeDatabase: String { folder + "/store/state.db" }
    /// kine's SQLite file.
    package var kineDatabase: String { folder + "/kine/state.db" }
    /// etcd's data folder.
    package var etcdData: String { folder + "/etcd-data" }
    /// The link to the store's private socket folder (``SocketFolder``).
    package var socketsLink: String { folder + "/sockets" }
}
