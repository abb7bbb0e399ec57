import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

/// The webhook project (Tests/Fixtures/webhooks): a validating and a mutating webhook scoped to
/// namespace `hooked`, a CRD converting v1 (spec.size) ↔ v2 (spec.replicas) through a webhook,
/// and the test's own webhook server, server.py (Python's standard library: independent of
/// k8senv), which `run`'s command starts from what k8senv exports.
enum WebhookProject {
    static let fixtures = Repository.root + "/Tests/Fixtures/webhooks"

    /// Runs `body` in a workspace holding a copy of the project.
    static func with<T>(name: String, _ body: (Workspace) async throws -> T) async throws -> T {
        _ = try RealBinaries.require()
        return try await Workspace.with(name: name) { ws in
            for entry in try FileManager.default.contentsOfDirectory(atPath: fixtures) {
                try FileManager.default.copyItem(atPath: fixtures + "/" + entry, toPath: ws(entry))
            }
            return try await body(ws)
        }
    }

    /// A shell script: `before` runs while nothing listens on the webhook port; then the test's
    /// server starts (and is stopped when the script ends) and `after` runs.
    static func script(before: String = "", after: String) -> String {
        """
        set -u
        \(before)
        SERVER=$(python3 "$PWD/server.py" --background "$PWD/server.log") || exit 1
        trap 'kill $SERVER' EXIT
        \(after)
        """
    }
}

