import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

extension Cache {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write cached snapshots as bundle files, to import on another machine.",
            discussion:
                "The snapshots must be in the cache (run `k8senv up` first). Each bundle is signed (HMAC-SHA256) with K8SENV_BUNDLE_KEY when it is set, else with this user's own key; it is written 0600. With one environment (one -e, or a config of one environment), -o is the bundle file, unless it ends with / or is a folder; with several, -o is a folder (created if needed) that gets one <environment>.k8senv-bundle each."
        )

        @OptionGroup var options: ConfigOptions

        @Option(
            name: [.short, .customLong("environment")],
            help: "Export this environment's snapshot (repeatable; default: all).")
        var environments: [String] = []

        @Option(name: [.short, .customLong("output")], help: "The bundle file (one environment) or folder (several).")
        var output: String

        @Option(help: "The kube-apiserver version to key on, instead of running `kube-apiserver --version`.")
        var apiserverVersion: String?

        func run() async throws {
            let computed = try await ConfigKeys.compute(
                file: options.file, profile: options.profile, environments: environments,
                apiServerVersion: apiserverVersion, probe: .any)
            let keys = computed.keys
            let names = environments.isEmpty ? computed.order : environments
            let store = SnapshotStore(root: SnapshotStore.defaultRoot)
            var snapshots: [(String, Snapshot)] = []
            for name in names {
                let key = keys[name]!
                switch store.lookup(key) {
                case .hit(let snapshot): snapshots.append((name, snapshot))
                case .missing:
                    throw K8sEnvError(
                        .cache,
                        "\(name): its snapshot \(key.prefix(12)) is not in the cache \(store.root); run `k8senv up` first"
                    )
                case .corrupt(let reason):
                    throw K8sEnvError(
                        .cache,
                        "\(name): its cached snapshot \(key.prefix(12)) is unusable (\(reason)); run `k8senv up` to rebuild it"
                    )
                }
            }
            var targets: [(String, Snapshot, String)] = []
            var isDirectory: ObjCBool = false
            let folder =
                snapshots.count > 1 || output.hasSuffix("/")
                || (FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) && isDirectory.boolValue)
            if !folder {
                targets = [(snapshots[0].0, snapshots[0].1, output)]
            } else {
                do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch
                {
                    throw K8sEnvError(.cache, "cannot create the folder \(output): \(error.localizedDescription)")
                }
                targets = snapshots.map { ($0.0, $0.1, output + "/" + $0.0 + ".k8senv-bundle") }
            }
            let (key, limits) = try bundleSettings()
            for (name, snapshot, path) in targets {
                do throws(BundleError) { try SnapshotBundle.write(snapshot, to: path, key: key, limits: limits) } catch
                {
                    throw K8sEnvError(.cache, error.description)
                }
                print(
                    "\(name): snapshot \(snapshot.metadata.key.prefix(12)) written to \(path), signed with \(key.description)"
                )
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the snapshots of bundle files (from `k8senv cache export`) to the cache.",
            discussion:
                "Each bundle is verified first: its format, key format version, key, storage kind and files, kube-apiserver version and sizes (at most K8SENV_BUNDLE_MAX_SIZE, default 512 MiB) before its data is read; then its signature, under K8SENV_BUNDLE_KEY when it is set, else this user's own key (a bundle exported by another key, or unsigned, is refused: set K8SENV_BUNDLE_KEY to the key the exporting job used); its SHA-256; and its store file (a database of k8senv's schema, or an etcd snapshot whose hash matches). A refused bundle writes nothing into the cache. With -f (or --profile), each bundle must also be a snapshot that config would use here: built by the same kube-apiserver version as the local binary (or --apiserver-version), and with one of the cache keys `k8senv hash` prints for it; any other bundle is refused, naming the keys expected."
        )

        @Option(
            name: [.short, .customLong("file")],
            help:
                "Accept only the snapshots of this config (with --profile): their keys as `k8senv hash` computes them here."
        )
        var file: String?

        @Option(help: "A profile of the config to apply (implies -f k8senv.yaml when -f is not given).")
        var profile: String?

        @Option(help: "With -f: the kube-apiserver version to key on, instead of running `kube-apiserver --version`.")
        var apiserverVersion: String?

        @Argument(help: "The bundle files.")
        var bundles: [String]

        func validate() throws {
            if bundles.isEmpty { throw ValidationError("name at least one bundle file") }
            if apiserverVersion != nil && file == nil && profile == nil {
                throw ValidationError("--apiserver-version needs -f (the config whose keys the bundles must have)")
            }
        }

        func run() async throws {
            let store = SnapshotStore(root: SnapshotStore.defaultRoot)
            let (key, limits) = try bundleSettings()
            var expected: BundleExpectation?
            if file != nil || profile != nil {
                let config = file ?? "k8senv.yaml"
                let computed = try await ConfigKeys.compute(
                    file: config, profile: profile, apiServerVersion: apiserverVersion, probe: .any)
                expected = BundleExpectation(
                    config: config, profile: ConfigLoader.chosen(profile), version: computed.kubeAPIServerVersion,
                    keys: computed.keys, order: computed.order)
            }
            for path in bundles {
                let installed: SnapshotBundle.Installed
                do throws(BundleError) {
                    let bundle = try SnapshotBundle.open(path, limits: limits)
                    if let expected { try expected.check(bundle.header, name: path) }
                    installed = try await bundle.install(into: store, key: key)
                } catch {
                    // Its messages quote the bundle's metadata: shown, never obeyed by the terminal.
                    throw K8sEnvError(.cache, "refused: " + ControlCharacters.escaped(error.description))
                }
                switch installed {
                case .added(let snapshot):
                    print(
                        "\(ControlCharacters.escaped(snapshot.metadata.environment)): snapshot \(snapshot.metadata.key.prefix(12)) imported from \(path)"
                    )
                case .alreadyCached(let snapshot):
                    print(
                        "\(ControlCharacters.escaped(snapshot.metadata.environment)): snapshot \(snapshot.metadata.key.prefix(12)) already in the cache; \(path) not needed"
                    )
                }
            }
        }
    }
}

