import Foundation
import K8sEnvSpec

/// A feature gate as kube-apiserver's `--help` lists it under `--feature-gates`.
package struct FeatureGate: Sendable, Hashable {
    package var name: String
    /// `ALPHA`, `BETA`, `GA` or `DEPRECATED`, as printed.
    package var stage: String
    package var defaultValue: Bool

    package init(name: String, stage: String, defaultValue: Bool) {
        self.name = name
        self.stage = stage
        self.defaultValue = defaultValue
    }
}

/// The feature gates a kube-apiserver has, and the check of `apiServer.featureGates` against them.
///
/// `--help` lists the alpha and beta gates; GA and deprecated gates that a release still accepts
/// are not listed. So a name not in the list is put to the binary itself before it is called
/// unknown: `kube-apiserver --feature-gates=NAME=VALUE --version` fails while parsing its flags
/// for a gate it does not have (or one locked to the other value) and prints the version
/// otherwise, without starting anything.
package enum FeatureGates {
    /// The gates of the `--feature-gates` flag's help: lines such as
    /// `APIListChunking=true|false (BETA - default=true)`, or `kube:APIListChunking=…` where the
    /// help names the component (1.31 on; `kube` is the default component and is dropped).
    /// - Returns: the gates in the order listed; empty when the help has no `--feature-gates` flag.
    package static func parse(help: String) -> [FeatureGate] {
        guard let flag = help.firstRange(of: /(?m)^\s*--feature-gates\b/) else { return [] }
        // The flag's text runs to the next flag or section: a line starting (after spaces)
        // with `--`, or one that is not indented.
        let rest = help[flag.upperBound...]
        let end = rest.firstRange(of: /\n(\s*--|\S)/)?.lowerBound ?? rest.endIndex
        let section = rest[..<end]
        return section.matches(
            of: /(?:([a-z][-a-z0-9]*):)?([A-Za-z][A-Za-z0-9]*)=true\|false \(([A-Z]+) - default=(true|false)\)/
        ).map { m in
            let component = m.output.1.map(String.init)
            let name = component == nil || component == "kube" ? String(m.output.2) : "\(component!):\(m.output.2)"
            return FeatureGate(name: name, stage: String(m.output.3), defaultValue: m.output.4 == "true")
        }
    }

    /// The gates `executable --help` lists, remembered per binary (``BinaryHelp``) in
    /// `${XDG_CACHE_HOME:-~/.cache}/k8senv/feature-gates/`.
    /// - Throws: ``ProcessError`` when the program cannot run or fails.
    package static func listed(by executable: String) async throws(ProcessError) -> [FeatureGate] {
        try await BinaryHelp.listed(
            by: executable, folder: "feature-gates", format: format, parse: parse(help:),
            encode: encode, decode: decode)
    }

    static let format = "k8senv-feature-gates/v1"
    static var cacheDirectory: String { SnapshotStore.cacheRoot + "/feature-gates" }

    /// A line of the cache file: `NAME STAGE DEFAULT`.
    static func encode(_ gate: FeatureGate) -> String { "\(gate.name) \(gate.stage) \(gate.defaultValue)" }

    static func decode(_ line: Substring) -> FeatureGate? {
        let fields = line.split(separator: " ")
        guard fields.count == 3, let value = Bool(String(fields[2])) else { return nil }
        return FeatureGate(name: String(fields[0]), stage: String(fields[1]), defaultValue: value)
    }

    /// The cache file (tests): the format line, then a gate a line.
    static func encode(_ gates: [FeatureGate]) -> String { BinaryHelp.write(gates, format: format, encode: encode) }

    static func decode(_ text: String) -> [FeatureGate]? { BinaryHelp.read(text, format: format, decode: decode) }

    /// What the binary says of one gate it does not list.
    enum Verdict: Equatable {
        case accepted
        /// Not a gate of this binary.
        case unknown
        /// A gate, but not with this value (`cannot set feature gate X to false, feature is
        /// locked to true`): the binary's words.
        case refused(String)
    }

    /// Asks the binary about one gate: `executable --feature-gates=NAME=VALUE --version`.
    static func ask(_ executable: String, gate: APIServerSwitch) async throws(ProcessError) -> Verdict {
        let output = try await BinaryVersion.output(
            of: executable, arguments: ["--feature-gates=\(gate.name)=\(gate.enabled)", "--version"])
        if output.termination == .exited(0) { return .accepted }
        if output.text.contains("unrecognized feature gate") { return .unknown }
        // `Error: invalid argument "X=false" for "--feature-gates" flag: <reason>`
        let lines = output.text.split(separator: "\n")
        let line = lines.first { $0.contains("--feature-gates") } ?? lines.last ?? ""
        let reason = line.firstRange(of: "flag: ").map { String(line[$0.upperBound...]) } ?? String(line)
        return .refused(reason.trimmingCharacters(in: .whitespaces))
    }

    /// Checks `apiServer.featureGates` against the kube-apiserver at `executable`.
    /// - Returns: an error at each gate's name that the binary does not have (with the closest
    ///   gate it lists) or will not take with that value; empty when all are fine.
    /// - Throws: ``ProcessError`` when the binary cannot be run.
    package static func check(_ config: Config, apiServer executable: String) async throws(ProcessError) -> [Diagnostic]
    {
        guard !config.apiServerFeatureGates.isEmpty else { return [] }
        let listed = try await listed(by: executable)
        let names = Set(listed.map(\.name))
        var errors: [Diagnostic] = []
        for gate in config.apiServerFeatureGates where !names.contains(gate.name) {
            let key = "apiServer.featureGates.\(gate.name)"
            let verdict = try await ask(executable, gate: gate)
            if verdict == .accepted { continue }
            // Named by its version (remembered, so not run again) when it can be read.
            let server = "kube-apiserver " + ((try? await BinaryVersion.read(executable))?.text ?? executable)
            switch verdict {
            case .accepted:
                continue
            case .unknown:
                errors.append(
                    Diagnostic(
                        .featureGate, at: gate.location,
                        "\(key): \(server) has no feature gate \"\(gate.name)\"\(Suggestions.didYouMean(gate.name, in: listed.map(\.name)))"
                    ))
            case .refused(let reason):
                errors.append(
                    Diagnostic(.featureGate, at: gate.location, "\(key): \(server) does not take it: \(reason)"))
            }
        }
        return errors
    }

    /// What `k8senv validate` adds to the config's own checks: each config's gates (the file's,
    /// then each profile's) checked against the kube-apiserver it names, if `probe` lets it run.
    /// - Returns: errors (a profile's own marked `(with profile "p")`, as ``ConfigLoader/loadAll(_:)``
    ///   does), and notes where the binary could not be found or run, so the check was skipped.
    package static func validate(_ configs: [Config], probe: BinaryProbe) async -> (
        errors: [Diagnostic], notes: [Diagnostic]
    ) {
        await BinaryHelp.validate(
            configs, key: "apiServer.featureGates", program: "kube-apiserver's gates", probe: probe,
            binary: { ("kubeAPIServer", $0.binaries.kubeAPIServer) }, applies: { !$0.apiServerFeatureGates.isEmpty },
            location: { $0.apiServerKeyLocations["featureGates"] ?? SourceLocation(file: $0.file, mark: nil) },
            check: { config, binary throws(ProcessError) in try await check(config, apiServer: binary) })
    }
}
