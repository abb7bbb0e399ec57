import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

extension Outcome {
    /// The value of each `NAME=value` line of stdout.
    var assignments: [String: String] {
        var values: [String: String] = [:]
        for line in stdout.split(separator: "\n") where line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            values[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return values
    }
}
