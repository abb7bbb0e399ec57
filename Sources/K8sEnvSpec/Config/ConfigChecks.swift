/// The checks a schema cannot express: names that must refer to something, cycles, files that
/// must exist and hold the right kind of manifests, durations that must be positive.
struct ConfigChecks {
    let config: Config
    let files: SourceFiles
    var errors: [Diagnostic] = []

    init(config: Config, files: SourceFiles) {
        self.config = config
        self.files = files
    }

    mutating func run() -> [Diagnostic] {
        checkTimeouts()
        checkAPIServerSwitches()
        checkAuthorization()
        checkUsers()
        checkAudit()
        checkExtends()
        let lineage = Lineage(config)
        for (i, environment) in config.environments.enumerated() {
            checkSeeds(of: environment, inherited: lineage.inheritedSeeds[i])
        }
        checkFiles(lineage)
        return errors
    }

    mutating func fail(_ code: Diagnostic.Code, _ location: SourceLocation, _ message: String) {
        errors.append(Diagnostic(code, at: location, message))
    }

    mutating func checkTimeouts() {
        let t = config.timeouts
        for (name, value) in [
            ("start", t.start), ("stop", t.stop), ("acquire", t.acquire), ("crds", t.crds), ("seeds", t.seeds),
        ]
        where value.nanoseconds <= 0 {
            fail(
                .schema, config.timeoutLocations[name] ?? SourceLocation(file: config.file, mark: nil),
                "timeouts.\(name): must be longer than 0s")
        }
    }

    /// `--feature-gates` (`--runtime-config`) in extraArgs and `apiServer.featureGates`
    /// (`runtimeConfig`) both set: kube-apiserver would merge the two in an order the user does
    /// not see, and only the key is checked against the binary. One place, please.
    mutating func checkAPIServerSwitches() {
        for (flag, key, switches) in [
            ("--feature-gates", "featureGates", config.apiServerFeatureGates),
            ("--runtime-config", "runtimeConfig", config.apiServerRuntimeConfig),
        ] {
            guard !switches.isEmpty, let keyLocation = config.apiServerKeyLocations[key] else { continue }
            for (i, arg) in config.apiServerExtraArgs.enumerated() where arg == flag || arg.hasPrefix(flag + "=") {
                let location =
                    i < config.apiServerExtraArgLocations.count ? config.apiServerExtraArgLocations[i] : keyLocation
                fail(
                    .duplicate, location,
                    "apiServer.extraArgs[\(i)]: \(flag) is set here and by apiServer.\(key) at \(keyLocation); use one of the two: move its entries into apiServer.\(key) and drop this argument, or drop apiServer.\(key)"
                )
            }
        }
    }

    /// `--authorization-mode` in extraArgs and `apiServer.authorization` both set: the argument,
    /// passed last, would win without a word. One place, please.
    mutating func checkAuthorization() {
        guard config.apiServerAuthorization != nil, let keyLocation = config.apiServerKeyLocations["authorization"]
        else { return }
        let flag = "--authorization-mode"
        for (i, arg) in config.apiServerExtraArgs.enumerated() where arg == flag || arg.hasPrefix(flag + "=") {
            let location =
                i < config.apiServerExtraArgLocations.count ? config.apiServerExtraArgLocations[i] : keyLocation
            fail(
                .duplicate, location,
                "apiServer.extraArgs[\(i)]: \(flag) is set here and by apiServer.authorization at \(keyLocation); use one of the two"
            )
        }
    }

