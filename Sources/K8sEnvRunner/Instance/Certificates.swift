import CK8sEnvSupport

/// The key material of one instance: our own CA, a serving certificate for 127.0.0.1 and
/// localhost, and the service-account signing key pair. ECDSA P-256, made with OpenSSL.
package struct Certificates: Sendable {
    package var caCertificate: String
    package var servingCertificate: String
    package var servingKey: String
    package var serviceAccountKey: String
    package var serviceAccountPublicKey: String

    /// - Throws: ``ProcessError`` if OpenSSL fails (it says why).
    package static func make(commonName: String = "k8senv", days: Int = 30) throws(ProcessError) -> Certificates {
        var made = k8senv_make_certificates(commonName, "localhost", "127.0.0.1", Int32(days))
        defer { k8senv_free_certificates(&made) }
        if let error = made.error {
            throw ProcessError(.files, "cannot make certificates: \(String(cString: error))")
        }
        return Certificates(
            caCertificate: String(cString: made.ca_cert),
            servingCertificate: String(cString: made.serving_cert),
            servingKey: String(cString: made.serving_key),
            serviceAccountKey: String(cString: made.service_account_key),
            serviceAccountPublicKey: String(cString: made.service_account_public_key))
    }
}

/// A random bearer token: 32 bytes from the system's CSPRNG, hex.
package func makeToken() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in
        let b = UInt8.random(in: 0...255, using: &generator)
        return (b < 16 ? "0" : "") + String(b, radix: 16)
    }.joined()
}
