import Testing

extension Tag {
    @Tag static var fast: Self
    /// Runs the real kube-apiserver and etcd.
    @Tag static var integration: Self
}