    /// User names are unique, not k8senv's own admin, and name distinct variables: two users (or
    /// a user and an environment) whose variables would be one (`Alice` and `alice`, user `bob` of
    /// environment `base` and environment `base-bob`) would overwrite each other's kubeconfig in
    /// the exports of `up`, `run` and `acquire`.
    mutating func checkUsers() {
        var seen: [String: SourceLocation] = [:]
        var duplicates = false
        for (i, user) in config.users.enumerated() {
            if let first = seen[user.name] {
                fail(
                    .duplicate, user.location,
                    "users[\(i)].name: user \"\(user.name)\" is already declared at line \(first.mark?.line ?? 0)")
                duplicates = true
            } else if user.name == KubeconfigVariables.adminUser {
                fail(
                    .duplicate, user.location,
                    "users[\(i)].name: \"\(user.name)\" is k8senv's own admin user (in system:masters; its kubeconfig is KUBECONFIG); choose another name"
                )
            }
            seen[user.name] = seen[user.name] ?? user.location
        }
        guard !duplicates else { return }
        // Every variable named after an environment or a user, with what it points at.
        struct Owner {
            var what: String
            var user: Int?
        }
        var owners: [String: Owner] = [:]
        var reported = Set<[Int]>()
        func claim(_ variable: String, _ owner: Owner) {
            guard let earlier = owners[variable] else {
                owners[variable] = owner
                return
            }
            // Two environments never share a variable (their names are lowercase).
            guard let i = owner.user else { return }
            let pair = [earlier.user ?? -1, i]
            guard reported.insert(pair).inserted else { return }
            let user = config.users[i]
            fail(
                .duplicate, user.location,
                "users[\(i)].name: \(variable) would name both \(earlier.what) and \(owner.what); rename the user")
        }
        for environment in config.environments {
            claim(
                KubeconfigVariables.environment(environment.name),
                Owner(what: "environment \"\(environment.name)\"'s kubeconfig", user: nil))
        }
        for (i, user) in config.users.enumerated() {
            claim(
                KubeconfigVariables.leasedUser(user.name),
                Owner(what: "user \"\(user.name)\"'s kubeconfig (k8senv acquire)", user: i))
            for environment in config.environments {
                claim(
                    KubeconfigVariables.user(user.name, environment: environment.name),
                    Owner(what: "user \"\(user.name)\"'s kubeconfig of environment \"\(environment.name)\"", user: i))
            }
        }
    }

    mutating func checkExtends() {
        for environment in config.environments {
            guard let parent = environment.extends, let location = environment.extendsLocation else { continue }
            if parent == environment.name {
                fail(.cycle, location, "environments.\(environment.name).extends: an environment cannot extend itself")
            } else if config.index(ofEnvironment: parent) == nil {
                fail(
                    .reference, location,
                    "environments.\(environment.name).extends: no environment \"\(parent)\"\(Suggestions.didYouMean(parent, in: config.environments.map(\.name)))"
                )
            }
        }
        // Cycles longer than one: follow extends from each environment, once each. `state`:
        // 1 while on the chain being followed, 2 once known to end (in a root or a cycle
        // already reported), so no environment is followed twice.
        var state = [UInt8](repeating: 0, count: config.environments.count)
        for startIndex in config.environments.indices where state[startIndex] == 0 {
            var chain: [Int] = []
            var position: [Int: Int] = [:]
            var current = startIndex
            while state[current] == 0 {
                state[current] = 1
                position[current] = chain.count
                chain.append(current)
                let environment = config.environments[current]
                guard let parent = environment.extends, parent != environment.name,
                    let next = config.index(ofEnvironment: parent)
                else { break }
                if state[next] == 1, let loop = position[next] {
                    // Named from the first of its environments in the file.
                    let members = chain[loop...].map { config.environments[$0].name }
                    if let firstIndex = chain[loop...].min(),
                        let location = config.environments[firstIndex].extendsLocation
                    {
                        let rotated = Self.rotate(members, toStartAt: config.environments[firstIndex].name)
                        fail(
                            .cycle, location,
                            "environments extend each other in a cycle: \((rotated + [rotated[0]]).joined(separator: " -> "))"
                        )
                    }
                    break
                }
                current = next
            }
            for i in chain { state[i] = 2 }
        }
    }

    static func rotate(_ cycle: [String], toStartAt name: String) -> [String] {
        guard let i = cycle.firstIndex(of: name) else { return cycle }
        return Array(cycle[i...] + cycle[..<i])
    }

