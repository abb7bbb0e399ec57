import Foundation
import K8sEnvSpec

/// What an instance held when it was handed out: every object's uid, by resource.
struct Baseline: Sendable {
    var resources: [ResourceInfo]
    var uids: Set<String>
}

/// What a release removed.
struct CleanupReport: Sendable {
    var deleted = 0
    var namespaces = 0
}

/// Puts an instance back to the state it was handed out in, as far as deleting can: every
/// object created since is deleted (finalizers removed, since no controller-manager runs to
/// honour them), new namespaces last. Objects that were changed but not created keep their
/// changes; see docs/explanation/pools.md.
enum Cleanup {
    static let parallelism = 16

    /// Every resource the server serves that can be listed and deleted: each in the version it
    /// is stored in when its group serves that version (discovery's `storageVersionHash` says
    /// which), else in its group's preferred version when that version serves it, else in the
    /// first version that does (a group's CRDs may each serve different versions).
    ///
    /// The stored version first: reading a custom resource in another version makes
    /// kube-apiserver call the CRD's conversion webhook, which may not run (the test's webhook
    /// server is not up when an instance is lent or given back); in the stored version it is
    /// never called.
    static func resources(_ client: KubeClient) async throws(KubeClientError) -> [ResourceInfo] {
        /// Ranks below every preferred or listed version.
        let stored = -1
        let groupVersions: [(group: String, versions: [String])] =
            [("", ["v1"])]
            + (try await Discovery.groups(client)).groups.map { ($0.name, $0.versionsPreferredFirst) }
        // Each version's resources with their rank: stored first, then preferred, then in order.
        let perVersion = await withTaskGroup(of: (String, [(rank: Int, info: ResourceInfo)]).self) { group in
            for (groupName, versions) in groupVersions {
                for (rank, version) in versions.enumerated() {
                    group.addTask {
                        guard let list = try? await Discovery.resources(client, group: groupName, version: version)
                        else { return (groupName, []) }
                        return (
                            groupName,
                            list.resources.compactMap { r in
                                guard !r.isSubresource, let verbs = r.verbs, verbs.contains("list"),
                                    verbs.contains("delete")
                                else { return nil }
                                let isStored =
                                    r.storageVersionHash
                                    == storageVersionHash(group: groupName, version: version, kind: r.kind)
                                return (
                                    isStored ? stored : rank,
                                    ResourceInfo(
                                        group: groupName, version: version, resource: r.name, kind: r.kind,
                                        namespaced: r.namespaced ?? false)
                                )
                            }
                        )
                    }
                }
            }
            var all: [(String, [(rank: Int, info: ResourceInfo)])] = []
            for await entry in group { all.append(entry) }
            return all
        }
        // One entry per group and resource, the best-ranked version first. The same kind served
        // by two groups (events in core and events.k8s.io) is listed twice: harmless, the uids match.
        var chosen: [String: (rank: Int, info: ResourceInfo)] = [:]
        for (groupName, infos) in perVersion {
            for (rank, info) in infos {
                let key = groupName + "/" + info.resource
                if let existing = chosen[key], existing.rank <= rank { continue }
                chosen[key] = (rank, info)
            }
        }
        return chosen.values.map(\.info).sorted { $0.basePath + $0.resource < $1.basePath + $1.resource }
    }

    /// What discovery gives as `storageVersionHash` for a resource stored as `group/version`
    /// `kind`: the first 8 bytes of SHA-256 over `group/version/kind`, base64.
    static func storageVersionHash(group: String, version: String, kind: String) -> String {
        let hasher = SHA256Hasher()
        hasher.update(group + "/" + version + "/" + kind)
        return Data(hasher.digest().prefix(8)).base64EncodedString()
    }

    struct Object: Sendable {
        var resource: ResourceInfo
        var namespace: String?
        var name: String
        var uid: String
        /// The store revision of its last write (nil if not a number).
        var resourceVersion: Int64?
        var finalizers: Bool
    }

