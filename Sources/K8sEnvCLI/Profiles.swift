import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

/// `k8senv profiles`: the file's profiles, as lines or as a GitHub Actions `strategy.matrix`.
///
/// The JSON is the matrix itself: `{"include":[{"profile":"ci","environments":["base"],"storage":"embedded",
/// "binaries":{"kubeAPIServer":"kube-apiserver"},"kubeVersion":"v1.31.0"},…]}` (`kubeVersion` only
/// when declared): each entry says what a job installs for its profile. A file without profiles
/// is one entry with `"profile":""` (the config as written; `--profile ""` means no profile): an
/// empty matrix would make GitHub skip or refuse the job, a test run that passes without testing.
/// It has no other top-level key on purpose: any key besides `include`/`exclude` would become
/// a matrix dimension. Cache keys are not in it: they need each profile's kube-apiserver version
/// (a profile may name another binary), which only the test job has; `k8senv hash --profile P`
/// prints them there.
struct Profiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the profiles of a k8senv.yaml, one per line or as a CI matrix (--format json).",
        discussion: """
            The file is checked as `k8senv validate` does (as written and with each profile); problems are \
            printed as file:line:col errors on standard error, exit 1. JSON output is a GitHub Actions \
            matrix: {"include":[{"profile":"ci","environments":["base","payments"],"storage":"embedded",\
            "binaries":{"kubeAPIServer":"kube-apiserver"}}]}, profiles in file order, environments parents \
            first, with each profile's storage kind, the programs it names (kubeAPIServer; etcd or kine) \
            and its kubeVersion when one is declared. A file without profiles is one entry, the config as written, \
            with "profile":"" (`--profile ""` is no profile for every command), so the matrix is never empty \
            and a CI job built from it is never skipped; in text it prints nothing.
            """
    )

    @OptionGroup var config: ConfigFileOption
    var file: String { config.file }

    @Option(help: "Output format: text (one profile per line) or json (a CI matrix).")
    var format: OutputFormat = .text

    func run() throws {
        let loader = ConfigLoader()
        let entries: [ProfileListing.Entry]
        do {
            entries = try ProfileListing.entries(of: file, loader: loader)
        } catch {
            printError(DiagnosticRenderer(sources: loader.files.quotable).render(error))
            throw ExitCode(1)
        }
        switch format {
        case .text:
            for entry in entries where !entry.profile.isEmpty { print(entry.profile) }  // names only
        case .json:
            print(ProfileListing.matrixJSON(entries))
        }
    }
}

/// What `k8senv profiles` lists, from the loader (kept here, not in K8sEnvSpec, because the CLI
/// is the only user; it is a loop over ``ConfigLoader/loadAll(_:)`` and ``Plan``).
enum ProfileListing {
    struct Entry: Equatable {
        var profile: String
        /// The environments with the profile applied, parents before the ones that extend them.
        var environments: [String]
        /// What a CI job installs for this profile: the storage kind (`embedded`, `etcd`, `kine`)…
        var storage: String = "embedded"
        /// …the programs it names (`kubeAPIServer`, and `etcd` or `kine` for those storages), as
        /// expanded in the job that listed them…
        var binaries: [String: String] = [:]
        /// …and `kubeVersion`, when the file or the profile declares one.
        var kubeVersion: String?
    }

    /// Every profile of the file, in file order; the whole file is checked as `validate` does.
    static func entries(of file: String, loader: ConfigLoader) throws(Diagnostics) -> [Entry] {
        let configs = try loader.loadAll(file)
        var entries: [Entry] = []
        for config in configs {
            // The config as written is listed only when there is no profile (as profile ""):
            // a matrix is never empty, so a CI job built from it cannot be skipped unnoticed.
            guard let profile = config.profile ?? (config.profileNames.isEmpty ? "" : nil) else { continue }
            let binaries = ["kubeAPIServer": config.binaries.kubeAPIServer].merging(
                StorageBackends.programs(of: config)
            ) { $1 }
            entries.append(
                Entry(
                    profile: profile, environments: try Plan(config).environments.map(\.name),
                    storage: config.storage.rawValue, binaries: binaries, kubeVersion: config.kubeVersion))
        }
        return entries
    }

    /// `{"include":[{"environments":[…],"profile":…},…]}` on one line: a GitHub Actions matrix.
    static func matrixJSON(_ entries: [Entry]) -> String {
        struct Item: Encodable {
            var profile: String
            var environments: [String]
            var storage: String
            var binaries: [String: String]
            var kubeVersion: String?
        }
        struct Matrix: Encodable { var include: [Item] }
        return JSONOutput.encode(
            Matrix(
                include: entries.map {
                    Item(
                        profile: $0.profile, environments: $0.environments, storage: $0.storage, binaries: $0.binaries,
                        kubeVersion: $0.kubeVersion)
                }))
    }
}
