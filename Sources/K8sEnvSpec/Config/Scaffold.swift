import Foundation

/// What `k8senv init` writes: a commented, valid k8senv.yaml for the repository it runs in,
/// from what the repository holds (docs/reference/cli.md#k8senv-init).
package enum Scaffold {
    /// The parts of a repository a k8senv.yaml can use, as paths relative to its folder.
    package struct Layout: Equatable, Sendable {
        /// How the layout was recognised, for the file's header.
        package var kind: Kind
        /// CRD folders or files.
        package var crds: [String] = []
        /// Validating/MutatingWebhookConfiguration manifests.
        package var webhooks: [String] = []
        /// Manifests for a seed set `rbac` (the controller's ClusterRole).
        package var rbac: [String] = []

        package enum Kind: String, Sendable {
            /// kubebuilder or operator-sdk: config/crd/bases, config/webhook, config/rbac.
            case kubebuilder
            /// A plain folder of CRDs.
            case plain
            /// Nothing k8senv recognised: an environment without CRDs.
            case empty
        }
    }

    /// Where kubebuilder (and operator-sdk, which uses it) put generated manifests.
    static let kubebuilderCRDs = "config/crd/bases"
    static let kubebuilderWebhooks = "config/webhook/manifests.yaml"
    static let kubebuilderRole = "config/rbac/role.yaml"
    /// Plain layouts, in the order they are looked for.
    static let plainCRDFolders = ["crds", "config/crds", "deploy/crds"]

    /// Looks at `directory` for a kubebuilder layout, then for a plain CRD folder.
    package static func detect(in directory: String) -> Layout {
        let fm = FileManager.default
        func isDirectory(_ path: String) -> Bool {
            var folder: ObjCBool = false
            return fm.fileExists(atPath: directory + "/" + path, isDirectory: &folder) && folder.boolValue
        }
        func isFile(_ path: String) -> Bool {
            var folder: ObjCBool = false
            return fm.fileExists(atPath: directory + "/" + path, isDirectory: &folder) && !folder.boolValue
        }
        if isDirectory(kubebuilderCRDs) || isFile(kubebuilderWebhooks) {
            var layout = Layout(kind: .kubebuilder)
            if isDirectory(kubebuilderCRDs) { layout.crds = [kubebuilderCRDs + "/"] }
            if isFile(kubebuilderWebhooks) { layout.webhooks = [kubebuilderWebhooks] }
            if isFile(kubebuilderRole) { layout.rbac = [kubebuilderRole] }
            return layout
        }
        if let folder = plainCRDFolders.first(where: isDirectory) {
            return Layout(kind: .plain, crds: [folder + "/"])
        }
        return Layout(kind: .empty)
    }

    /// The k8senv.yaml for `layout`, for a repository called `name`; its modeline names the
    /// schema file `k8senv init` writes beside it.
    package static func render(_ layout: Layout, name: String) -> String {
        var lines: [String] = []
        let found: String
        switch layout.kind {
        case .kubebuilder:
            found =
                "a kubebuilder layout ("
                + ([
                    layout.crds.first.map { _ in kubebuilderCRDs },
                    layout.webhooks.first.map { _ in kubebuilderWebhooks },
                    layout.rbac.first.map { _ in kubebuilderRole },
                ].compactMap { $0 }
                    .joined(separator: ", ")) + ")"
        case .plain: found = "a folder of CRDs (\(layout.crds[0]))"
        case .empty: found = "no CRDs (add them under environments.default.crds)"
        }
        lines += [
            "# yaml-language-server: $schema=./k8senv.schema.json",
            "#",
            "# The test environments of \(name), written by `k8senv init` from \(found).",
            "# Paths are relative to this file's folder. Check it with `k8senv validate`; start it with",
            "# `k8senv up` (or `k8senv up --detach` for a pool service), or wrap tests with",
            "# `k8senv run -- go test ./...`. Every key: \(DocsLink.page("reference/configuration.md")).",
            "apiVersion: k8senv.dev/v1alpha1",
            "kind: Config",
            "",
            "# Program names on PATH, or paths; the K8SENV_* variables win when set.",
            "binaries:",
            "  kubeAPIServer: ${K8SENV_KUBE_APISERVER:-kube-apiserver}",
            "  etcd: ${K8SENV_ETCD:-etcd}   # only used with storage: etcd",
            "  kine: ${K8SENV_KINE:-kine}   # only used with storage: kine",
            "",
            "# embedded: k8senv's own store, in its process (no second binary; a pool's release resets it).",
            "storage: ${K8SENV_STORAGE:-embedded}",
            "",
            "timeouts:",
            "  start: 60s      # storage and kube-apiserver up",
            "  acquire: 30s    # waiting for a free pooled instance",
            "  crds: 60s       # CRDs applied and Established",
            "  seeds: 2m       # all seed sets applied",
            "",
            "# apiServer:",
            "#   featureGates: {EphemeralContainers: true}   # names checked against the binary",
            "#   runtimeConfig: {batch/v1beta1: false}",
            "",
            "environments:",
            "  default:",
            "    pool:",
            "      size: 2           # instances of this environment; tests lease them one at a time",
        ]
        if layout.crds.isEmpty {
            lines += ["    # crds:", "    #   - crds/         # every .yaml/.yml/.json below it, sorted by path"]
        } else {
            lines +=
                ["    crds:"]
                + layout.crds.map {
                    "      - \($0)" + ($0.hasSuffix("/") ? "   # every .yaml/.yml/.json below it" : "")
                }
        }
        if !layout.webhooks.isEmpty {
            lines +=
                [
                    "    # Applied when an instance starts, rewritten to call the test process at",
                    "    # $K8SENV_WEBHOOK_HOST:$K8SENV_WEBHOOK_PORT with the certificate in $K8SENV_WEBHOOK_CERT_DIR.",
                    "    webhooks:",
                ] + layout.webhooks.map { "      - \($0)" }
        }
        if layout.rbac.isEmpty {
            lines += [
                "    # seeds:", "    #   - name: fixtures", "    #     manifests:", "    #       - testdata/fixtures/",
            ]
        } else {
            lines +=
                [
                    "    seeds:",
                    "      - name: rbac      # the controller's ClusterRole, for RBAC tests",
                    "        manifests:",
                ] + layout.rbac.map { "          - \($0)" }
        }
        lines += [
            "",
            "profiles:",
            "  # k8senv up --profile ci: one instance, more time to start on a busy runner.",
            "  ci:",
            "    timeouts:",
            "      start: 180s",
            "    environments:",
            "      default:",
            "        pool:",
            "          size: 1",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
