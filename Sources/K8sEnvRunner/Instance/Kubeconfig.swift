import Foundation

/// A kubeconfig for one instance: our CA's data (no insecure-skip-tls-verify) and the token.
package enum Kubeconfig {
    /// - Parameters:
    ///   - name: the cluster's name (`k8senv-base-0`); also the user's and context's unless
    ///     `user` is given.
    ///   - user: a declared user's name: the user and context are then `<name>-<user>`, so that
    ///     kubeconfigs merged by kubectl (`KUBECONFIG=a:b`) keep the admin and each user apart.
    package static func render(name: String, user: String? = nil, server: String, caCertificate: String, token: String)
        -> String
    {
        let ca = Data(caCertificate.utf8).base64EncodedString()
        let entry = user.map { "\(name)-\($0)" } ?? name
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: \(name)
              cluster:
                server: \(server)
                certificate-authority-data: \(ca)
            users:
            - name: \(entry)
              user:
                token: \(token)
            contexts:
            - name: \(entry)
              context:
                cluster: \(name)
                user: \(entry)
                namespace: default
            current-context: \(entry)

            """
    }
}
