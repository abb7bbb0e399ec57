import Foundation
import K8sEnvTestSupport
import K8sEnvRunner
import K8sEnvSpec
import Testing

@Suite("Feature gates and runtime config: the flags", .tags(.fast))
struct FeatureGateTests {
    @Test("gates and runtime config become one flag each, sorted by name, before extraArgs")
    func arguments() {
        let args = APIServerArguments.make(
            version: KubeVersion(major: 1, minor: 20), layout: FlagTests.layout(),
            featureGates: ["EphemeralContainers": true, "APIPriorityAndFairness": false, "AllAlpha": true],
            runtimeConfig: ["batch/v1beta1": false, "api/alpha": true, "autoscaling/v2beta2": false],
            extraArgs: ["--v=2"])
        #expect(args.filter { $0.hasPrefix("--feature-gates") } == ["--feature-gates=APIPriorityAndFairness=false,AllAlpha=true,EphemeralContainers=true"])
        #expect(args.filter { $0.hasPrefix("--runtime-config") } == ["--runtime-config=api/alpha=true,autoscaling/v2beta2=false,batch/v1beta1=false"])
        #expect(Array(args.suffix(3)) == [
            "--feature-gates=APIPriorityAndFairness=false,AllAlpha=true,EphemeralContainers=true",
            "--runtime-config=api/alpha=true,autoscaling/v2beta2=false,batch/v1beta1=false",
            "--v=2",
        ])
        let none = APIServerArguments.make(version: KubeVersion(major: 1, minor: 20), layout: FlagTests.layout(), extraArgs: [])
        #expect(!none.contains { $0.hasPrefix("--feature-gates") || $0.hasPrefix("--runtime-config") })
    }
}

@Suite("Feature gates and runtime config on the real kube-apiserver", .tags(.integration), .serialized, .timeLimit(.minutes(5)))
struct FeatureGateServerTests {
    static func project(_ apiServer: String) throws -> Project {
        try Project(config: """
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
                return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(path): \(text)")
            }
            func versions(_ group: String) throws -> [String] {
                (try json("/apis/" + group)["versions"] as? [[String: Any]] ?? []).compactMap { $0["version"] as? String }
            }
            batch = try versions("batch")
            autoscaling = try versions("autoscaling")
            coreResources = (try json("/api/v1")["resources"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        }
    }

    /// The arguments a running process was started with.
    static func commandLine(_ pid: Int32) throws -> [String] {
        let data = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"))
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("runtimeConfig turns off APIs 1.20 serves (batch/v1beta1, autoscaling/v2beta2) and featureGates turn on one it does not (EphemeralContainers): discovery shows both, the command line has one flag each")
    func servedAPIs() async throws {
        _ = try await TestBinaries.resolved()
        let plain = try Self.project("")
        let before = try await plain.withSession(noCache: true) { (_: Session, record: RunRecord) async throws -> Discovery in
            let arguments = try Self.commandLine(record.instances[0].apiServerPID)
            #expect(!arguments.contains { $0.hasPrefix("--feature-gates") || $0.hasPrefix("--runtime-config") }, "\(arguments)")
            return try Discovery(plain, kubeconfig: record.instances[0].kubeconfig)
        }
        #expect(before.batch.contains("v1beta1"), "\(before.batch)")
        #expect(before.autoscaling.contains("v2beta2"), "\(before.autoscaling)")
        #expect(!before.coreResources.contains("pods/ephemeralcontainers"))

        let switched = try Self.project("""
            apiServer:
              featureGates: {EphemeralContainers: true, APIPriorityAndFairness: false}
              runtimeConfig:
                batch/v1beta1: false
                autoscaling/v2beta2: false
            """)
        let after = try await switched.withSession(noCache: true) { (_: Session, record: RunRecord) async throws -> Discovery in
            let arguments = try Self.commandLine(record.instances[0].apiServerPID)
            #expect(arguments.filter { $0.hasPrefix("--feature-gates") } == ["--feature-gates=APIPriorityAndFairness=false,EphemeralContainers=true"])
            #expect(arguments.filter { $0.hasPrefix("--runtime-config") } == ["--runtime-config=autoscaling/v2beta2=false,batch/v1beta1=false"])
            return try Discovery(switched, kubeconfig: record.instances[0].kubeconfig)
        }
        #expect(!after.batch.contains("v1beta1"), "\(after.batch)")
        #expect(after.batch.contains("v1"), "\(after.batch)")
        #expect(!after.autoscaling.contains("v2beta2"), "\(after.autoscaling)")
        #expect(after.autoscaling.contains("v1"), "\(after.autoscaling)")
        #expect(after.coreResources.contains("pods/ephemeralcontainers"), "\(after.coreResources)")
    }
}
