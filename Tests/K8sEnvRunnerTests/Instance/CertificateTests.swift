import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Certificates", .tags(.fast))
struct CertificateTests {
    @Test("our CA signs an ECDSA P-256 serving certificate for 127.0.0.1 and localhost (checked by openssl)")
    func opensslVerifies() throws {
        let dir = try TemporaryDirectory()
        let certificates = try Certificates.make(commonName: "k8senv-test")
        try certificates.caCertificate.write(toFile: dir.path + "/ca.crt", atomically: true, encoding: .utf8)
        try certificates.servingCertificate.write(toFile: dir.path + "/serving.crt", atomically: true, encoding: .utf8)
        try certificates.servingKey.write(toFile: dir.path + "/serving.key", atomically: true, encoding: .utf8)
        let openssl = "/usr/bin/openssl"
        let verify = try runTool(openssl, ["verify", "-CAfile", dir.path + "/ca.crt", dir.path + "/serving.crt"])
        #expect(verify.status == 0, "\(verify.output)")
        let text = try runTool(openssl, ["x509", "-in", dir.path + "/serving.crt", "-noout", "-text"]).output
        #expect(text.contains("DNS:localhost"))
        #expect(text.contains("IP Address:127.0.0.1"))
        #expect(text.contains("prime256v1") || text.contains("P-256"))
        let key = try runTool(openssl, ["pkey", "-in", dir.path + "/serving.key", "-noout", "-text"]).output
        #expect(key.contains("prime256v1") || key.contains("P-256"))
    }

    @Test("tokens are 64 hex characters and differ")
    func tokens() {
        let a = makeToken()
        let b = makeToken()
        #expect(a.count == 64 && a.allSatisfy(\.isHexDigit))
        #expect(a != b)
    }
}