@Suite(
    "Webhooks: the test's webhook server behind a real kube-apiserver", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct WebhookRunTests {
    @Test(
        "a validating webhook (failurePolicy Fail) served by the test denies a ConfigMap labelled as forbidden, with the webhook's message; other changes pass; before the server listens, matching requests are refused (connection refused)"
    )
    func validating() async throws {
        try await WebhookProject.with(name: "wh-validate") { ws in
            let script = WebhookProject.script(
                before: """
                    if kubectl create configmap early -n hooked --from-literal=a=b 2>early.err; then echo early=created; else echo early=refused; fi
                    """,
                after: """
                    kubectl create configmap x -n hooked --from-literal=a=b || exit 1
                    if kubectl label configmap x -n hooked k8senv.dev/forbidden=yes 2>label.err; then echo forbidden=allowed; else echo forbidden=denied; fi
                    kubectl label configmap x -n hooked harmless=yes || exit 1
                    echo "labels=$(kubectl get configmap x -n hooked -o jsonpath='{.metadata.labels}')"
                    """)
            let outcome = try await ws.k8senv("run", "-f", "k8senv.yaml", "-e", "hooks", "--", "sh", "-c", script)
            #expect(outcome.status == 0, "\(outcome)")
            let values = outcome.assignments
            #expect(values["early"] == "refused", "\(outcome)")
            let early = (try? String(contentsOfFile: ws("early.err"), encoding: .utf8)) ?? ""
            #expect(early.contains("failed calling webhook") && early.contains("connection refused"), "\(early)")
            #expect(early.contains("https://127.0.0.1:"), "the webhook is called on 127.0.0.1: \(early)")

            #expect(values["forbidden"] == "denied", "\(outcome)")
            let denial = (try? String(contentsOfFile: ws("label.err"), encoding: .utf8)) ?? ""
            #expect(denial.contains("denied the request"), "\(denial)")
            #expect(
                denial.contains("k8senv test webhook: the label k8senv.dev/forbidden is not allowed here"), "\(denial)")
            let labels = values["labels"] ?? ""
            #expect(labels.contains("\"harmless\":\"yes\"") && !labels.contains("forbidden"), "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "a mutating webhook served by the test adds a label (JSONPatch) to ConfigMaps in its namespace, and to none elsewhere (run --no-cache)"
    )
    func mutating() async throws {
        try await WebhookProject.with(name: "wh-mutate") { ws in
            let script = WebhookProject.script(
                after: """
                    kubectl create configmap m -n hooked --from-literal=a=b || exit 1
                    kubectl create configmap n -n default --from-literal=a=b || exit 1
                    echo "hooked=$(kubectl get configmap m -n hooked -o jsonpath='{.metadata.labels.k8senv\\.dev/mutated}')"
                    echo "default=$(kubectl get configmap n -n default -o jsonpath='{.metadata.labels}')"
                    """)
            // Without the cache: the instance is built from scratch, then the webhooks installed.
            let outcome = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "-e", "hooks", "--no-cache", "--", "sh", "-c", script)
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.assignments["hooked"] == "yes", "\(outcome)")
            #expect(outcome.assignments["default"] == "", "outside the namespaceSelector: \(outcome)")
            let log = (try? String(contentsOfFile: ws("server.log"), encoding: .utf8)) ?? ""
            #expect(log.contains("POST /mutate"), "the test's server was called: \(log)")
        }
    }

    @Test(
        "a CRD stored in v1 and served in v2 converts through the test's conversion webhook: the seed and a v1 object read as v2 (spec.size → spec.replicas), a v2 object reads back as v1"
    )
    func conversion() async throws {
        try await WebhookProject.with(name: "wh-convert") { ws in
            _ = try ws.write(
                "made-v1.yaml",
                "apiVersion: conversion.k8senv.dev/v1\nkind: Gizmo\nmetadata: {name: made, namespace: hooked}\nspec: {size: 3}\n"
            )
            _ = try ws.write(
                "written-v2.yaml",
                "apiVersion: conversion.k8senv.dev/v2\nkind: Gizmo\nmetadata: {name: written, namespace: hooked}\nspec: {replicas: 5}\n"
            )
            let script = WebhookProject.script(
                before: """
                    echo "stored=$(kubectl get gizmos.v1.conversion.k8senv.dev seeded -n hooked -o jsonpath='{.apiVersion} {.spec.size}')"
                    if kubectl get gizmos.v2.conversion.k8senv.dev seeded -n hooked 2>v2.err >/dev/null; then echo early=read; else echo early=failed; fi
                    """,
                after: """
                    echo "seeded=$(kubectl get gizmos.v2.conversion.k8senv.dev seeded -n hooked -o jsonpath='{.apiVersion} {.spec.replicas}')"
                    kubectl create -f made-v1.yaml || exit 1
                    echo "made=$(kubectl get gizmos.v2.conversion.k8senv.dev made -n hooked -o jsonpath='{.apiVersion} {.spec.replicas}')"
                    kubectl create -f written-v2.yaml || exit 1
                    echo "written=$(kubectl get gizmos.v1.conversion.k8senv.dev written -n hooked -o jsonpath='{.apiVersion} {.spec.size}')"
                    """)
            let outcome = try await ws.k8senv("run", "-f", "k8senv.yaml", "-e", "hooks", "--", "sh", "-c", script)
            #expect(outcome.status == 0, "\(outcome)")
            let values = outcome.assignments
            #expect(values["stored"] == "conversion.k8senv.dev/v1 2", "the stored version needs no webhook: \(outcome)")
            #expect(values["early"] == "failed", "\(outcome)")
            let early = (try? String(contentsOfFile: ws("v2.err"), encoding: .utf8)) ?? ""
            #expect(early.contains("conversion webhook") && early.contains("connection refused"), "\(early)")
            #expect(values["seeded"] == "conversion.k8senv.dev/v2 2", "\(outcome)")
            #expect(values["made"] == "conversion.k8senv.dev/v2 3", "\(outcome)")
            #expect(values["written"] == "conversion.k8senv.dev/v1 5", "\(outcome)")
            let log = (try? String(contentsOfFile: ws("server.log"), encoding: .utf8)) ?? ""
            #expect(log.contains("POST /convert"), "\(log)")
        }
    }

    @Test(
        "run gives its command K8SENV_WEBHOOK_HOST, _PORT (the named webhookPort, inherited by an environment that extends), _PORT_<ENV> and _CERT_DIR: tls.crt and tls.key (0600) for 127.0.0.1 and localhost, signed by ca.crt"
    )
    func variables() async throws {
        try await WebhookProject.with(name: "wh-vars") { ws in
            let port = try Ports.free()
            let script = """
                for name in K8SENV_WEBHOOK_HOST K8SENV_WEBHOOK_PORT K8SENV_WEBHOOK_CERT_DIR K8SENV_WEBHOOK_PORT_HOOKS K8SENV_WEBHOOK_PORT_MORE; do
                  eval "echo $name=\\${$name:-unset}"
                done
                echo "mode=$(stat -c %a "$K8SENV_WEBHOOK_CERT_DIR/tls.key")"
                echo "folder=$(stat -c %a "$K8SENV_WEBHOOK_CERT_DIR")"
                openssl verify -CAfile "$K8SENV_WEBHOOK_CERT_DIR/ca.crt" "$K8SENV_WEBHOOK_CERT_DIR/tls.crt" >/dev/null && echo verify=ok
                openssl x509 -in "$K8SENV_WEBHOOK_CERT_DIR/tls.crt" -noout -ext subjectAltName | tail -n 1 | tr -d ' ' | sed 's/^/san=/'
                """
            let outcome = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "--profile", "fixed-port", "--", "sh", "-c", script,
                environment: ["K8SENV_TEST_WEBHOOK_PORT": String(port)])
            #expect(outcome.status == 0, "\(outcome)")
            let values = outcome.assignments
            #expect(values["K8SENV_WEBHOOK_HOST"] == "127.0.0.1", "\(outcome)")
            #expect(values["K8SENV_WEBHOOK_PORT"] == String(port), "\(outcome)")
            #expect(values["K8SENV_WEBHOOK_PORT_HOOKS"] == String(port), "\(outcome)")
            #expect(values["K8SENV_WEBHOOK_PORT_MORE"] == String(port), "inherited: \(outcome)")
            let certDirectory = values["K8SENV_WEBHOOK_CERT_DIR"] ?? ""
            #expect(
                certDirectory.hasPrefix(ws.stateFolder + "/runs/") && certDirectory.hasSuffix("/webhook"), "\(outcome)")
            #expect(values["mode"] == "600" && values["folder"] == "700", "\(outcome)")
            #expect(values["verify"] == "ok", "\(outcome)")
            #expect(values["san"] == "DNS:localhost,IPAddress:127.0.0.1", "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: certDirectory), "removed with its run")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "up --detach prints the webhook variables; env prints them; env -e adds the environment's; a free port when none is named; acquire and an attached run hand them out with the lease"
    )
    func upAndEnv() async throws {
        try await WebhookProject.with(name: "wh-up") { ws in
            let up = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml", "-e", "hooks")
            try #require(up.status == 0, "\(up)")
            #expect(up.stdout.contains("export K8SENV_WEBHOOK_HOST=127.0.0.1\n"), "\(up)")
            let port = try #require(
                up.stdout.split(separator: "\n").first { $0.hasPrefix("export K8SENV_WEBHOOK_PORT=") }
                    .flatMap { Int($0.dropFirst("export K8SENV_WEBHOOK_PORT=".count)) }, "\(up)")
            #expect(port > 0 && port < 65536)
            #expect(up.stdout.contains("export K8SENV_WEBHOOK_PORT_HOOKS=\(port)\n"), "\(up)")
            #expect(up.stdout.contains("export K8SENV_WEBHOOK_CERT_DIR="), "\(up)")

            let env = try await ws.k8senv("env", "-f", "k8senv.yaml")
            #expect(env.stdout == up.stdout, "\(env)")
            let one = try await ws.k8senv("env", "-f", "k8senv.yaml", "-e", "hooks")
            let lines = one.stdout.split(separator: "\n").map { String($0.split(separator: "=")[0]) }
            #expect(
                lines == [
                    "export KUBECONFIG", "export K8SENV_WEBHOOK_HOST", "export K8SENV_WEBHOOK_PORT",
                    "export K8SENV_WEBHOOK_CERT_DIR",
                ], "\(one)")

            // The server started from those variables answers kube-apiserver.
            let served = try await ws.shell(
                """
                eval "$(k8senv env -f k8senv.yaml)"
                SERVER=$(python3 "$PWD/server.py" --background "$PWD/server.log") || exit 1
                trap 'kill $SERVER' EXIT
                kubectl create configmap c -n hooked --from-literal=a=b >/dev/null || exit 1
                kubectl get configmap c -n hooked -o jsonpath='{.metadata.labels.k8senv\\.dev/mutated}'
                """)
            #expect(served.status == 0 && served.stdout == "yes", "\(served)")

            // A lease of the pool service carries them: acquire's exports, and an attached run's.
            let acquired = try await ws.shell("k8senv acquire -f k8senv.yaml -e hooks")
            #expect(
                acquired.status == 0 && acquired.stdout.contains("export K8SENV_WEBHOOK_PORT=\(port)\n"), "\(acquired)")
            #expect(acquired.stdout.contains("export K8SENV_WEBHOOK_CERT_DIR="), "\(acquired)")
            let json = try await ws.shell("k8senv acquire -f k8senv.yaml -e hooks --format json")
            let webhook = parseJSONObject(json.stdout)?["webhook"] as? [String: Any]
            #expect(webhook?["host"] as? String == "127.0.0.1" && webhook?["port"] as? Int == port, "\(json)")
            let attached = try await ws.k8senv(
                "run", "-f", "k8senv.yaml", "-e", "hooks", "--", "sh", "-c", "echo port=$K8SENV_WEBHOOK_PORT")
            #expect(attached.stderr.contains("attached to the pool service"), "\(attached)")
            #expect(attached.assignments["port"] == String(port), "\(attached)")

            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")
        }
    }
}
