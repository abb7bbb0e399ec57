/// Where k8senv's messages send a user for more: its documentation on GitHub, by a stable URL.
/// A path such as `docs/how-to/install.md` means nothing in the user's own repository, where
/// k8senv's messages are read.
package enum DocsLink {
    /// The base of every link: the docs folder of k8senv's main branch.
    package static let base = "https://github.com/k8senv/k8senv/blob/main/docs/"

    /// The URL of a page under docs/, e.g. `page("how-to/install.md")`.
    package static func page(_ path: String) -> String { base + path }
}