    /// The environments `environment` extends, nearest first (stops at a cycle).
    func ancestors(of environment: Config.Environment) -> [Config.Environment] {
        var result: [Config.Environment] = []
        var seen: Set<String> = [environment.name]
        var current = environment
        while let parent = current.extends, let next = config.environment(named: parent), seen.insert(parent).inserted {
            result.append(next)
            current = next
        }
        return result
    }

    /// - Parameter inherited: for the names this environment's sets have or depend on, the
    ///   nearest environment it extends that defines a set of that name (``Lineage``).
    mutating func checkSeeds(of environment: Config.Environment, inherited: [String: String]) {
        let prefix = "environments.\(environment.name).seeds"
        var seen: [String: SourceLocation] = [:]
        for (i, seed) in environment.seeds.enumerated() {
            if let first = seen[seed.name] {
                fail(
                    .duplicate, seed.location,
                    "\(prefix)[\(i)].name: seed set \"\(seed.name)\" is already defined at line \(first.mark?.line ?? 0)"
                )
            } else if let owner = inherited[seed.name] {
                fail(
                    .duplicate, seed.location,
                    "\(prefix)[\(i)].name: seed set \"\(seed.name)\" is already defined by environment \"\(owner)\", which this one extends"
                )
            }
            seen[seed.name] = seen[seed.name] ?? seed.location
        }
        let own = environment.seeds.map(\.name)
        let ownSet = Set(own)
        for (i, seed) in environment.seeds.enumerated() {
            for (j, dependency) in seed.dependsOn.enumerated() {
                let location = seed.dependsOnLocations[j]
                if dependency == seed.name {
                    fail(
                        .cycle, location, "\(prefix)[\(i)].dependsOn: seed set \"\(seed.name)\" cannot depend on itself"
                    )
                } else if !ownSet.contains(dependency) && inherited[dependency] == nil {
                    // Only now every name it could have meant, for the suggestion.
                    let known = own + ancestors(of: environment).flatMap { $0.seeds.map(\.name) }
                    let scope =
                        environment.extends == nil
                        ? "in environment \"\(environment.name)\""
                        : "in environment \"\(environment.name)\" or those it extends"
                    fail(
                        .reference, location,
                        "\(prefix)[\(i)].dependsOn: no seed set \"\(dependency)\" \(scope)\(Suggestions.didYouMean(dependency, in: known))"
                    )
                }
            }
        }
        // Cycles among this environment's own sets.
        var reported = Set<String>()
        for start in environment.seeds {
            var stack: [(String, [String])] = [(start.name, [start.name])]
            var visited = Set<String>()
            while let (name, path) = stack.popLast() {
                guard let seed = environment.seeds.first(where: { $0.name == name }) else { continue }
                for dependency in seed.dependsOn where own.contains(dependency) && dependency != name {
                    if dependency == start.name {
                        let key = path.sorted().joined(separator: ",")
                        if reported.insert(key).inserted {
                            let firstInFile = environment.seeds.first { path.contains($0.name) }!
                            let rotated = Self.rotate(path, toStartAt: firstInFile.name)
                            let cycle = (rotated + [rotated[0]]).joined(separator: " -> ")
                            let index = environment.seeds.firstIndex { $0.name == firstInFile.name }!
                            let next = rotated.count > 1 ? rotated[1] : rotated[0]
                            let location =
                                firstInFile.dependsOn.firstIndex(of: next).map { firstInFile.dependsOnLocations[$0] }
                                ?? firstInFile.dependsOnLocations.first ?? firstInFile.location
                            fail(
                                .cycle, location,
                                "\(prefix)[\(index)].dependsOn: seed sets depend on each other in a cycle: \(cycle)")
                        }
                    } else if visited.insert(dependency).inserted {
                        stack.append((dependency, path + [dependency]))
                    }
                }
            }
        }
    }

