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
        var planned: [Environment] = []
        for name in ordered {
            guard let e = config.environment(named: name) else { continue }
            let seedOrder = Self.topologicalOrder(e.seeds.map { ($0.name, $0.dependsOn) })
            let seeds = seedOrder.compactMap { name in e.seeds.first { $0.name == name } }
            var environment = Environment(
                name: e.name, parent: e.extends, poolSize: e.poolSize, crdFiles: files(e.crds),
                seedSets: seeds.map { SeedSet(name: $0.name, dependsOn: $0.dependsOn, files: files($0.manifests)) })
            environment.webhookFiles = files(e.webhooks)
            // Parents come first, so the parent's port is already resolved.
            environment.webhookPort = e.webhookPort ?? e.extends.flatMap { parent in planned.first { $0.name == parent }?.webhookPort }
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
    /// Dependencies outside the list are ignored (they are satisfied earlier).
    static func topologicalOrder(_ nodes: [(name: String, dependsOn: [String])]) -> [String] {
        let names = Set(nodes.map(\.name))
        var remaining = nodes.map { (name: $0.name, dependsOn: Set($0.dependsOn.filter { names.contains($0) && $0 != "" })) }
        var done: [String] = []
        while !remaining.isEmpty {
            guard let next = remaining.firstIndex(where: { $0.dependsOn.isSubset(of: Set(done)) }) else {
                done += remaining.map(\.name)  // a cycle: checked and reported before a plan is made
                break
            }
            done.append(remaining.remove(at: next).name)
        }
        return done
    }
}
