import K8sEnvCLI
import K8sEnvKine

// One binary, two programs: the release tarball ships k8senv-kine as a link to k8senv (one copy
// of the Swift runtime and Foundation instead of two), so under that name it is the store.
if CommandLine.arguments.first?.split(separator: "/").last == "k8senv-kine" {
    await KineCommand.main()
} else {
    await K8sEnvCommand.main()
}
