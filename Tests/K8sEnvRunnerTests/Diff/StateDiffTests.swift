import K8sEnvRunner
import Testing

/// What `k8senv diff` leaves out on its own (docs/explanation/diff.md "What is left out").
@Suite("diff: what kube-apiserver writes itself is left out unless --all")
struct StateDiffTests {
    static let priorityLevels = ResourceInfo(
        group: "flowcontrol.apiserver.k8s.io", version: "v1beta1", resource: "prioritylevelconfigurations",
        kind: "PriorityLevelConfiguration", namespaced: false)

    static func listed(_ name: String, managers: [String]) -> (StateDiff.Key, StateDiff.Listed) {
        let object = JSONValue.object([
            "metadata": .object([
                "name": .string(name),
                "managedFields": .array(
                    managers.map { .object(["manager": .string($0), "operation": .string("Update")]) }),
            ])
        ])
        return (
            StateDiff.Key(group: priorityLevels.group, resource: priorityLevels.resource, namespace: "", name: name),
            StateDiff.Listed(resource: priorityLevels, object: object)
        )
    }

    @Test(
        "a priority level kube-apiserver's own producer created after the hand-out is left out; one a user created, or any with --all, is shown"
    )
    func flowControlBootstrap() {
        let producer = "api-priority-and-fairness-config-producer-v1"
        let after = Dictionary(
            uniqueKeysWithValues: [
                Self.listed("exempt", managers: [producer]), Self.listed("mine", managers: ["kubectl-create"]),
                Self.listed("shared", managers: [producer, "kubectl-edit"]),
            ])
        let shown = StateDiff.compare(before: [:], after: after, filter: .init()).map(\.name)
        #expect(shown == ["mine", "shared"])
        let all = StateDiff.compare(before: [:], after: after, filter: .init(all: true)).map(\.name)
        #expect(all == ["exempt", "mine", "shared"])
    }
}
