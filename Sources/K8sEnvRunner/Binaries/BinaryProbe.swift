import Foundation
import K8sEnvSpec

/// Which programs `validate` and `hash` may run to read their `--version` or `--help`.
///
/// `up` and `run` run the programs a config names: that is their job. Checking a config should
/// not run anything a repository can plant, or checking a pull request would run its code. So,
/// unless the user says `--probe-binaries`, a checking command runs a program only when the user
/// chose it: a bare name found on PATH, or the whole value of a variable of the user's
/// environment (`${K8SENV_KUBE_APISERVER}`) — and, either way, only when it is outside the
/// repository (``RepositoryTree``: the config's folder, symlinks resolved). Otherwise it says
/// what it did not run, and why.
package struct BinaryProbe: Sendable {
    /// `--probe-binaries`: run what the config names, wherever it is.
    package var probeRepositoryPrograms: Bool

    package init(probeRepositoryPrograms: Bool) {
        self.probeRepositoryPrograms = probeRepositoryPrograms
    }

    /// Everything may be run (`up`, `run`, and the checking commands given `--probe-binaries`).
    package static let any = BinaryProbe(probeRepositoryPrograms: true)

    /// The program the config names under `key`, found as ``BinaryLocator`` finds it, if it may
    /// be run.
    /// - Parameters:
    ///   - key: the key under `binaries` (`kubeAPIServer`).
    ///   - name: its value (after `${}` expansion).
    /// - Throws: ``ProcessError`` `.notFound` when it cannot be found, `.notProbed` when it may
    ///   not be run, saying why and naming `--probe-binaries`.
    package func locate(_ key: String, _ name: String, in config: Config) throws(ProcessError) -> String {
        let role = "binaries." + key
        let path = try BinaryLocator.locate(name, role: role, relativeTo: config.directory)
        if probeRepositoryPrograms { return path }
        let chosenByUser = config.binaries.givenByEnvironment.contains(key)
        if name.contains("/") && !chosenByUser {
            throw ProcessError(
                .notProbed,
                "\(role): \(name) is a path the config names (not a program on PATH or named by your environment), so it was not run; pass --probe-binaries to run it",
                domain: .binary)
        }
        guard let repository = RepositoryTree(configFile: config.file), repository.excludes(path) else {
            throw ProcessError(
                .notProbed,
                "\(role): \(path) is inside the config's folder (the repository), so it was not run; pass --probe-binaries to run it",
                domain: .binary)
        }
        return path
    }
}
