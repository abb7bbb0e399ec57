import Foundation
import K8sEnvSpec

/// An object that was created, changed or deleted since an instance's baseline.
package struct ObjectChange: Sendable, Equatable, Codable {
    package enum Change: String, Sendable, Codable {
        case created, changed, deleted
    }

    package var change: Change
    /// `v1`, `apps/v1`, `example.k8senv.dev/v1`: the version k8senv read it in (the stored one).
    package var apiVersion: String
    package var kind: String
    /// Absent for cluster-scoped objects.
    package var namespace: String?
    package var name: String
    /// For `changed`: the fields that differ (empty for created and deleted objects).
    package var fields: [FieldChange]

    package init(
        change: Change, apiVersion: String, kind: String, namespace: String?, name: String, fields: [FieldChange] = []
    ) {
        self.change = change
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.fields = fields
    }

    /// `+ created v1/Namespace leak`, `~ changed v1/ConfigMap default/settings` then one
    /// indented line a field, `- deleted v1/Secret default/token`.
    package var text: String {
        let marker =
            switch change {
            case .created: "+"
            case .changed: "~"
            case .deleted: "-"
            }
        let head = "\(marker) \(change.rawValue) \(apiVersion)/\(kind) \(namespace.map { $0 + "/" } ?? "")\(name)"
        return ([head] + fields.map { "    " + $0.text }).joined(separator: "\n")
    }
}

/// What changed in one instance since its baseline: `k8senv diff`'s answer for it.
package struct InstanceDiff: Sendable, Codable {
    package var instance: String
    package var environment: String
    /// The store revision the instance is compared with: its state when it was handed out.
    package var baselineRevision: Int64
    package var changes: [ObjectChange]

    package init(instance: String, environment: String, baselineRevision: Int64, changes: [ObjectChange]) {
        self.instance = instance
        self.environment = environment
        self.baselineRevision = baselineRevision
        self.changes = changes
    }

    package var text: String {
        guard !changes.isEmpty else { return "\(instance): no changes since revision \(baselineRevision)" }
        let count = changes.count == 1 ? "1 change" : "\(changes.count) changes"
        return (["\(instance): \(count) since revision \(baselineRevision)"] + changes.map(\.text)).joined(
            separator: "\n")
    }
}

