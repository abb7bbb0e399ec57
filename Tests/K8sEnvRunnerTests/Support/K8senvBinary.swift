import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

/// The built k8senv, or a recorded failure saying how to build it.
func k8senvBinary() throws -> String {
    let binary = PackageLocations.k8senvBinary
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        Issue.record("k8senv is not built (\(binary)); run `swift build` first, or scripts/test.sh")
        throw CancellationError()
    }
    return binary
}
