import K8sEnvSpec

/// A user an instance authenticates (`users` of k8senv.yaml): a name and its groups.
package struct UserIdentity: Sendable, Hashable {
    package var name: String
    package var groups: [String]

    package init(name: String, groups: [String] = []) {
        self.name = name
        self.groups = groups
    }

    /// The users a config declares, in its order.
    package static func of(_ config: Config) -> [UserIdentity] {
        config.users.map { UserIdentity(name: $0.name, groups: $0.groups) }
    }
}

/// A declared user of a running instance: its token (made for this instance, in its
/// `pki/tokens.csv` only) and its kubeconfig (`users/<name>.kubeconfig`, 0600).
package struct InstanceUser: Sendable, Hashable {
    package var identity: UserIdentity
    package var token: String
    package var kubeconfigPath: String

    package var name: String { identity.name }
}

/// kube-apiserver's `--token-auth-file`: one CSV line per user, `token,user,uid,"group1,group2"`
/// (the groups column left out when the user has none: an empty one would be a group named "").
package enum TokenFile {
    /// The one line of a user. The uid is the user's name.
    package static func line(token: String, user: String, groups: [String]) -> String {
        var fields = [field(token), field(user), field(user)]
        if !groups.isEmpty { fields.append(quoted(groups.joined(separator: ","))) }
        return fields.joined(separator: ",")
    }

    /// The admin's line (`k8senv-admin` in `system:masters`), then each user's.
    package static func render(adminToken: String, users: [(identity: UserIdentity, token: String)]) -> String {
        var lines = [line(token: adminToken, user: KubeconfigVariables.adminUser, groups: ["system:masters"])]
        for user in users {
            lines.append(line(token: user.token, user: user.identity.name, groups: user.identity.groups))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV field: quoted when it holds a comma, a quote or a line break (quotes doubled).
    static func field(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) ? quoted(text) : text
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacing("\"", with: "\"\"") + "\""
    }
}
