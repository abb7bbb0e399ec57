/// The cache key of an environment: SHA-256 over a canonical description of everything that
/// changes what its snapshot holds. See docs/explanation/cache-key.md for the exact format.
///
/// In: the format version, the storage backend, the kube-apiserver version, `apiServer.extraArgs`
/// in order, `apiServer.featureGates` and `apiServer.runtimeConfig` by name, the parent's key,
/// every CRD and seed file (relative path, size, bytes) in apply order with the seed sets'
/// names and dependencies, and every webhook file. Not in: `webhookPort`, pool size, timeouts,
/// binaries' paths, comments or key order of k8senv.yaml, the profile's name, `users` (their
/// tokens are made per instance, in its token file, never in the store) and
/// `apiServer.authorization` (kube-apiserver writes the same bootstrap RBAC objects in every
/// mode, and seeds are applied as k8senv's admin, whom every mode allows everything).
package enum CacheKey {
    package static let formatVersion = "k8senv-cache-key/v1"

    /// - Parameters:
    ///   - apiServerVersion: as `kube-apiserver --version` prints it, e.g. `v1.20.2`.
    /// - Returns: the key of every environment of the plan, by name.
    /// - Throws: a ``Diagnostic`` if a file cannot be read.
    package static func compute(_ plan: Plan, apiServerVersion: String, files: SourceFiles) throws(Diagnostic)
        -> [String: String]
    {
        var keys: [String: String] = [:]
        for environment in plan.environments {
            let hasher = SHA256Hasher()
            func line(_ text: String) { hasher.update(text + "\n") }
            func file(_ tag: String, _ f: ManifestFile) throws(Diagnostic) {
                let bytes = try files.read(f.path, display: f.displayPath)
                line("\(tag) \(f.relativePath) \(bytes.count)")
                hasher.update(bytes)
                line("")
            }
            line(formatVersion)
            line("storage \(plan.config.storage.rawValue)")
            line("kube-apiserver \(apiServerVersion)")
            for arg in plan.config.apiServerExtraArgs { line("arg \(arg)") }
            // Sorted by name (as decoded); no lines when the keys are absent, so the keys of
            // configs without them are what they were before the keys existed.
            for gate in plan.config.apiServerFeatureGates { line("feature-gate \(gate.name) \(gate.enabled)") }
            for api in plan.config.apiServerRuntimeConfig { line("runtime-config \(api.name) \(api.enabled)") }
            line("parent \(environment.parent.flatMap { keys[$0] } ?? "-")")
            for f in environment.crdFiles { try file("crd", f) }
            for seed in environment.seedSets {
                line("seed-set \(seed.name) \(seed.dependsOn.joined(separator: ","))")
                for f in seed.files { try file("manifest", f) }
            }
            // Applied after each start, not stored in the snapshot; in the key all the same (see
            // docs/explanation/cache-key.md). No lines without them: other keys stay as they were.
            for f in environment.webhookFiles { try file("webhook", f) }
            keys[environment.name] = hasher.finalize()
        }
        return keys
    }
}
