import Foundation
import Testing

/// `k8senv validate` on apiServer.featureGates: checked against the kube-apiserver the config
/// names when it can be found, a note when it cannot.
@Suite(
    "validate: apiServer.featureGates against kube-apiserver (the built binary)", .tags(.cli), .timeLimit(.minutes(1)))
struct FeatureGateCLITests {
    static func config(kubeAPIServer: String, gates: String) -> String {
        """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        binaries:
          kubeAPIServer: \(kubeAPIServer)
        apiServer:
          featureGates:
        \(gates.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
          runtimeConfig:
            batch/v1beta1: false
        environments:
          base: {}
        profiles:
          alpha:
            apiServer:
              featureGates: {AllAlpha: true, EphemeralContainer: true}

        """
    }

    @Test(
        "a misspelt gate is an error at its name with the real name; one with no near name is an error too; a profile's own typo is marked with the profile"
    )
    func unknownGate() async throws {
        _ = try RealBinaries.require()
        let text = Self.config(
            kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}",
            gates: "APIPriorityAndFairnes: false\nEphemeralContainers: true\nCustomResourceValidationExpresions: true")
        try await Workspace.with(config: text, apiServers: false) { ws in
            let outcome = try await ws.k8senv("validate", "-f", "k8senv.yaml")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stdout.contains(
                    """
                    k8senv.yaml:7:5: error: apiServer.featureGates.APIPriorityAndFairnes: kube-apiserver v1.20.2 has no feature gate "APIPriorityAndFairnes"; did you mean "APIPriorityAndFairness"?
                            APIPriorityAndFairnes: false
                            ^
                    """), "\(outcome)")
            #expect(
                outcome.stdout.contains(
                    """
                    k8senv.yaml:9:5: error: apiServer.featureGates.CustomResourceValidationExpresions: kube-apiserver v1.20.2 has no feature gate "CustomResourceValidationExpresions"\n
                    """), "\(outcome)")
            #expect(
                outcome.stdout.contains(
                    """
                    k8senv.yaml:17:38: error: apiServer.featureGates.EphemeralContainer: kube-apiserver v1.20.2 has no feature gate "EphemeralContainer"; did you mean "EphemeralContainers"? (with profile "alpha")
                    """), "\(outcome)")
            #expect(outcome.stdout.hasSuffix("k8senv.yaml: 3 errors\n"), "\(outcome)")

            let json = try await ws.k8senv("validate", "-f", "k8senv.yaml", "--format", "json")
            #expect(json.status == 1, "\(json)")
            let object = try #require(parseJSONObject(json.stdout))
            let errors = try #require(object["errors"] as? [[String: Any]])
            #expect(errors.map { $0["code"] as? String } == ["feature-gate", "feature-gate", "feature-gate"])
            #expect(errors.map { $0["line"] as? Int } == [7, 9, 17])
            #expect(errors.map { $0["column"] as? Int } == [5, 5, 38])
        }
    }

    @Test(
        "with the gates right, validate passes; the same file with no kube-apiserver to ask is valid with a note at the key"
    )
    func validAndNote() async throws {
        _ = try RealBinaries.require()
        let good = Self.config(
            kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}",
            gates: "APIPriorityAndFairness: false\nTokenRequest: true"
        )
        .replacingOccurrences(of: "EphemeralContainer: true", with: "EphemeralContainers: true")
        try await Workspace.with(config: good, apiServers: false) { ws in
            let outcome = try await ws.k8senv("validate", "-f", "k8senv.yaml")
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.stdout == "k8senv.yaml: valid (1 environment, 1 profile checked)\n", "\(outcome)")
        }
        let missing = good.replacingOccurrences(
            of: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", with: "./no-kube-apiserver-here")
        try await Workspace.with(config: missing, apiServers: false) { ws in
            let outcome = try await ws.k8senv("validate", "-f", "k8senv.yaml")
            #expect(outcome.status == 0, "\(outcome)")
            #expect(
                outcome.stdout == """
                    k8senv.yaml:6:3: note: apiServer.featureGates: not checked against kube-apiserver's gates: binaries.kubeAPIServer: ./no-kube-apiserver-here does not exist
                          featureGates:
                          ^
                    k8senv.yaml: valid (1 environment, 1 profile checked)

                    """, "\(outcome)")
            let json = try await ws.k8senv("validate", "-f", "k8senv.yaml", "--format", "json")
            #expect(json.status == 0, "\(json)")
            let object = try #require(parseJSONObject(json.stdout))
            #expect(object["valid"] as? Bool == true)
            #expect((object["errors"] as? [Any])?.isEmpty == true)
            let notes = try #require(object["notes"] as? [[String: Any]])
            #expect(notes.map { $0["code"] as? String } == ["not-checked"])
            #expect(notes.map { $0["line"] as? Int } == [6])
        }
    }
}