    mutating func checkFiles(_ lineage: Lineage) {
        var checked = Set<String>()
        var parsed: [String: [ManifestObject]] = [:]
        var crdsParsed: [String: [ManifestObject]] = [:]
        let count = config.environments.count
        /// Each environment's own CRDs, seed objects, and seed objects by set.
        var crdsOf = [[ManifestObject]](repeating: [], count: count)
        var seedsOf = [[ManifestObject]](repeating: [], count: count)
        var objectsBySetOf = [[[ManifestObject]]](repeating: [], count: count)
        for (index, environment) in config.environments.enumerated() {
            var crds: [ManifestObject] = []
            for reference in environment.crds {
                for file in expand(reference) {
                    if checked.insert("crd:" + file.path).inserted {
                        crdsParsed[file.path] = checkManifests(file, crdsOnly: true)
                    }
                    crds += crdsParsed[file.path] ?? []
                }
            }
            crdsOf[index] = crds
            for reference in environment.webhooks {
                for file in expand(reference) where checked.insert("webhook:" + file.path).inserted {
                    checkWebhooks(file)
                }
            }
            var objectsBySet: [[ManifestObject]] = []
            for seed in environment.seeds {
                var objects: [ManifestObject] = []
                for reference in seed.manifests {
                    for file in expand(reference) {
                        if checked.insert("seed:" + file.path).inserted {
                            parsed[file.path] = checkManifests(file, crdsOnly: false)
                        }
                        objects += parsed[file.path] ?? []
                    }
                }
                objectsBySet.append(objects)
            }
            objectsBySetOf[index] = objectsBySet
            seedsOf[index] = objectsBySet.flatMap { $0 }
        }
        // What each environment has from itself and those it extends, parents first so each
        // starts from its parent's: the scopes its CRDs (in crds or in seeds) give kinds, and the
        // kinds whose CRD converts through a webhook (its own first, then its parent's).
        var scopes = [ResourceScopes](repeating: ResourceScopes(), count: count)
        var converted = [[WebhookConvertedKind]](repeating: [], count: count)
        for i in lineage.parentsFirst {
            var own = lineage.parent[i].map { scopes[$0] } ?? ResourceScopes()
            own.add(crdsOf[i])
            own.add(seedsOf[i])
            scopes[i] = own
            converted[i] =
                (crdsOf[i] + seedsOf[i]).compactMap(WebhookConvertedKind.init)
                + (lineage.parent[i].map { converted[$0] } ?? [])
        }
        // With a broken dependsOn (unknown set, cycle) the order is unknown: that error first.
        // (Also with two sets of one name: which is which is unclear.)
        if !errors.contains(where: { [.reference, .cycle, .duplicate].contains($0.code) }) {
            for (index, environment) in config.environments.enumerated() {
                checkDuplicateObjects(in: environment, objectsBySet: objectsBySetOf[index], scopes: scopes[index])
            }
        }
        // Seeds of a kind whose CRD (its own or inherited, in crds or in seeds) converts through a
        // webhook: in the storage version, since no webhook server runs while the snapshot is built.
        for index in config.environments.indices where !converted[index].isEmpty {
            for object in seedsOf[index] {
                for kind in converted[index] { if let problem = kind.problem(with: object) { errors.append(problem) } }
            }
        }
    }

    /// A `webhooks` file holds only Validating/MutatingWebhookConfigurations whose webhooks
    /// each have a clientConfig k8senv can point at the test's server.
    mutating func checkWebhooks(_ file: ManifestFile) {
        let objects: [ManifestObject]
        do { objects = try Manifests.read(file, files: files) } catch {
            errors += error.items
            return
        }
        for object in objects {
            guard WebhookRewrite.kinds.contains(object.kind) else {
                fail(
                    .manifest, object.kindLocation,
                    "\(object.apiVersion) \(object.kind) \(object.quotedName) is not a ValidatingWebhookConfiguration or MutatingWebhookConfiguration; a webhooks entry holds only those (put other objects in a seed set)"
                )
                continue
            }
            guard WebhookRewrite.isWebhookConfiguration(object) else {
                fail(
                    .manifest, object.node["apiVersion"]?.location ?? object.location,
                    "\(object.kind) \(object.quotedName) has apiVersion \(object.apiVersion); a webhooks entry takes \(WebhookRewrite.apiVersions.joined(separator: " or "))"
                )
                continue
            }
            do { _ = try WebhookRewrite.configuration(object, target: .placeholder) } catch { errors += error.items }
        }
    }

