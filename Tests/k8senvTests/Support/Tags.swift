import Testing

extension Tag {
    /// Runs the built k8senv, without kube-apiserver (well under a second each).
    @Tag static var cli: Self
    /// Runs the built k8senv against the real kube-apiserver and etcd (seconds each).
    @Tag static var integration: Self
}