/// Compares the objects an instance serves now with those it served at its baseline revision,
/// both read through kube-apiserver (built-in objects are protobuf in storage): every resource
/// that can be listed (``Cleanup/resources(_:)``, in its stored version), listed once as it is
/// and once at the revision (`resourceVersionMatch=Exact`), matched by resource, namespace and
/// name. See docs/explanation/diff.md.
package enum StateDiff {
    /// What `k8senv diff` leaves out unless asked for everything (`--all`).
    package struct Filter: Sendable {
        /// Events, kube-node-lease and kube-system leases, the `kubernetes` service's
        /// endpoints, and the `status` and `metadata.generation` of every object are shown too.
        package var all = false

        package init(all: Bool = false) { self.all = all }

        /// Objects that change by themselves or only record what happened: events, node and
        /// leader-election leases, the `kubernetes` service's endpoints (kube-apiserver writes
        /// its own address there).
        package func isNoise(_ resource: ResourceInfo, namespace: String?, name: String) -> Bool {
            if all { return false }
            switch (resource.group, resource.resource) {
            case ("", "events"), ("events.k8s.io", "events"): return true
            case ("coordination.k8s.io", "leases"): return namespace == "kube-node-lease" || namespace == "kube-system"
            case ("", "endpoints"), ("discovery.k8s.io", "endpointslices"):
                return namespace == "default" && name.hasPrefix("kubernetes")
            default: return false
            }
        }

        /// APIServices kube-apiserver manages itself (label `kube-aggregator.kubernetes.io/automanaged`:
        /// one per built-in group version and per CRD group version): each start writes them
        /// again (a new uid), so an instance started from a copy of another's store (`k8senv
        /// open`) would show them all as changed; a CRD's own change is shown on the CRD.
        ///
        /// And the API Priority and Fairness configuration kube-apiserver writes itself (FlowSchemas
        /// and PriorityLevelConfigurations whose every field manager is its
        /// `api-priority-and-fairness-config-producer-v1`): it writes them from a goroutine of a
        /// post-start hook, not before it reports ready, so on a loaded machine they can appear
        /// after an instance was handed out; a user's own FlowSchema (another manager) is shown.
        package func isServerManaged(_ listed: Listed) -> Bool {
            guard !all else { return false }
            switch (listed.resource.group, listed.resource.resource) {
            case ("apiregistration.k8s.io", "apiservices"):
                return listed.object["metadata"]?["labels"]?["kube-aggregator.kubernetes.io/automanaged"] != nil
            case ("flowcontrol.apiserver.k8s.io", "flowschemas"),
                ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"):
                let managers = (listed.object["metadata"]?["managedFields"]?.array ?? []).map { $0["manager"]?.string }
                return !managers.isEmpty && managers.allSatisfy { $0 == Self.flowControlProducer }
            default:
                return false
            }
        }

        /// The field manager of kube-apiserver's own API Priority and Fairness configuration.
        static let flowControlProducer = "api-priority-and-fairness-config-producer-v1"

        /// The object without what is bookkeeping, never a user's state: `metadata.resourceVersion`,
        /// `managedFields` and `selfLink` always; `status` and `metadata.generation` (bumped by the
        /// change that is shown) unless `all`.
        package func normalized(_ object: JSONValue) -> JSONValue {
            var paths = [["metadata", "resourceVersion"], ["metadata", "managedFields"], ["metadata", "selfLink"]]
            if !all { paths += [["metadata", "generation"], ["status"]] }
            return paths.reduce(object) { $0.removing($1) }
        }
    }

    /// An object's identity for matching: group, resource, namespace, name.
    package struct Key: Hashable, Sendable, Comparable {
        package var group: String
        package var resource: String
        package var namespace: String
        package var name: String

        /// - Parameter namespace: empty for a cluster-scoped object.
        package init(group: String, resource: String, namespace: String, name: String) {
            self.group = group
            self.resource = resource
            self.namespace = namespace
            self.name = name
        }

        package static func < (a: Key, b: Key) -> Bool {
            (a.group, a.resource, a.namespace, a.name) < (b.group, b.resource, b.namespace, b.name)
        }
    }

    /// A listed object: its resource and its JSON.
    package struct Listed: Sendable {
        package var resource: ResourceInfo
        package var object: JSONValue

        package init(resource: ResourceInfo, object: JSONValue) {
            self.resource = resource
            self.object = object
        }
    }

    /// The changes from `before` to `after`, sorted by group, resource, namespace and name.
    package static func compare(before: [Key: Listed], after: [Key: Listed], filter: Filter) -> [ObjectChange] {
        Set(before.keys).union(after.keys).sorted().compactMap { key -> ObjectChange? in
            let listed = after[key] ?? before[key]!
            if filter.isNoise(listed.resource, namespace: key.namespace.isEmpty ? nil : key.namespace, name: key.name) {
                return nil
            }
            if filter.isServerManaged(listed) || before[key].map(filter.isServerManaged) == true { return nil }
            let resource = listed.resource
            let apiVersion = resource.group.isEmpty ? resource.version : resource.group + "/" + resource.version
            let namespace = key.namespace.isEmpty ? nil : key.namespace
            switch (before[key], after[key]) {
            case (nil, _?):
                return ObjectChange(
                    change: .created, apiVersion: apiVersion, kind: resource.kind, namespace: namespace, name: key.name)
            case (_?, nil):
                return ObjectChange(
                    change: .deleted, apiVersion: apiVersion, kind: resource.kind, namespace: namespace, name: key.name)
            case (let old?, let new?):
                let fields = FieldDiff.changes(filter.normalized(old.object), filter.normalized(new.object))
                guard !fields.isEmpty else { return nil }
                return ObjectChange(
                    change: .changed, apiVersion: apiVersion, kind: resource.kind, namespace: namespace,
                    name: key.name, fields: fields)
            case (nil, nil):
                return nil
            }
        }
    }

    /// What changed in the instance `client` serves since `revision`.
    /// - Parameter name: the instance, for messages.
    /// - Throws: ``K8sEnvError`` `historyCompacted` when the store no longer holds `revision`
    ///   (never a diff against the wrong state); `process` when a request fails.
    package static func diff(
        _ client: KubeClient, since revision: Int64, name: String,
        filter: Filter
    ) async throws(K8sEnvError) -> [ObjectChange] {
        do throws(KubeClientError) {
            let resources = try await Cleanup.resources(client)
            // The baseline first: the sooner it is read, the less a compaction can take away.
            let before = try await objects(
                client, resources, query: "resourceVersion=\(revision)&resourceVersionMatch=Exact",
                revision: revision, name: name)
            let after = try await objects(client, resources, query: nil, revision: revision, name: name)
            return compare(before: before, after: after, filter: filter)
        } catch {
            if error.status == 410 {
                throw K8sEnvError(
                    .historyCompacted,
                    """
                    \(name): its store no longer holds revision \(revision), the state it was handed out in: it was compacted \
                    (kube-apiserver compacts etcd and kine every 5 minutes by default), so what changed since cannot be told; \
                    to keep it, start the instances with apiServer.extraArgs: ["--etcd-compaction-interval=0"] \
                    (the embedded store keeps it without)
                    """, cause: error)
            }
            throw K8sEnvError(.process, "\(name): cannot list its objects: \(error)", cause: error)
        }
    }

    /// Every object of `resources`, by key; an object served by two groups (ingresses in
    /// `extensions` and `networking.k8s.io`) once, under the first resource in order.
    static func objects(
        _ client: KubeClient, _ resources: [ResourceInfo], query: String?,
        revision: Int64, name: String
    ) async throws(KubeClientError) -> [Key: Listed] {
        var objects: [Key: Listed] = [:]
        var uids = Set<String>()
        for (resource, response) in try await Cleanup.listResponses(client, resources, query: query) {
            switch response.status {
            case 200: break
            case 404: continue  // no longer served (its CRD was deleted): nothing to list
            default:
                let message = JSONValue.parse(response.body)?["message"]?.string ?? "status \(response.status)"
                throw KubeClientError(
                    status: response.status,
                    message: "cannot list \(resource.basePath)/\(resource.resource)"
                        + (query == nil ? "" : " at revision \(revision)") + ": \(message)", body: response.body)
            }
            guard case .array(let items)? = JSONValue.parse(response.body)?["items"] else {
                throw KubeClientError(
                    status: response.status,
                    message: "cannot read the list of \(resource.basePath)/\(resource.resource)",
                    body: response.body)
            }
            for item in items {
                guard let metadata = item["metadata"], let itemName = metadata["name"]?.string else { continue }
                if let uid = metadata["uid"]?.string, !uids.insert(uid).inserted { continue }
                let key = Key(
                    group: resource.group, resource: resource.resource, namespace: metadata["namespace"]?.string ?? "",
                    name: itemName)
                objects[key] = Listed(resource: resource, object: item)
            }
        }
        return objects
    }
}

extension StateDiff {
    /// What changed in a running instance of a run record since its ``DiffBaseline``.
    /// - Throws: ``K8sEnvError``: `notRunning` when the record has no baseline for it (written
    ///   by an older k8senv) or its files cannot be read; else as ``diff(_:since:name:filter:)``.
    package static func diff(_ instance: RunRecord.InstanceRecord, filter: Filter) async throws(K8sEnvError)
        -> InstanceDiff
    {
        guard let revision = instance.baselineRevision else {
            throw K8sEnvError(
                .notRunning,
                "\(instance.name): the run record has no baseline revision for it (the store's revision could not be read when it started, or an older k8senv started it)"
            )
        }
        guard let client = instance.makeClient() else {
            throw K8sEnvError(
                .notRunning, "\(instance.name): cannot read its CA and token next to \(instance.kubeconfig)")
        }
        let result: Result<[ObjectChange], K8sEnvError>
        do throws(K8sEnvError) {
            result = .success(try await diff(client, since: revision, name: instance.name, filter: filter))
        } catch {
            result = .failure(error)
        }
        await client.shutdown()
        return InstanceDiff(
            instance: instance.name, environment: instance.environment, baselineRevision: revision,
            changes: try result.get())
    }
}