/// The signing key and size limits of bundles (K8SENV_BUNDLE_KEY, K8SENV_BUNDLE_MAX_SIZE), as
/// `cache export` and `cache import` both read them.
private func bundleSettings() throws(K8sEnvError) -> (key: BundleKey, limits: BundleLimits) {
    do throws(BundleError) {
        return (try BundleKey.current(), try BundleLimits.current())
    } catch {
        throw K8sEnvError(.cache, error.description)
    }
}

/// What `k8senv cache import -f` accepts: the snapshots the local config would use, that is the
/// kube-apiserver version found here and the cache keys `k8senv hash` computes.
struct BundleExpectation {
    var config: String
    var profile: String?
    var version: String
    var keys: [String: String]
    var order: [String]

    /// - Throws: ``BundleError`` (`.version` when the bundle was built by another kube-apiserver
    ///   release, `.unexpectedKey` when its key is none of the config's), naming what was expected.
    func check(_ header: SnapshotBundle.Header, name: String) throws(BundleError) {
        let snapshot = header.snapshot
        let config = self.config + (profile.map { " (profile \"\($0)\")" } ?? "")
        if snapshot.kubeAPIServerVersion != version {
            throw BundleError(
                .version,
                "\(name): the snapshot of \"\(snapshot.environment)\" was built by kube-apiserver \(snapshot.kubeAPIServerVersion), but \(config) runs \(version) here; export it again from a runner with \(version)"
            )
        }
        if !keys.values.contains(snapshot.key) {
            let listed = order.map { "\($0) \(keys[$0]!.prefix(12))" }.joined(separator: ", ")
            throw BundleError(
                .unexpectedKey,
                "\(name): the snapshot of \"\(snapshot.environment)\" has key \(snapshot.key.prefix(12)), which is not one of the keys of \(config) here (\(listed)); it was exported from another config, profile or set of files"
            )
        }
    }
}
