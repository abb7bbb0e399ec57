import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Concurrent k8senv processes", .tags(.integration), .timeLimit(Integration.timeLimit), .integrationSlot)
struct ConcurrentUpTests {
    @Test("four `k8senv up` processes started together on an empty cache build the snapshot once, and all succeed")
    func fourBuildOnce() async throws {
        _ = try await TestBinaries.resolved()
        let binary = try k8senvBinary()
        let project = try Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                timeouts: {start: 120s}
                environments:
                  base:
                    pool: {size: 1}
                    crds: [crds/]
                    seeds:
                      - name: namespaces
                        manifests: [seeds/namespaces.yaml]
                """, seeds: ["seeds/namespaces.yaml": layeredSeeds["seeds/namespaces.yaml"]!])
        var variables = ProcessInfo.processInfo.environment
        variables["XDG_CACHE_HOME"] = project.path + "/xdg"
        let environment = variables
        let results = try await withThrowingTaskGroup(of: (Int32, String).self) { group in
            for i in 0..<4 {
                group.addTask {
                    let result = try await runToolAsync(
                        binary,
                        [
                            "up", "--detach", "-f", project.path + "/k8senv.yaml",
                            "--state-dir", project.path + "/state-\(i)",
                        ], environment: environment)
                    let log =
                        (try? String(contentsOfFile: project.path + "/state-\(i)/supervisor.log", encoding: .utf8))
                        ?? ""
                    return (result.status, result.output + "\n" + log)
                }
            }
            var all: [(Int32, String)] = []
            for try await r in group { all.append(r) }
            return all
        }
        for i in 0..<4 {
            _ = try runTool(
                binary, ["down", "-f", project.path + "/k8senv.yaml", "--state-dir", project.path + "/state-\(i)"],
                environment: environment)
        }
        for (status, output) in results { #expect(status == 0, "\(output)") }
        let builds = results.filter { $0.1.contains("cache miss") }.count
        let hits = results.filter { $0.1.contains("(cache hit") }.count
        #expect(builds == 1, "\(results.map(\.1).joined(separator: "\n----\n"))")
        #expect(hits == 3)
        #expect(SnapshotStore(root: project.path + "/xdg/k8senv/snapshots").list().count == 1)
        #expect(try runningProcesses(mentioning: project.path).isEmpty)
    }
}
