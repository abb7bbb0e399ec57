import Foundation
import K8sEnvStore

/// Release by reset, for instances on the embedded store: the store writes back the state of
/// the revision the instance was handed out at, as ordinary watch events, so kube-apiserver's
/// caches and informers follow. Unlike deleting through the API, it also undoes changes to
/// objects that existed before, and needs no finalizers or namespace deletion.
enum StoreReset {
    /// Resets `store`, the store of `instance`, to `revision` (``StoreRevision``, taken once when
    /// the instance was first handed out: never moved by a reset). Waits until the API server no longer serves CustomResourceDefinitions the reset deleted,
    /// so the next user's discovery does not see them.
    static func reset(_ store: KeyValueStore, of instance: Instance, to revision: Int64) async throws {
        let changes = try store.reset(to: revision)
        let deletedCRDs = changes.compactMap { change -> (group: String, versions: [String], plural: String)? in
            guard let value = change.deletedValue,
                  String(decoding: change.key, as: UTF8.self).hasPrefix(crdPrefix) else { return nil }
            return served(value)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        for crd in deletedCRDs {
            for version in crd.versions {
                while try await isServed(instance.client, group: crd.group, version: version, plural: crd.plural) {
                    if ContinuousClock.now >= deadline {
                        throw KubeClientError(status: nil, message: "\(crd.plural).\(crd.group)/\(version) is still served 30 s after the reset deleted it", body: [])
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
        }
    }

    static let crdPrefix = "/registry/apiextensions.k8s.io/customresourcedefinitions/"

    /// Group, served versions and plural of a stored CRD (JSON, as kube-apiserver 1.20 stores it).
    static func served(_ value: Data) -> (group: String, versions: [String], plural: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: value) as? [String: Any],
              let spec = object["spec"] as? [String: Any], let group = spec["group"] as? String,
              let plural = (spec["names"] as? [String: Any])?["plural"] as? String else { return nil }
        var versions = ((spec["versions"] as? [[String: Any]]) ?? []).filter { $0["served"] as? Bool ?? true }
            .compactMap { $0["name"] as? String }
        if versions.isEmpty, let version = spec["version"] as? String { versions = [version] }
        return (group, versions, plural)
    }

    static func isServed(_ client: KubeClient, group: String, version: String, plural: String) async throws -> Bool {
        let response = try await client.send("GET", "/apis/\(group)/\(version)", timeout: .seconds(5))
        guard response.status == 200 else { return false }
        guard let list = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let resources = list["resources"] as? [[String: Any]] else { return false }
        return resources.contains { $0["name"] as? String == plural }
    }
}
