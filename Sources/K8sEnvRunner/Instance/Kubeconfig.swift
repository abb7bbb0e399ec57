import Foundation

/// A kubeconfig for one instance: our CA's data (no insecure-skip-tls-verify) and the token.
package enum Kubeconfig {
    package static func render(name: String, server: String, caCertificate: String, token: String) -> String {
        let ca = Data(caCertificate.utf8).base64EncodedString()
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: \(name)
              cluster:
                server: \(server)
                certificate-authority-data: \(ca)
            users:
            - name: \(name)
              user:
                token: \(token)
            contexts:
            - name: \(name)
              context:
                cluster: \(name)
                user: \(name)
                namespace: default
            current-context: \(name)

            """
    }
}
