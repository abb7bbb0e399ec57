import Foundation
import K8sEnvSpec

/// The credentials of one lease of an instance: a token for the admin's identity (`k8senv-admin`
/// in `k8senv:lease-admins`, which k8senv's authorization webhook allows everything while the lease
/// lives: not `system:masters`, whose requests kube-apiserver allows before asking any webhook) and one for each declared user, each with a
/// kubeconfig in `leases/<n>/` of the instance folder (0600). They are valid from the moment the
/// pool lends the instance until it takes it back: ``revoke()`` runs before the reset, so a
/// process that outlives its lease gets 401 instead of writing into the next holder's instance.
/// The instance's own token (`<instance>/token`, its `kubeconfig`) stays k8senv's.
struct LeaseCredentials: Sendable {
    let token: String
    let kubeconfigPath: String
    /// The declared users, in the config's order, with this lease's tokens and kubeconfigs.
    let users: [InstanceUser]
    let folder: String
    let reviewer: String

    /// Issues the tokens of lease number `number` of `instance` and writes their kubeconfigs.
    /// - Throws: ``ProcessError`` when a kubeconfig cannot be written (nothing stays issued).
    static func issue(for instance: Instance, number: Int) throws(ProcessError) -> LeaseCredentials {
        let tokens = LeaseTokens.shared
        let reviewer = instance.tokenReviewer
        let folder = instance.configuration.directory + "/leases/\(number)"
        let name = "k8senv-\(instance.name)"
        let token = tokens.issue(
            UserIdentity(name: KubeconfigVariables.adminUser, groups: [TokenWebhook.leaseAdminGroup]),
            reviewer: reviewer)
        let users = instance.users.map {
            InstanceUser(
                identity: $0.identity, token: tokens.issue($0.identity, reviewer: reviewer),
                kubeconfigPath: folder + "/users/\($0.name).kubeconfig")
        }
        let credentials = LeaseCredentials(
            token: token, kubeconfigPath: folder + "/kubeconfig", users: users, folder: folder,
            reviewer: reviewer)
        do throws(ProcessError) {
            try PrivateFiles.makeDirectory(instance.configuration.directory + "/leases")
            try PrivateFiles.makeDirectory(folder)
            if !users.isEmpty { try PrivateFiles.makeDirectory(folder + "/users") }
            // Not durable: a lease's kubeconfig means nothing after a crash (its token is gone).
            try PrivateFiles.write(
                Kubeconfig.render(
                    name: name, server: instance.server, caCertificate: instance.caCertificate, token: token),
                to: credentials.kubeconfigPath, durable: false)
            for user in users {
                try PrivateFiles.write(
                    Kubeconfig.render(
                        name: name, user: user.name, server: instance.server,
                        caCertificate: instance.caCertificate, token: user.token),
                    to: user.kubeconfigPath, durable: false)
            }
        } catch {
            credentials.revoke()
            throw error
        }
        return credentials
    }

    /// Ends the tokens (kube-apiserver's next check of one answers 401) and removes the kubeconfigs.
    func revoke() {
        LeaseTokens.shared.revoke([token] + users.map(\.token), reviewer: reviewer)
        // The files this lease wrote, by name (no walk of the folder); whatever else a test put
        // there makes rmdir fail, and the folder goes as a whole.
        for path in users.map(\.kubeconfigPath) + [kubeconfigPath] { unlink(path) }
        if !users.isEmpty { rmdir(folder + "/users") }
        if rmdir(folder) != 0 { try? FileManager.default.removeItem(atPath: folder) }
    }
}
