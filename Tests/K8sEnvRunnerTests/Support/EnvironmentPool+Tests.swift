import Foundation
import K8sEnvRunner
import Synchronization
import Testing

extension EnvironmentPool {
    /// ``counts`` as an array, which `#expect` compares.
    var idleAndInUse: [Int] { [counts.idle, counts.inUse] }
}
