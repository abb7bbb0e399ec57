import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// A copy of the webhook project (Tests/Fixtures/webhooks) with its own snapshot cache.
final class WebhookFixture: Sendable {
    let dir: TemporaryDirectory
    var config: String { dir.path + "/k8senv.yaml" }
    var cache: String { dir.path + "/cache" }

    init() throws {
        dir = try TemporaryDirectory()
        let fixtures = PackageLocations.root + "/Tests/Fixtures/webhooks"
        for entry in try FileManager.default.contentsOfDirectory(atPath: fixtures) {
            try FileManager.default.copyItem(atPath: fixtures + "/" + entry, toPath: dir.path + "/" + entry)
        }
    }

    func plan(profile: String? = nil, variables: [String: String] = ProcessInfo.processInfo.environment) throws -> (
        Plan, SourceFiles
    ) {
        let files = SourceFiles()
        let config = try ConfigLoader(variables: variables, files: files).load(config, profile: profile)
        return (try Plan(config), files)
    }
}

/// The clientConfig of the first webhook of a configuration, or of a CRD's conversion.
func clientConfig(_ object: [String: Any]?) -> [String: Any] {
    if let webhooks = object?["webhooks"] as? [[String: Any]] {
        return webhooks.first?["clientConfig"] as? [String: Any] ?? [:]
    }
    let conversion = (object?["spec"] as? [String: Any])?["conversion"] as? [String: Any]
    return (conversion?["webhook"] as? [String: Any])?["clientConfig"] as? [String: Any] ?? [:]
}

extension KubeClient {
    /// The JSON object at `path`, or nil on 404.
    func object(_ path: String) async throws -> [String: Any]? {
        let response = try await send("GET", path)
        if response.status == 404 { return nil }
        guard let json = response.json else {
            throw FixtureError("GET \(path): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return json
    }
}
