import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Versions and flags", .tags(.fast))
struct FlagTests {
    static func layout() -> APIServerLayout {
        APIServerLayout(
            port: 6443, storageURL: "http://127.0.0.1:2379", certificateDirectory: "/d/pki",
            servingCertificate: "/d/pki/serving.crt", servingKey: "/d/pki/serving.key",
            serviceAccountKey: "/d/pki/sa.key", serviceAccountPublicKey: "/d/pki/sa.pub",
            tokenFile: "/d/pki/tokens.csv", authenticationConfig: "/d/pki/auth.yaml")
    }

    @Test(
        "versions are read from --version output",
        arguments: [
            ("Kubernetes v1.20.2", "v1.20.2"), ("Kubernetes v1.31.0-rc.1", "v1.31.0-rc.1"),
            ("etcd Version: 3.4.23\nGit SHA: x", "v3.4.23"),
        ])
    func parseVersion(output: String, expected: String) {
        #expect(KubeVersion(parsing: output)?.text == expected)
    }

    @Test("--insecure-port=0 only below 1.24")
    func insecurePort() {
        for (minor, expected) in [(20, true), (23, true), (24, false), (35, false)] {
            let args = APIServerArguments.make(
                version: KubeVersion(major: 1, minor: minor), layout: Self.layout(), extraArgs: [])
            #expect(args.contains("--insecure-port=0") == expected, "1.\(minor)")
        }
    }

    @Test("anonymous health checks through --authentication-config from 1.32, the token before")
    func anonymousHealth() {
        for (minor, anonymous) in [(20, false), (30, false), (31, false), (32, true), (35, true)] {
            let args = APIServerArguments.make(
                version: KubeVersion(major: 1, minor: minor), layout: Self.layout(), extraArgs: [])
            #expect(args.contains("--authentication-config=/d/pki/auth.yaml") == anonymous, "1.\(minor)")
            #expect(args.contains("--anonymous-auth=false") == !anonymous, "1.\(minor)")
        }
    }

    @Test("the speed-ups and the required service-account flags are always there; extraArgs come last")
    func commonFlags() {
        let args = APIServerArguments.make(
            version: KubeVersion(major: 1, minor: 20), layout: Self.layout(),
            extraArgs: ["--v=2", "--feature-gates=A=true"])
        for flag in [
            "--authorization-mode=AlwaysAllow", "--watch-cache=false", "--disable-admission-plugins=ServiceAccount",
            "--bind-address=127.0.0.1", "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-signing-key-file=/d/pki/sa.key", "--service-account-key-file=/d/pki/sa.pub",
        ] {
            #expect(args.contains(flag), "\(flag)")
        }
        #expect(Array(args.suffix(2)) == ["--v=2", "--feature-gates=A=true"])
    }

    @Test("etcd listens on Unix sockets in its working folder only; --unsafe-no-fsync when supported")
    func etcdFlags() {
        let args = StorageArguments.etcd(dataDirectory: "/d/etcd", noFsync: true)
        #expect(args.contains("--listen-client-urls=unix://etcd.sock:0"))
        #expect(args.contains("--listen-peer-urls=unix://etcd-peer.sock:0"))
        #expect(!args.contains { $0.contains("127.0.0.1") || $0.contains("http") })
        #expect(args.contains("--unsafe-no-fsync"))
        #expect(!StorageArguments.etcd(dataDirectory: "/d", noFsync: false).contains("--unsafe-no-fsync"))
    }

    @Test("kine gets a SQLite endpoint in the instance's folder and a Unix socket")
    func kineFlags() {
        #expect(
            StorageArguments.kine(databasePath: "/d/kine/state.db", socket: "/d/kine.sock", metricsPort: 6) == [
                "--endpoint=sqlite:///d/kine/state.db?_journal=WAL&cache=shared",
                "--listen-address=unix:///d/kine.sock",
                "--metrics-bind-address=127.0.0.1:6",
            ])
    }

    @Test("a server error about a field the server is too old for names the version it needs")
    func fieldVersionHint() {
        let message =
            #".spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations: field not declared in schema"#
        let hint = FieldVersions.hint(for: message, serverVersion: KubeVersion(major: 1, minor: 20, patch: 2))
        #expect(hint?.contains("x-kubernetes-validations needs Kubernetes v1.25 or newer") == true)
        #expect(FieldVersions.hint(for: message, serverVersion: KubeVersion(major: 1, minor: 30)) == nil)
    }
}
