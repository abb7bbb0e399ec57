import Foundation
import K8sEnvSpec

/// The controllers a kube-controller-manager has, and the check of `controllers` against them.
package enum ControllerNames {
    /// The names of the `--controllers` flag's help: `All controllers: attachdetach,
    /// bootstrapsigner, …` (1.20 on; the flag's text may wrap across lines).
    /// - Returns: the names in the order listed; empty when the help has no such list.
    package static func parse(help: String) -> [String] {
        guard let flag = help.firstRange(of: /(?m)^\s*--controllers\b/) else { return [] }
        let rest = help[flag.upperBound...]
        let end = rest.firstRange(of: /\n\s*--/)?.lowerBound ?? rest.endIndex
        let section = rest[..<end]
        guard let all = section.firstRange(of: "All controllers:") else { return [] }
        let list = section[all.upperBound...].prefix { $0 != "\n" }
        return list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The controllers `executable --help` lists, remembered per binary (``BinaryHelp``) in
    /// `${XDG_CACHE_HOME:-~/.cache}/k8senv/controllers/`.
    /// - Throws: ``ProcessError`` when the program cannot run or fails.
    package static func listed(by executable: String) async throws(ProcessError) -> [String] {
        try await BinaryHelp.listed(
            by: executable, folder: "controllers", format: "k8senv-controllers/v1",
            parse: parse(help:), encode: { $0 }, decode: { String($0) })
    }

    /// The controllers each environment of `config` runs, checked against the binary's list:
    /// environment name to names (absent: none run).
    /// - Parameter available: the binary's list; empty (a help without the list) accepts any name.
    /// - Returns: the names, or an error at each name the binary does not have, with the closest
    ///   one it lists.
    package static func resolve(_ config: Config, available: [String], version: KubeVersion?) -> (
        controllers: [String: [String]], errors: [Diagnostic]
    ) {
        var controllers: [String: [String]] = [:]
        var errors = Set<Diagnostic>()
        let known = Set(available)
        let program = "kube-controller-manager" + (version.map { " \($0.text)" } ?? "")
        for environment in config.environments {
            guard let selection = config.controllers(of: environment.name), !selection.isEmpty else { continue }
            if case .names(let names, _) = selection, !known.isEmpty {
                for name in names where !known.contains(name.name) {
                    // Said once, where it was written (an inherited list is checked where it is).
                    errors.insert(
                        Diagnostic(
                            .controller, at: name.location,
                            "controllers: \(program) has no controller \"\(name.name)\"\(Suggestions.didYouMean(name.name, in: available))"
                        ))
                }
            }
            controllers[environment.name] = selection.resolved(available: known.isEmpty ? nil : available)
        }
        return (controllers, errors.sorted { ($0.location, $0.message) < ($1.location, $1.message) })
    }

    /// What `k8senv validate` adds: each config's `controllers` (the file's, then each
    /// profile's) checked against the kube-controller-manager it names; a note when that binary
    /// cannot be found or run, or `probe` does not let it run.
    package static func validate(_ configs: [Config], probe: BinaryProbe) async -> (
        errors: [Diagnostic], notes: [Diagnostic]
    ) {
        await BinaryHelp.validate(
            configs, key: "controllers", program: "kube-controller-manager's controllers", probe: probe,
            binary: { ("kubeControllerManager", $0.binaries.kubeControllerManager) }, applies: \.usesControllers,
            location: { config in
                config.environments.lazy.compactMap { config.controllers(of: $0.name) }.first { !$0.isEmpty }?.location
                    ?? SourceLocation(file: config.file, mark: nil)
            },
            check: { config, binary throws(ProcessError) in
                let listed = try await listed(by: binary)
                return resolve(config, available: listed, version: try? await BinaryVersion.read(binary)).errors
            })
    }
}
