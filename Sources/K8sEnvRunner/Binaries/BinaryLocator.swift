import Foundation
import K8sEnvSpec

/// Finds the programs the config names: a name is looked up on PATH; a value with a `/` is a
/// path, relative to the config file's folder.
package enum BinaryLocator {
    /// - Parameters:
    ///   - name: as the config gives it (after `${}` expansion).
    ///   - role: the config key, for messages (`binaries.kubeAPIServer`).
    ///   - directory: the config file's folder.
    /// - Throws: ``ProcessError`` with `.notFound` saying where it looked.
    package static func locate(
        _ name: String, role: String, relativeTo directory: String,
        path: String? = ProcessInfo.processInfo.environment["PATH"]
    ) throws(ProcessError) -> String {
        if name.contains("/") {
            let candidate = name.hasPrefix("/") ? name : (directory == "." ? name : directory + "/" + name)
            let absolute =
                candidate.hasPrefix("/") ? candidate : FileManager.default.currentDirectoryPath + "/" + candidate
            guard FileManager.default.isExecutableFile(atPath: absolute) else {
                let exists = FileManager.default.fileExists(atPath: absolute)
                throw ProcessError(
                    .notFound, "\(role): \(candidate) \(exists ? "is not executable" : "does not exist")")
            }
            return absolute
        }
        for dir in (path ?? "").split(separator: ":") {
            let candidate = String(dir) + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate.hasPrefix("/") ? candidate : FileManager.default.currentDirectoryPath + "/" + candidate
            }
        }
        throw ProcessError(.notFound, "\(role): \"\(name)\" is not on PATH" + advice(role))
    }

    /// What to do about a missing program of the config (`role` `binaries.KEY`), in the user's
    /// terms: the program to install, the exact variable to set, and the install page's URL.
    static func advice(_ role: String) -> String {
        guard role.hasPrefix("binaries."),
            let (variable, program) = Config.Binaries.variables[String(role.dropFirst("binaries.".count))]
        else {
            return ""
        }
        let key = role.dropFirst("binaries.".count)
        return
            "; install \(program) and put it on PATH, or set \(variable) to its path (read where k8senv.yaml says \(key): ${\(variable):-\(program)}): \(DocsLink.page("how-to/install.md"))"
    }
}