    /// Every object of the resources, across namespaces.
    static func list(_ client: KubeClient, _ resources: [ResourceInfo]) async throws(KubeClientError) -> [Object] {
        try await listResponses(client, resources).flatMap { resource, response -> [Object] in
            // A resource that vanished (its CRD was deleted) has nothing left to clean.
            guard response.status == 200 else { return [] }
            return (response.decode(ObjectList.self)?.items ?? []).compactMap { item in
                let metadata = item.metadata
                guard let name = metadata.name, let uid = metadata.uid else { return nil }
                return Object(
                    resource: resource, namespace: metadata.namespace, name: name, uid: uid,
                    resourceVersion: metadata.resourceVersion.flatMap { Int64($0) },
                    finalizers: !(metadata.finalizers?.isEmpty ?? true))
            }
        }
    }

    /// The list response of each resource, across namespaces, `parallelism` at a time, in the
    /// order of `resources`; `query` (e.g. `resourceVersion=5&resourceVersionMatch=Exact`) is
    /// added to each path. Any status is returned; only a failed request throws.
    static func listResponses(
        _ client: KubeClient, _ resources: [ResourceInfo],
        query: String? = nil
    ) async throws(KubeClientError) -> [(ResourceInfo, KubeClient.Response)] {
        let results = await withTaskGroup(of: (Int, Result<KubeClient.Response, KubeClientError>).self) { group in
            var pending = resources.enumerated()[...]
            var results: [(Int, Result<KubeClient.Response, KubeClientError>)] = []
            func add() {
                guard let (index, resource) = pending.popFirst() else { return }
                group.addTask {
                    do throws(KubeClientError) {
                        return (
                            index,
                            .success(
                                try await client.send(
                                    "GET", resource.basePath + "/" + resource.resource + (query.map { "?" + $0 } ?? ""))
                            )
                        )
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            for _ in 0..<parallelism { add() }
            while let result = await group.next() {
                results.append(result)
                add()
            }
            return results
        }
        var responses: [(ResourceInfo, KubeClient.Response)] = []
        for (index, result) in results.sorted(by: { $0.0 < $1.0 }) {
            switch result {
            case .success(let response): responses.append((resources[index], response))
            case .failure(let error): throw error
            }
        }
        return responses
    }

    static func baseline(_ client: KubeClient) async throws(KubeClientError) -> Baseline {
        let resources = try await resources(client)
        let objects = try await list(client, resources)
        return Baseline(resources: resources, uids: Set(objects.map(\.uid)))
    }

    /// Deletes what was created since the baseline.
    static func clean(_ client: KubeClient, baseline: Baseline) async throws(KubeClientError) -> CleanupReport {
        try await clean(client, resources: baseline.resources) { !baseline.uids.contains($0.uid) }
    }

    /// Deletes the objects of `resources` that `isCreated` picks: custom resource definitions
    /// first (with their custom resources), then other objects, then namespaces.
    static func clean(
        _ client: KubeClient, resources: [ResourceInfo],
        isCreated: (Object) -> Bool
    ) async throws(KubeClientError) -> CleanupReport {
        let created = try await list(client, resources).filter(isCreated)
        guard !created.isEmpty else { return CleanupReport() }
        let namespaces = created.filter { $0.resource.group.isEmpty && $0.resource.resource == "namespaces" }
        let others = created.filter { !($0.resource.group.isEmpty && $0.resource.resource == "namespaces") }
        // CRDs first: deleting one removes its custom resources with it.
        let crds = others.filter { $0.resource.resource == "customresourcedefinitions" }
        let rest = others.filter { $0.resource.resource != "customresourcedefinitions" }
        var report = CleanupReport()
        // A CRD's deletion is finished by the API server's own CRD finalizer, which removes its
        // custom resources first: wait for that (bounded), so no orphaned resource can come back.
        try await forEach(crds) { crd throws(KubeClientError) in try await deleteCRD(client, crd) }
        try await forEach(rest) { object throws(KubeClientError) in try await delete(client, object) }
        report.deleted += crds.count + rest.count
        try await forEach(namespaces) { namespace throws(KubeClientError) in
            try await deleteNamespace(client, namespace)
        }
        report.namespaces = namespaces.count
        report.deleted += namespaces.count
        return report
    }

    static func path(_ object: Object) -> String {
        object.resource.path(name: object.name, namespace: object.namespace)
    }

    static func delete(_ client: KubeClient, _ object: Object) async throws(KubeClientError) {
        let path = path(object)
        if object.finalizers { try await removeFinalizers(client, path) }
        let response = try await client.delete(path + "?gracePeriodSeconds=0")
        guard response.status == 200 || response.status == 202 || response.status == 404 else {
            throw KubeClientError(
                status: response.status, message: "cannot delete \(path): \(response.status)", body: response.body)
        }
    }

    static func deleteCRD(_ client: KubeClient, _ crd: Object) async throws(KubeClientError) {
        let path = path(crd)
        let response = try await client.delete(path)
        guard response.status == 200 || response.status == 202 || response.status == 404 else {
            throw KubeClientError(
                status: response.status, message: "cannot delete \(path): \(response.status)", body: response.body)
        }
        let gone = try await Poll(every: .milliseconds(20), for: .seconds(20)).until {
            () throws(KubeClientError) -> Bool in
            try await client.send("GET", path).status == 404
        }
        if case .success = gone { return }
        // Stuck (a custom resource with a finalizer of its own): force it.
        try await removeFinalizers(client, path)
    }

    static func removeFinalizers(_ client: KubeClient, _ path: String) async throws(KubeClientError) {
        let response = try await client.send(
            "PATCH", path, body: Array(#"{"metadata":{"finalizers":null}}"#.utf8),
            contentType: "application/merge-patch+json")
        guard response.status == 200 || response.status == 404 else {
            throw KubeClientError(
                status: response.status, message: "cannot remove the finalizers of \(path): \(response.status)",
                body: response.body)
        }
    }

    /// Without a controller-manager nothing finalizes a namespace: delete it, then clear its
    /// spec finalizers through the `finalize` subresource (and any metadata finalizers).
    static func deleteNamespace(_ client: KubeClient, _ namespace: Object) async throws(KubeClientError) {
        let path = "/api/v1/namespaces/\(namespace.name)"
        if namespace.finalizers { try await removeFinalizers(client, path) }
        let deleted = try await client.delete(path)
        guard deleted.status == 200 || deleted.status == 202 || deleted.status == 404 else {
            throw KubeClientError(
                status: deleted.status, message: "cannot delete namespace \(namespace.name): \(deleted.status)",
                body: deleted.body)
        }
        guard deleted.status != 404, case .object(var object)? = deleted.value,
            case .object(var spec)? = object["spec"],
            !(spec["finalizers"]?.array?.isEmpty ?? true)
        else { return }
        spec["finalizers"] = .array([])
        object["spec"] = .object(spec)
        let body = Array(JSONOutput.encode(JSONValue.object(object)).utf8)
        let finalized = try await client.send("PUT", path + "/finalize", body: body)
        guard finalized.status == 200 || finalized.status == 404 else {
            throw KubeClientError(
                status: finalized.status, message: "cannot finalize namespace \(namespace.name): \(finalized.status)",
                body: finalized.body)
        }
    }

    static func forEach(_ objects: [Object], _ body: @escaping @Sendable (Object) async throws(KubeClientError) -> Void)
        async throws(KubeClientError)
    {
        let failures = await withTaskGroup(of: KubeClientError?.self) { group in
            var pending = objects[...]
            var failures: [KubeClientError] = []
            func add() {
                guard let object = pending.popFirst() else { return }
                group.addTask {
                    do throws(KubeClientError) { try await body(object) } catch { return error }
                    return nil
                }
            }
            for _ in 0..<parallelism { add() }
            while let failure = await group.next() {
                if let failure { failures.append(failure) }
                add()
            }
            return failures
        }
        if let first = failures.first { throw first }
    }
}
