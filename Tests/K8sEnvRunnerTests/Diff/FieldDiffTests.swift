import Foundation
import K8sEnvRunner
import Testing

/// The comparison `k8senv diff` makes, on JSON as kube-apiserver serves it (no server needed).
@Suite("k8senv diff's comparison: fields, objects, noise", .tags(.fast))
struct FieldDiffTests {
    static func json(_ text: String) throws -> JSONValue {
        try #require(JSONValue.parse(Array(text.utf8)), "not JSON: \(text)")
    }

    @Test(
        "leaf paths: members, array items, keys that are not plain names; integers stay integers; equal values give nothing"
    )
    func fields() throws {
        let before = try Self.json(
            #"""
            {"data": {"color": "red", "size": "3"}, "metadata": {"labels": {"app.kubernetes.io/name": "a", "tier": "web"}},
             "spec": {"ports": [{"port": 80}, {"port": 443}], "replicas": 1, "paused": false}}
            """#)
        let after = try Self.json(
            #"""
            {"data": {"color": "blue", "size": "3", "shape": "round"}, "metadata": {"labels": {"app.kubernetes.io/name": "b", "tier": "web"}},
             "spec": {"ports": [{"port": 8080}], "replicas": 2, "paused": true}}
            """#)
        #expect(FieldDiff.changes(before, before).isEmpty)
        #expect(
            FieldDiff.changes(before, after).map(\.text) == [
                #"data.color: "red" -> "blue""#,
                #"data.shape: (none) -> "round""#,
                #"metadata.labels["app.kubernetes.io/name"]: "a" -> "b""#,
                #"spec.paused: false -> true"#,
                #"spec.ports[0].port: 80 -> 8080"#,
                #"spec.ports[1]: {"port":443} -> (none)"#,
                #"spec.replicas: 1 -> 2"#,
            ])
    }

    @Test("a value whose type changed is one change at its path; a number stays a number and a string a string")
    func types() throws {
        let changes = FieldDiff.changes(
            try Self.json(#"{"a": {"b": 1}, "c": "1", "d": null}"#),
            try Self.json(#"{"a": [1], "c": 1, "d": 1.5}"#))
        #expect(changes.map(\.text) == [#"a: {"b":1} -> [1]"#, #"c: "1" -> 1"#, "d: null -> 1.5"])
    }

    static let configMaps = ResourceInfo(
        group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true)
    static let events = ResourceInfo(group: "", version: "v1", resource: "events", kind: "Event", namespaced: true)
    static let leases = ResourceInfo(
        group: "coordination.k8s.io", version: "v1", resource: "leases", kind: "Lease", namespaced: true)
    static let namespaces = ResourceInfo(
        group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false)

    /// An object as listed; `generation` also gives its resourceVersion, so each version differs in both.
    static func listed(
        _ resource: ResourceInfo, _ namespace: String, _ name: String, _ rest: String = "",
        generation: Int = 1
    ) throws -> (StateDiff.Key, StateDiff.Listed) {
        let metadata =
            #""metadata": {"name": "\#(name)", "namespace": "\#(namespace)", "resourceVersion": "\#(generation + 100)", "generation": \#(generation)}"#
        let object = try json("{" + metadata + (rest.isEmpty ? "" : ", " + rest) + "}")
        return (
            StateDiff.Key(group: resource.group, resource: resource.resource, namespace: namespace, name: name),
            StateDiff.Listed(resource: resource, object: object)
        )
    }

    @Test(
        "created, changed and deleted objects, in order; resourceVersion, generation and status are not changes; events and kube-system leases are left out, unless all"
    )
    func objects() throws {
        let before = Dictionary(uniqueKeysWithValues: [
            try Self.listed(Self.configMaps, "default", "changed", #""data": {"color": "red"}"#),
            try Self.listed(Self.configMaps, "default", "deleted"),
            try Self.listed(Self.configMaps, "default", "status-only", #""status": {"phase": "A"}"#),
            try Self.listed(Self.leases, "kube-system", "leader", #""spec": {"renewTime": "1"}"#),
        ])
        let after = Dictionary(uniqueKeysWithValues: [
            try Self.listed(Self.configMaps, "default", "changed", #""data": {"color": "blue"}"#, generation: 2),
            try Self.listed(Self.configMaps, "default", "status-only", #""status": {"phase": "B"}"#),
            try Self.listed(Self.leases, "kube-system", "leader", #""spec": {"renewTime": "2"}"#),
            try Self.listed(Self.events, "default", "something.happened"),
            try Self.listed(Self.namespaces, "", "leak"),
        ])
        let changes = StateDiff.compare(before: before, after: after, filter: StateDiff.Filter())
        #expect(
            changes.map(\.text) == [
                "~ changed v1/ConfigMap default/changed\n    data.color: \"red\" -> \"blue\"",
                "- deleted v1/ConfigMap default/deleted",
                "+ created v1/Namespace leak",
            ])
        let all = StateDiff.compare(before: before, after: after, filter: StateDiff.Filter(all: true))
        #expect(
            all.map(\.text) == [
                "~ changed v1/ConfigMap default/changed\n    data.color: \"red\" -> \"blue\"\n    metadata.generation: 1 -> 2",
                "- deleted v1/ConfigMap default/deleted",
                "~ changed v1/ConfigMap default/status-only\n    status.phase: \"A\" -> \"B\"",
                "+ created v1/Event default/something.happened",
                "+ created v1/Namespace leak",
                "~ changed coordination.k8s.io/v1/Lease kube-system/leader\n    spec.renewTime: \"1\" -> \"2\"",
            ])
        #expect(StateDiff.compare(before: before, after: before, filter: StateDiff.Filter(all: true)).isEmpty)
    }

    @Test("the text form of an instance: a header with the count and the baseline revision, or that nothing changed")
    func instanceText() {
        let none = InstanceDiff(instance: "base-0", environment: "base", baselineRevision: 42, changes: [])
        #expect(none.text == "base-0: no changes since revision 42")
        let one = InstanceDiff(
            instance: "base-1", environment: "base", baselineRevision: 7,
            changes: [
                ObjectChange(
                    change: .created, apiVersion: "apps/v1", kind: "Deployment", namespace: "demo", name: "web")
            ])
        #expect(one.text == "base-1: 1 change since revision 7\n+ created apps/v1/Deployment demo/web")
    }
}
