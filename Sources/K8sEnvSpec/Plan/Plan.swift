/// What `up` does, in order: environments parents first; in each, its CRD files, then its
/// seed sets in `dependsOn` order. Ties keep the order of the file.
package struct Plan: Sendable {
    package struct SeedSet: Sendable {
        package var name: String
        package var dependsOn: [String]
        package var files: [ManifestFile]
    }

    package struct Environment: Sendable {
        package var name: String
        package var parent: String?
        package var poolSize: Int
        package var crdFiles: [ManifestFile]
        package var seedSets: [SeedSet]
        /// Its own `webhooks` files (those of the environments it extends are theirs).
        package var webhookFiles: [ManifestFile] = []
        /// `webhookPort`, its own or the nearest one of the environments it extends.
        package var webhookPort: Int?
    }

    package var config: Config
    /// Parents before the environments that extend them.
    package var environments: [Environment]

    /// Builds the plan of a config that ``ConfigLoader`` accepted (so names resolve and there
    /// are no cycles).
    package init(_ config: Config) throws(Diagnostics) {
        self.config = config
        var errors: [Diagnostic] = []
        func files(_ references: [PathReference]) -> [ManifestFile] {
            var result: [ManifestFile] = []
            for reference in references {
                do { result += try ManifestFiles.expand(reference, in: config) } catch { errors.append(error) }
            }
            return result
        }
        let ordered = Self.topologicalOrder(config.environments.map { ($0.name, $0.extends.map { [$0] } ?? []) })
        var byName: [String: Config.Environment] = [:]
        for e in config.environments where byName[e.name] == nil { byName[e.name] = e }
        var planned: [Environment] = []
        var webhookPorts: [String: Int] = [:]
        for name in ordered {
            guard let e = byName[name] else { continue }
            let seedOrder = Self.topologicalOrder(e.seeds.map { ($0.name, $0.dependsOn) })
            var seedsByName: [String: Config.SeedSet] = [:]
            for seed in e.seeds where seedsByName[seed.name] == nil { seedsByName[seed.name] = seed }
            let seeds = seedOrder.compactMap { seedsByName[$0] }
            var environment = Environment(
                name: e.name, parent: e.extends, poolSize: e.poolSize, crdFiles: files(e.crds),
                seedSets: seeds.map { SeedSet(name: $0.name, dependsOn: $0.dependsOn, files: files($0.manifests)) })
            environment.webhookFiles = files(e.webhooks)
            // Parents come first, so the parent's port is already resolved.
            environment.webhookPort = e.webhookPort ?? e.extends.flatMap { webhookPorts[$0] }
            if let port = environment.webhookPort { webhookPorts[e.name] = port }
            planned.append(environment)
        }
        environments = planned
        if !errors.isEmpty { throw Diagnostics(errors) }
    }

    package func environment(named name: String) -> Environment? {
        environments.first { $0.name == name }
    }

    /// The environment and those it extends, root first.
    package func lineage(of name: String) -> [Environment] {
        var chain: [Environment] = []
        var current = environment(named: name)
        while let e = current, !chain.contains(where: { $0.name == e.name }) {
            chain.insert(e, at: 0)
            current = e.parent.flatMap(environment(named:))
        }
        return chain
    }

    /// Kahn's algorithm; among the ready nodes the earliest in input order goes first.
    /// Dependencies outside the list are ignored (they are satisfied earlier). Linear but for the
    /// heap of ready nodes: O((nodes + dependencies) log nodes).
    static func topologicalOrder(_ nodes: [(name: String, dependsOn: [String])]) -> [String] {
        var indexOf: [String: Int] = [:]
        for (i, node) in nodes.enumerated() where indexOf[node.name] == nil { indexOf[node.name] = i }
        var waitingFor = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() {
            // A name given twice stands for its first node; a node that depends on itself
            // never becomes ready (a cycle).
            for dependency in Set(node.dependsOn) where dependency != "" {
                guard let j = indexOf[dependency] else { continue }
                waitingFor[i] += 1
                dependents[j].append(i)
            }
        }
        var ready = IndexHeap()
        for i in nodes.indices where waitingFor[i] == 0 { ready.insert(i) }
        var done: [String] = []
        var placed = [Bool](repeating: false, count: nodes.count)
        while let i = ready.popMin() {
            done.append(nodes[i].name)
            placed[i] = true
            for d in dependents[i] {
                waitingFor[d] -= 1
                if waitingFor[d] == 0 { ready.insert(d) }
            }
        }
        // A cycle: checked and reported before a plan is made; its nodes last, in input order.
        for i in nodes.indices where !placed[i] { done.append(nodes[i].name) }
        return done
    }

    /// A binary min-heap of indices: the earliest ready node in input order first.
    struct IndexHeap {
        private var items: [Int] = []

        mutating func insert(_ value: Int) {
            items.append(value)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard items[child] < items[parent] else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }

        mutating func popMin() -> Int? {
            guard let first = items.first else { return nil }
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1
                    let right = left + 1
                    var smallest = parent
                    if left < items.count, items[left] < items[smallest] { smallest = left }
                    if right < items.count, items[right] < items[smallest] { smallest = right }
                    if smallest == parent { break }
                    items.swapAt(parent, smallest)
                    parent = smallest
                }
            }
            return first
        }
    }
}
