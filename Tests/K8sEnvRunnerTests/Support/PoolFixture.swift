import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

/// One project (config, CRDs, seeds) and one snapshot cache for the whole suite: each test makes
/// its own pool, the first one builds the snapshot.
enum PoolFixture {
    static let project: Project = {
        // swiftlint:disable:next force_try
        try! Project(
            config: """
                apiVersion: k8senv.dev/v1alpha1
                kind: Config
                binaries: {kubeAPIServer: "${K8SENV_KUBE_APISERVER:-kube-apiserver}", etcd: "${K8SENV_ETCD:-etcd}", kine: "${K8SENV_KINE:-kine}"}
                storage: "${K8SENV_STORAGE:-embedded}"
                timeouts: {acquire: 60s}
                environments:
                  base:
                    pool: {size: 2}
                    crds: [crds/]
                    seeds:
                      - name: namespaces
                        manifests: [seeds/namespaces.yaml]
                      - name: config
                        dependsOn: [namespaces]
                        manifests: [seeds/config.yaml]
                """, seeds: layeredSeeds)
    }()

    static func pool(size: Int? = nil, acquireTimeout: Duration? = nil) throws -> EnvironmentPool {
        let configuration = try K8sEnvConfiguration.load(project.path + "/k8senv.yaml")
        return try configuration.pool(
            for: "base",
            options: PoolOptions(
                size: size, acquireTimeout: acquireTimeout,
                cacheDirectory: project.cache))
    }

    /// Runs `body` with a pool and shuts it down on every path.
    static func with<T>(
        size: Int? = nil, acquireTimeout: Duration? = nil,
        _ body: (EnvironmentPool) async throws -> T
    ) async throws -> T {
        _ = try await TestBinaries.resolved()
        let pool = try pool(size: size, acquireTimeout: acquireTimeout)
        do {
            let result = try await body(pool)
            await pool.shutdown()
            return result
        } catch {
            await pool.shutdown()
            throw error
        }
    }
}

func names(_ client: KubeClient, _ path: String) async throws -> Set<String> {
    let items = try await client.get(path).json?["items"] as? [[String: Any]] ?? []
    return Set(items.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String })
}

func create(_ client: KubeClient, _ path: String, _ json: String) async throws {
    _ = try await client.create(path, object: Array(json.utf8))
}
