/// The environments of a config as `extends` links them, worked out once for the checks: so that
/// they stay linear in the number of environments, however long the chains (looking up each
/// environment's ancestors anew made 16,000 environments take 24 s).
struct Lineage {
    /// Each environment's parent, by index (nil: it extends nothing, an unknown environment or
    /// itself).
    let parent: [Int?]
    /// Every environment, each after the one it extends (depth first, children in file order);
    /// those on or under a cycle of extends come last, in file order.
    let parentsFirst: [Int]
    /// For each environment, for the names its seed sets have or depend on: the nearest
    /// environment it extends that defines a seed set of that name.
    let inheritedSeeds: [[String: String]]

    init(_ config: Config) {
        let environments = config.environments
        var parent = [Int?](repeating: nil, count: environments.count)
        var children = [[Int]](repeating: [], count: environments.count)
        var roots: [Int] = []
        for (i, environment) in environments.enumerated() {
            if let name = environment.extends, name != environment.name, let p = config.index(ofEnvironment: name),
                p != i
            {
                parent[i] = p
                children[p].append(i)
            } else {
                roots.append(i)
            }
        }
        /// The names an environment's sets have or depend on.
        func mentioned(_ environment: Config.Environment) -> [String] {
            environment.seeds.flatMap { [$0.name] + $0.dependsOn }
        }
        var inherited = [[String: String]](repeating: [:], count: environments.count)
        var order: [Int] = []
        order.reserveCapacity(environments.count)
        var visited = [Bool](repeating: false, count: environments.count)
        // Depth first from each root, without recursion (a chain may be 100,000 long).
        // `definers[name]`: the environments on the current path that define a set `name`,
        // nearest last.
        var definers: [String: [Int]] = [:]
        enum Step {
            case enter(Int)
            case leave(Int)
        }
        var stack: [Step] = roots.reversed().map { .enter($0) }
        while let step = stack.popLast() {
            switch step {
            case .enter(let i):
                visited[i] = true
                order.append(i)
                var found: [String: String] = [:]
                for name in mentioned(environments[i]) where found[name] == nil {
                    if let owner = definers[name]?.last { found[name] = environments[owner].name }
                }
                inherited[i] = found
                for seed in environments[i].seeds { definers[seed.name, default: []].append(i) }
                stack.append(.leave(i))
                for child in children[i].reversed() { stack.append(.enter(child)) }
            case .leave(let i):
                for seed in environments[i].seeds { definers[seed.name]?.removeLast() }
            }
        }
        // On or under a cycle (an error of its own): follow extends until it repeats.
        for i in environments.indices where !visited[i] {
            order.append(i)
            var found: [String: String] = [:]
            let names = Set(mentioned(environments[i]))
            var seen: Set<Int> = [i]
            var current = parent[i]
            while let p = current, seen.insert(p).inserted {
                for seed in environments[p].seeds where names.contains(seed.name) && found[seed.name] == nil {
                    found[seed.name] = environments[p].name
                }
                current = parent[p]
            }
            inherited[i] = found
        }
        self.parent = parent
        parentsFirst = order
        inheritedSeeds = inherited
    }
}
