extension Config {
    /// Checks the kube-apiserver's release against `kubeVersion`, the one rule for `up`, `run`,
    /// pools and `hash`.
    /// - Parameters:
    ///   - reported: the version the binary printed (`v1.20.2`), or the one named with
    ///     `--apiserver-version`.
    ///   - source: who reported it, for the message (the binary's path, or the option).
    /// - Returns: nil when no `kubeVersion` is declared or `reported` is it; otherwise the message,
    ///   starting with where `kubeVersion` was written.
    package func kubeVersionMismatch(reported: String, by source: String) -> String? {
        guard let kubeVersion, reported != kubeVersion else { return nil }
        let at = kubeVersionLocation.map { "\($0): " } ?? ""
        let whose = profile.map { " (with profile \"\($0)\")" } ?? ""
        return
            "\(at)kubeVersion is \(kubeVersion)\(whose), but \(source) reports \(reported); install kube-apiserver \(kubeVersion) "
            + "and point K8SENV_KUBE_APISERVER (or binaries.kubeAPIServer) at it: \(DocsLink.page("how-to/upgrade-apiserver.md"))"
    }
}