    /// One object twice in an environment's seeds lands as whichever is applied last. That is
    /// defined only when one of its seed sets depends (directly or not) on the other: the later
    /// set overrides. In one set (objects of a kind are applied concurrently) or in two unordered
    /// sets, the snapshot would differ from build to build under one cache key: an error at the
    /// second place, naming the first.
    /// One object is its ``ObjectIdentity``: an omitted namespace is `default`, a cluster-scoped
    /// kind (`scopes`) has none, and the groups one resource is served under are one group.
    mutating func checkDuplicateObjects(
        in environment: Config.Environment, objectsBySet: [[ManifestObject]], scopes: ResourceScopes
    ) {
        let names = environment.seeds.map(\.name)
        // after[i]: the sets set i depends on, directly or not (its own sets only; sets of an
        // extended environment are in that environment's snapshot, applied before).
        var after: [Set<Int>] = Array(repeating: [], count: names.count)
        for i in names.indices {
            var stack = environment.seeds[i].dependsOn.compactMap { names.firstIndex(of: $0) }
            while let j = stack.popLast() {
                guard j != i, after[i].insert(j).inserted else { continue }
                stack += environment.seeds[j].dependsOn.compactMap { names.firstIndex(of: $0) }
            }
        }
        var first: [ObjectIdentity: (set: Int, object: ManifestObject)] = [:]
        for (index, objects) in objectsBySet.enumerated() {
            // Objects with a generateName are created under new names: never the same object twice.
            for object in objects where !object.generated {
                let identity = ObjectIdentity(object, scopes: scopes)
                guard let earlier = first[identity] else {
                    first[identity] = (index, object)
                    continue
                }
                let ordered = after[index].contains(earlier.set) || after[earlier.set].contains(index)
                if ordered {
                    // The later set overrides; later duplicates compare with the one that lands.
                    if after[index].contains(earlier.set) { first[identity] = (index, object) }
                    continue
                }
                let what = identity.description
                let at = object.node["metadata"]?["name"]?.location ?? object.location
                let where1 = earlier.object.node["metadata"]?["name"]?.location ?? earlier.object.location
                let reason =
                    earlier.set == index
                    ? "twice in seed set \"\(names[index])\" (objects of a set are applied concurrently, so which one lands is not defined)"
                    : "in seed sets \"\(names[earlier.set])\" and \"\(names[index])\", and neither depends on the other (so which one lands is not defined)"
                fail(
                    .duplicate, at,
                    "environments.\(environment.name).seeds: \(what) is \(reason); it is also at \(where1). Keep one, or make the overriding set depend on the other"
                )
            }
        }
    }

    mutating func expand(_ reference: PathReference) -> [ManifestFile] {
        do { return try ManifestFiles.expand(reference, in: config) } catch {
            errors.append(error)
            return []
        }
    }

    /// The file's objects (none when it has errors, which are recorded).
    mutating func checkManifests(_ file: ManifestFile, crdsOnly: Bool) -> [ManifestObject] {
        do {
            let objects = try Manifests.read(file, files: files)
            for object in objects where crdsOnly {
                if object.kind != "CustomResourceDefinition" || !object.apiVersion.hasPrefix("apiextensions.k8s.io/") {
                    fail(
                        .manifest, object.kindLocation,
                        "\(object.apiVersion) \(object.kind) \"\(object.name)\" is not a CustomResourceDefinition; a crds entry holds only CRDs (put other objects in a seed set)"
                    )
                } else {
                    // A conversion webhook is pointed at the test's server on each instance.
                    do { _ = try WebhookRewrite.conversion(object, target: .placeholder) } catch {
                        errors.append(error)
                    }
                }
            }
            return objects
        } catch {
            errors += error.items
            return []
        }
    }
}
