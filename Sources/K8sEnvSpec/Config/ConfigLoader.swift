import Foundation

/// Reads, expands, validates and decodes a k8senv.yaml.
///
/// The steps, each reporting every problem it finds before the next runs:
/// 1. YAML through libyaml (positions kept, duplicate keys rejected);
/// 2. `${VAR}` expansion (strict for the file and the chosen profile);
/// 3. the JSON Schema, over the whole file including every profile;
/// 4. the profile merged in (JSON merge patch), and the schema again on the result;
/// 5. decoding, then the checks a schema cannot express (references, cycles, paths, manifests).
package struct ConfigLoader: Sendable {
    package var variables: [String: String]
    package var schema: JSONSchema
    package var files: SourceFiles

    /// - Parameter variables: what `${VAR}` expands from (the process environment by default).
    package init(variables: [String: String] = ProcessInfo.processInfo.environment, files: SourceFiles = SourceFiles())
    {
        self.variables = variables
        self.files = files
        self.schema = Self.bundledSchema
    }

    /// The schema compiled into the binary.
    package static let bundledSchema: JSONSchema = {
        do { return try JSONSchema(json: Array(BundledSchema.text.utf8), file: BundledSchema.path) } catch {
            // The bundled schema is checked by the tests; it cannot fail at run time.
            fatalError("the bundled schema is invalid: \(error)")
        }
    }()

    /// A parsed config file before any profile is applied.
    package struct Document: Sendable {
        package var file: String
        package var directory: String
        package var root: YAMLValue
        package var profileNames: [String]
    }

    /// Reads and checks the shape of the file (steps 1–3).
    /// - Throws: ``Diagnostics`` with every problem found.
    package func document(at path: String, profile: String?) throws(Diagnostics) -> Document {
        let profile = Self.chosen(profile)
        let bytes: [UInt8]
        if files.repository == nil { files.repository = RepositoryTree(configFile: path) }
        do { bytes = try files.read(path, display: path) } catch {
            var error = error
            if !FileManager.default.fileExists(atPath: path) {
                // The usual first run in a new repository: say what writes one.
                error.message += "; " + Self.missingFileAdvice
            }
            throw Diagnostics([error])
        }
        let stream: YAMLStream
        do { stream = try YAMLReader.read(bytes, file: path) } catch { throw Diagnostics([error]) }
        let documents = stream.documents
        guard let first = documents.first else {
            throw Diagnostics([
                Diagnostic(
                    .schema, at: SourceLocation(file: path, mark: Mark(line: 1, column: 1)),
                    "the file is empty; it needs apiVersion: k8senv.dev/v1alpha1, kind: Config and environments")
            ])
        }
        if documents.count > 1 {
            throw Diagnostics([
                Diagnostic(
                    .schema, at: documents[1].location,
                    "a config file holds one YAML document; found \(documents.count)")
            ])
        }
        var root: YAMLValue
        do { root = try YAMLValue(first) } catch { throw Diagnostics([error]) }

        var errors: [Diagnostic] = []
        let expansion = VariableExpansion(variables: variables)
        if var entries = root.entries {
            for i in entries.indices {
                if entries[i].key == "profiles", var profiles = entries[i].value.entries {
                    for j in profiles.indices {
                        let chosen = profiles[j].key == profile
                        profiles[j].value = expansion.expand(profiles[j].value, strict: chosen, errors: &errors)
                    }
                    entries[i].value.content = .mapping(profiles)
                } else {
                    entries[i].value = expansion.expand(entries[i].value, strict: true, errors: &errors)
                }
            }
            root.content = .mapping(entries)
        }
        errors += schema.validate(root)
        if !errors.isEmpty { throw Diagnostics(errors) }
        let directory = Self.directory(of: path)
        return Document(
            file: path, directory: directory, root: root,
            profileNames: root["profiles"]?.entries?.map(\.key) ?? [])
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// What to do when the config file does not exist (the usual first run in a new repository).
    package static let missingFileAdvice =
        "`k8senv init` writes a k8senv.yaml for the repository in the current folder (--dir for another), or -f names another config file"

    /// The profile a `--profile` names: `""` is none, the config as written (what `k8senv profiles
    /// --format json` lists for a file without profiles, and the action's empty `profile` input).
    package static func chosen(_ profile: String?) -> String? {
        profile.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Loads the config with `profile` applied, fully checked (steps 1–5).
    /// - Throws: ``Diagnostics`` with every problem found.
    package func load(_ path: String, profile: String? = nil) throws(Diagnostics) -> Config {
        let document = try document(at: path, profile: profile)
        return try config(from: document, profile: profile)
    }

    /// Checks the file as it is and with each of its profiles applied: what `k8senv validate`
    /// does without `--profile`.
    /// - Returns: the configs (the file's first, then one per profile).
    package func loadAll(_ path: String) throws(Diagnostics) -> [Config] {
        let document = try document(at: path, profile: nil)
        var errors: [Diagnostic] = []
        var configs: [Config] = []
        var baseErrors = Set<Diagnostic>()
        for profile in [nil] + document.profileNames.map(Optional.some) {
            var strictDocument = document
            if let profile {
                // Strict expansion for this profile's variables.
                do { strictDocument = try self.document(at: path, profile: profile) } catch {
                    errors += error.items
                    continue
                }
            }
            do { configs.append(try config(from: strictDocument, profile: profile)) } catch {
                if let profile {
                    errors += error.items.filter { !baseErrors.contains($0) }.map { d in
                        var d = d
                        d.message += " (with profile \"\(profile)\")"
                        return d
                    }
                } else {
                    baseErrors = Set(error.items)
                    errors += error.items
                }
            }
        }
        if !errors.isEmpty { throw Diagnostics(errors) }
        return configs
    }

    /// Steps 4–5.
    package func config(from document: Document, profile: String?) throws(Diagnostics) -> Config {
        let profile = Self.chosen(profile)
        var effective = document.root
        if let profile {
            guard let overlay = document.root["profiles"]?[profile] else {
                let known = document.profileNames
                let listed =
                    known.isEmpty
                    ? "the file defines no profiles"
                    : "the file defines " + known.map { "\"\($0)\"" }.joined(separator: ", ")
                throw Diagnostics([
                    Diagnostic(
                        .profile, at: SourceLocation(file: document.file, mark: nil),
                        "no profile \"\(profile)\"\(Suggestions.didYouMean(profile, in: known)) (\(listed))")
                ])
            }
            effective = MergePatch.apply(overlay, to: document.root)
            let errors = schema.validate(effective)
            if !errors.isEmpty { throw Diagnostics(errors) }
        }
        if var entries = effective.entries {
            entries.removeAll { $0.key == "profiles" }
            effective.content = .mapping(entries)
        }
        var config = ConfigDecoder.decode(effective, file: document.file, directory: document.directory)
        config.profile = profile
        config.profileNames = document.profileNames
        var checks = ConfigChecks(config: config, files: files)
        let errors = checks.run()
        if !errors.isEmpty { throw Diagnostics(errors) }
        return config
    }
}

/// Turns a schema-valid value into a ``Config``; defaults fill what is absent.
enum ConfigDecoder {
    static func decode(_ root: YAMLValue, file: String, directory: String) -> Config {
        var config = Config(file: file, directory: directory)
        if let b = root["binaries"] {
            if let v = b["kubeAPIServer"]?.string { config.binaries.kubeAPIServer = v }
            if let v = b["etcd"]?.string { config.binaries.etcd = v }
            if let v = b["etcdctl"]?.string { config.binaries.etcdctl = v }
            if let v = b["kine"]?.string { config.binaries.kine = v }
            if let v = b["kubeControllerManager"]?.string { config.binaries.kubeControllerManager = v }
            for entry in b.entries ?? [] where entry.value.isFromEnvironment {
                config.binaries.givenByEnvironment.insert(entry.key)
            }
        }
        if let v = root["kubeVersion"], let text = v.string {
            config.kubeVersion = text
            config.kubeVersionLocation = v.location
        }
        if let s = root["storage"]?.string, let kind = StorageKind(rawValue: s) { config.storage = kind }
        for entry in root["timeouts"]?.entries ?? [] {
            guard let text = entry.value.string, let d = GoDuration(text) else { continue }
            config.timeoutLocations[entry.key] = entry.value.location
            switch entry.key {
            case "start": config.timeouts.start = d
            case "stop": config.timeouts.stop = d
            case "acquire": config.timeouts.acquire = d
            case "crds": config.timeouts.crds = d
            case "seeds": config.timeouts.seeds = d
            default: break
            }
        }
        let extraArgs = (root["apiServer"]?["extraArgs"]?.items ?? []).filter { $0.string != nil }
        config.apiServerExtraArgs = extraArgs.compactMap(\.string)
        config.apiServerExtraArgLocations = extraArgs.map(\.location)
        for key in ["featureGates", "runtimeConfig"] {
            guard let entry = root["apiServer"]?.entry(key) else { continue }
            config.apiServerKeyLocations[key] = entry.keyLocation
            let switches = (entry.value.entries ?? []).compactMap { e in
                e.value.bool.map { APIServerSwitch(name: e.key, enabled: $0, location: e.keyLocation) }
            }.sorted { $0.name < $1.name }
            if key == "featureGates" {
                config.apiServerFeatureGates = switches
            } else {
                config.apiServerRuntimeConfig = switches
            }
        }
        if let entry = root["apiServer"]?.entry("authorization"),
            let mode = entry.value.string.flatMap(AuthorizationMode.init(rawValue:))
        {
            config.apiServerKeyLocations["authorization"] = entry.value.location
            config.apiServerAuthorization = mode
        }
        for user in root["users"]?.items ?? [] {
            guard let name = user["name"] else { continue }
            config.users.append(
                ConfigUser(
                    name: name.string ?? "", groups: (user["groups"]?.items ?? []).compactMap(\.string),
                    location: name.location))
        }
        config.audit = decodeAudit(root, keyPath: "audit", directory: directory)
        config.postmortem = decodePostmortem(root, directory: directory)
        // Assigned once at the end: each assignment re-indexes them by name.
        var environments: [Config.Environment] = []
        for entry in root["environments"]?.entries ?? [] {
            let e = entry.value
            var environment = Config.Environment(name: entry.key, location: entry.keyLocation)
            if let extends = e.entry("extends") {
                environment.extends = extends.value.string
                environment.extendsLocation = extends.value.location
            }
            if let size = e["pool"]?["size"]?.int { environment.poolSize = Int(size) }
            environment.crds = (e["crds"]?.items ?? []).enumerated().compactMap { i, item in
                item.string.map {
                    PathReference(written: $0, location: item.location, keyPath: "environments.\(entry.key).crds[\(i)]")
                }
            }
            environment.webhooks = (e["webhooks"]?.items ?? []).enumerated().compactMap { i, item in
                item.string.map {
                    PathReference(
                        written: $0, location: item.location, keyPath: "environments.\(entry.key).webhooks[\(i)]")
                }
            }
            if let port = e["webhookPort"]?.int { environment.webhookPort = Int(port) }
            environment.audit = decodeAudit(e, keyPath: "environments.\(entry.key).audit", directory: directory)
            if let controllers = e.entry("controllers") {
                environment.controllers = ControllerSelection(controllers.value)
            }
            for (s, seed) in (e["seeds"]?.items ?? []).enumerated() {
                let dependsOn = seed["dependsOn"]?.items ?? []
                environment.seeds.append(
                    Config.SeedSet(
                        name: seed["name"]?.string ?? "",
                        location: seed["name"]?.location ?? seed.location,
                        dependsOn: dependsOn.compactMap(\.string),
                        dependsOnLocations: dependsOn.map(\.location),
                        manifests: (seed["manifests"]?.items ?? []).enumerated().compactMap { i, item in
                            item.string.map {
                                PathReference(
                                    written: $0, location: item.location,
                                    keyPath: "environments.\(entry.key).seeds[\(s)].manifests[\(i)]")
                            }
                        }))
            }
            environments.append(environment)
        }
        config.environments = environments
        return config
    }
}

extension ConfigDecoder {
    /// `audit:` of a mapping (the root or an environment): `policy` wins over `level` here; both
    /// written is an error of ``ConfigChecks``, which reads the raw keys again.
    static func decodeAudit(_ parent: YAMLValue, keyPath: String, directory: String) -> AuditSettings? {
        guard let entry = parent.entry("audit") else { return nil }
        let audit = entry.value
        if let policy = audit["policy"], let written = policy.string {
            return AuditSettings(
                policy: .file(PathReference(written: written, location: policy.location, keyPath: keyPath + ".policy")),
                location: entry.keyLocation, conflictingLevel: audit.entry("level")?.keyLocation)
        }
        let level = audit["level"]?.string.flatMap(AuditLevel.init(rawValue:)) ?? .metadata
        return AuditSettings(policy: .level(level), location: entry.keyLocation)
    }
}
