import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@testable import K8sEnvRunner

/// A config (k8senv.yaml in a temporary folder) with these gates, loaded.
private func config(gates: String, in folder: TemporaryDirectory) throws -> Config {
    _ = try folder.write(
        "k8senv.yaml",
        """
        apiVersion: k8senv.dev/v1alpha1
        kind: Config
        apiServer:
          featureGates:
        \(gates.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        environments: {base: {}}

        """)
    return try ConfigLoader(variables: [:]).load(folder.path + "/k8senv.yaml")
}

@Suite(
    "Feature gates and runtime config on the real kube-apiserver", .tags(.integration), .serialized,
    .timeLimit(Integration.timeLimit), .integrationSlot)
struct FeatureGateServerTests {
    @Test(
        "the binary's gates: --help parsed and cached; a typo is an error at the name with the closest gate; a GA gate it still takes passes; a locked one is refused in its words"
    )
    func checkAgainstBinary() async throws {
        let binaries = try await TestBinaries.resolved()
        let listed = try await FeatureGates.listed(by: binaries.kubeAPIServer)
        #expect(listed.contains(FeatureGate(name: "APIPriorityAndFairness", stage: "BETA", defaultValue: true)))
        #expect(
            listed.count == FeatureGates.parse(help: KubeAPIServerHelp.v1_20_2Excerpt).count
                || binaries.kubeAPIServerVersion.text != "v1.20.2")
        let key = try #require(BinaryVersion.cacheKey(binaries.kubeAPIServer))
        let cached = try String(contentsOfFile: FeatureGates.cacheDirectory + "/" + key, encoding: .utf8)
        #expect(FeatureGates.decode(cached) == listed)

        let dir = try TemporaryDirectory()
        let typo = try config(
            gates: "APIPriorityAndFairnes: false\nEphemeralContainers: true\nCustomResourceValidationExpresions: true",
            in: dir)
        let errors = try await FeatureGates.check(typo, apiServer: binaries.kubeAPIServer)
        let version = binaries.kubeAPIServerVersion.text
        #expect(
            errors.map(\.message) == [
                "apiServer.featureGates.APIPriorityAndFairnes: kube-apiserver \(version) has no feature gate \"APIPriorityAndFairnes\"; did you mean \"APIPriorityAndFairness\"?",
                "apiServer.featureGates.CustomResourceValidationExpresions: kube-apiserver \(version) has no feature gate \"CustomResourceValidationExpresions\"",
            ])
        #expect(errors.map(\.location.description) == [dir.path + "/k8senv.yaml:5:5", dir.path + "/k8senv.yaml:7:5"])
        #expect(errors.allSatisfy { $0.code == .featureGate && $0.severity == .error })

        // TokenRequest is GA in 1.20: not in --help, but taken; locked to true, so false is refused.
        #expect(
            try await FeatureGates.check(
                try config(gates: "TokenRequest: true", in: dir), apiServer: binaries.kubeAPIServer
            ).isEmpty)
        let locked = try await FeatureGates.check(
            try config(gates: "TokenRequest: false", in: dir), apiServer: binaries.kubeAPIServer)
        #expect(
            locked.map(\.message) == [
                "apiServer.featureGates.TokenRequest: kube-apiserver \(version) does not take it: cannot set feature gate TokenRequest to false, feature is locked to true"
            ])
    }

    static func project(_ apiServer: String) throws -> Project {
        try Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                \(apiServer)
                environments:
                  e: {pool: {size: 1}}
                """)
    }

    /// What the server lists: the versions of an API group, the resources of a group version.
    struct Discovery {
        var batch: [String]
        var autoscaling: [String]
        var coreResources: [String]

        init(_ project: Project, kubeconfig: String) throws {
            func json(_ path: String) throws -> [String: Any] {
                let text = try project.kubectl(kubeconfig, ["get", "--raw", path])
                return try #require(
                    try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(path): \(text)")
            }
            func versions(_ group: String) throws -> [String] {
                (try json("/apis/" + group)["versions"] as? [[String: Any]] ?? []).compactMap {
                    $0["version"] as? String
                }
            }
            batch = try versions("batch")
            autoscaling = try versions("autoscaling")
            coreResources = (try json("/api/v1")["resources"] as? [[String: Any]] ?? []).compactMap {
                $0["name"] as? String
            }
        }
    }

    /// The arguments a running process was started with.
    static func commandLine(_ pid: Int32) throws -> [String] {
        let data = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"))
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test(
        "runtimeConfig turns off APIs 1.20 serves (batch/v1beta1, autoscaling/v2beta2) and featureGates turn on one it does not (EphemeralContainers): discovery shows both, the command line has one flag each"
    )
    func servedAPIs() async throws {
        _ = try await TestBinaries.resolved()
        let plain = try Self.project("")
        let before = try await plain.withSession(noCache: true) {
            (_: Session, record: RunRecord) async throws -> Discovery in
            let arguments = try Self.commandLine(record.instances[0].apiServerPID)
            #expect(
                !arguments.contains { $0.hasPrefix("--feature-gates") || $0.hasPrefix("--runtime-config") },
                "\(arguments)")
            return try Discovery(plain, kubeconfig: record.instances[0].kubeconfig)
        }
        #expect(before.batch.contains("v1beta1"), "\(before.batch)")
        #expect(before.autoscaling.contains("v2beta2"), "\(before.autoscaling)")
        #expect(!before.coreResources.contains("pods/ephemeralcontainers"))

        let switched = try Self.project(
            """
            apiServer:
              featureGates: {EphemeralContainers: true, APIPriorityAndFairness: false}
              runtimeConfig:
                batch/v1beta1: false
                autoscaling/v2beta2: false
            """)
        let after = try await switched.withSession(noCache: true) {
            (_: Session, record: RunRecord) async throws -> Discovery in
            let arguments = try Self.commandLine(record.instances[0].apiServerPID)
            #expect(
                arguments.filter { $0.hasPrefix("--feature-gates") } == [
                    "--feature-gates=APIPriorityAndFairness=false,EphemeralContainers=true"
                ])
            #expect(
                arguments.filter { $0.hasPrefix("--runtime-config") } == [
                    "--runtime-config=autoscaling/v2beta2=false,batch/v1beta1=false"
                ])
            return try Discovery(switched, kubeconfig: record.instances[0].kubeconfig)
        }
        #expect(!after.batch.contains("v1beta1"), "\(after.batch)")
        #expect(after.batch.contains("v1"), "\(after.batch)")
        #expect(!after.autoscaling.contains("v2beta2"), "\(after.autoscaling)")
        #expect(after.autoscaling.contains("v1"), "\(after.autoscaling)")
        #expect(after.coreResources.contains("pods/ephemeralcontainers"), "\(after.coreResources)")
    }

    @Test("up with a gate the binary does not have fails before anything starts, at the gate's file:line:col")
    func upRefusesUnknownGate() async throws {
        _ = try await TestBinaries.resolved()
        let project = try Self.project("apiServer:\n  featureGates:\n    EphemeralContainer: true")
        let error = try #require(try await project.startError())
        #expect(error.code == .invalidConfig, "\(error.report)")
        #expect(
            error.report.contains(
                "k8senv.yaml:7:5: error: apiServer.featureGates.EphemeralContainer: kube-apiserver v"),
            "\(error.report)")
        #expect(
            error.report.contains("has no feature gate \"EphemeralContainer\"; did you mean \"EphemeralContainers\"?"),
            "\(error.report)")
        #expect(error.report.contains("\n        EphemeralContainer: true\n        ^"), "\(error.report)")
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }
}
