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
                String(decoding: change.key, as: UTF8.self).hasPrefix(crdPrefix)
            else { return nil }
            return served(value)
        }
        let poll = Poll(every: .milliseconds(5), for: .seconds(30))
        for crd in deletedCRDs {
            for version in crd.versions {
                let gone = try await poll.until { () async throws -> Bool in
                    try await !isServed(instance.client, group: crd.group, version: version, plural: crd.plural)
                }
                if case .failure(let gaveUp) = gone {
                    if gaveUp.reason == .cancelled { throw CancellationError() }
                    throw KubeClientError(
                        status: nil,
                        message:
                            "\(crd.plural).\(crd.group)/\(version) is still served 30 s after the reset deleted it",
                        body: [])
                }
            }
        }
    }

    static let crdPrefix = "/registry/apiextensions.k8s.io/customresourcedefinitions/"

    /// Group, served versions and plural of a stored CRD (JSON, as kube-apiserver 1.20 stores it).
    static func served(_ value: Data) -> (group: String, versions: [String], plural: String)? {
        struct StoredCRD: Decodable {
            struct Spec: Decodable {
                struct Names: Decodable { var plural: String }
                struct Version: Decodable {
                    var name: String
                    var served: Bool?
                }
                var group: String
                var names: Names
                var versions: [Version]?
                /// apiextensions.k8s.io/v1beta1's single version.
                var version: String?
            }
            var spec: Spec
        }
        guard let spec = (try? JSONDecoder().decode(StoredCRD.self, from: value))?.spec else { return nil }
        var versions = (spec.versions ?? []).filter { $0.served ?? true }.map(\.name)
        if versions.isEmpty, let version = spec.version { versions = [version] }
        return (spec.group, versions, spec.names.plural)
    }

    static func isServed(_ client: KubeClient, group: String, version: String, plural: String) async throws -> Bool {
        do {
            return try await Discovery.resources(client, group: group, version: version, timeout: .seconds(5))?
                .resources.contains { $0.name == plural } ?? false
        } catch {
            // Answered, but not with a list (the group going away): not served. Unreachable: thrown.
            if error.status == nil { throw error }
            return false
        }
    }
}
