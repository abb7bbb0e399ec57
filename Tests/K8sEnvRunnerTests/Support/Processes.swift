import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Synchronization
import Testing

/// Live processes whose command line mentions `text`.
func runningProcesses(mentioning text: String) throws -> [Int32] {
    try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { Int32($0) }.filter { pid in
        guard pid != getpid(), isRunning(pid),
            let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return false }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }
}
