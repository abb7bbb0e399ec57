import Foundation

/// Finds the programs the config names: a name is looked up on PATH; a value with a `/` is a
/// path, relative to the config file's folder.
package enum BinaryLocator {
    /// - Parameters:
    ///   - name: as the config gives it (after `${}` expansion).
    ///   - role: the config key, for messages (`binaries.kubeAPIServer`).
    ///   - directory: the config file's folder.
    /// - Throws: ``ProcessError`` with `.notFound` saying where it looked.
    package static func locate(_ name: String, role: String, relativeTo directory: String,
                               path: String? = ProcessInfo.processInfo.environment["PATH"]) throws(ProcessError) -> String {
        if name.contains("/") {
            let candidate = name.hasPrefix("/") ? name : (directory == "." ? name : directory + "/" + name)
            let absolute = candidate.hasPrefix("/") ? candidate : FileManager.default.currentDirectoryPath + "/" + candidate
            guard FileManager.default.isExecutableFile(atPath: absolute) else {
                let exists = FileManager.default.fileExists(atPath: absolute)
                throw ProcessError(.notFound, "\(role): \(candidate) \(exists ? "is not executable" : "does not exist")")
            }
            return absolute
        }
        for dir in (path ?? "").split(separator: ":") {
            let candidate = String(dir) + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate.hasPrefix("/") ? candidate : FileManager.default.currentDirectoryPath + "/" + candidate
            }
        }
        throw ProcessError(.notFound, "\(role): \"\(name)\" is not on PATH; run scripts/install-binaries.sh, or name the binary in k8senv.yaml or its K8SENV_* variable")
    }
}
