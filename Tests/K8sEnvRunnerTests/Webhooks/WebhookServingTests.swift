import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite("Webhooks: certificate and port of a run", .tags(.fast))
struct WebhookServingTests {
    @Test(
        "a run with webhooks gets one CA and a serving certificate for 127.0.0.1 and localhost (openssl verifies), tls.key 0600 in a 0700 folder; the named port, or one free port shared; nothing without webhooks"
    )
    func certificateAndPorts() throws {
        let fixture = try WebhookFixture()
        let run = fixture.dir.path + "/run"
        try PrivateFiles.makeDirectory(run)
        let (plan, files) = try fixture.plan()
        let serving = try #require(try WebhookServing.prepare(plan: plan, files: files, runDirectory: run))
        let dir = serving.certDirectory
        #expect(dir == run + "/webhook")
        let openssl = "/usr/bin/openssl"
        let verify = try runTool(openssl, ["verify", "-CAfile", dir + "/ca.crt", dir + "/tls.crt"])
        #expect(verify.status == 0, "\(verify.output)")
        let text = try runTool(openssl, ["x509", "-in", dir + "/tls.crt", "-noout", "-text"]).output
        #expect(text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"), "\(text)")
        #expect(text.contains("TLS Web Server Authentication"), "\(text)")
        let key = try runTool(openssl, ["pkey", "-in", dir + "/tls.key", "-noout", "-check"])
        #expect(key.status == 0, "\(key.output)")
        #expect(try String(contentsOfFile: dir + "/ca.crt", encoding: .utf8) == serving.caCertificate)
        let mode = { (path: String) in
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1
        }
        #expect(mode(dir + "/tls.key") == 0o600 && mode(dir) == 0o700)

        // hooks has webhooks and a conversion CRD; more extends it: both install, on one port.
        let hooks = try #require(serving.installs["hooks"])
        let more = try #require(serving.installs["more"])
        #expect(hooks.configurations.map(\.object.name).sorted() == ["add-label", "forbid-label"])
        #expect(hooks.conversions.map(\.crd.name) == ["gizmos.conversion.k8senv.dev"])
        #expect(more.configurations.count == 2 && more.conversions.count == 1, "inherited")
        #expect(hooks.endpoint.port == more.endpoint.port && hooks.endpoint.port > 0)
        #expect(hooks.endpoint.host == "127.0.0.1" && hooks.endpoint.certDirectory == dir)

        // A named port is used as it is.
        let (fixed, fixedFiles) = try fixture.plan(
            profile: "fixed-port", variables: ["K8SENV_TEST_WEBHOOK_PORT": "40999"])
        let named = try #require(try WebhookServing.prepare(plan: fixed, files: fixedFiles, runDirectory: run))
        #expect(named.installs["hooks"]?.endpoint.port == 40999 && named.installs["more"]?.endpoint.port == 40999)

        // No webhooks, no conversion webhooks: nothing made.
        try fixture.dir.write("plain.yaml", "apiVersion: k8senv.dev/v1alpha1\nkind: Config\nenvironments: {base: {}}\n")
        let plainFiles = SourceFiles()
        let plain = try Plan(try ConfigLoader(variables: [:], files: plainFiles).load(fixture.dir.path + "/plain.yaml"))
        let other = fixture.dir.path + "/other-run"
        try PrivateFiles.makeDirectory(other)
        #expect(try WebhookServing.prepare(plan: plain, files: plainFiles, runDirectory: other) == nil)
        #expect(!FileManager.default.fileExists(atPath: other + "/webhook"))
    }

    @Test(
        "the run's exports: K8SENV_WEBHOOK_HOST, _PORT and _CERT_DIR of the first instance with webhooks, _PORT_<ENV> per environment; none without"
    )
    func exports() {
        let a = WebhookEndpoint(host: "127.0.0.1", port: 9443, certDirectory: "/run/webhook")
        let b = WebhookEndpoint(host: "127.0.0.1", port: 9444, certDirectory: "/run/webhook")
        let instances = [("plain", "/k0", nil), ("hooks", "/k1", a), ("hooks", "/k2", a), ("my-env", "/k3", b)].map {
            RunRecord.ExportedInstance(environment: $0.0, kubeconfig: $0.1, webhook: $0.2)
        }
        let exports = RunRecord.exports(instances, poolSocket: "/s")
        #expect(
            exports.map { "\($0.0)=\($0.1)" } == [
                "KUBECONFIG=/k0", "K8SENV_KUBECONFIGS=/k0:/k1:/k2:/k3", "K8SENV_KUBECONFIG_PLAIN=/k0",
                "K8SENV_KUBECONFIG_HOOKS=/k1",
                "K8SENV_KUBECONFIG_MY_ENV=/k3", "K8SENV_POOL=/s",
                "K8SENV_WEBHOOK_HOST=127.0.0.1", "K8SENV_WEBHOOK_PORT=9443", "K8SENV_WEBHOOK_CERT_DIR=/run/webhook",
                "K8SENV_WEBHOOK_PORT_HOOKS=9443", "K8SENV_WEBHOOK_PORT_MY_ENV=9444",
            ])
        #expect(
            !RunRecord.exports([RunRecord.ExportedInstance(environment: "plain", kubeconfig: "/k0")], poolSocket: nil)
                .contains { $0.0.hasPrefix("K8SENV_WEBHOOK") })
    }
}
