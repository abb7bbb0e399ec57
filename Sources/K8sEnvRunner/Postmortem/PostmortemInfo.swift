import Foundation

/// What a post-mortem bundle says about the instance it holds, in the bundle's header (signed
/// with the rest of it). docs/explanation/postmortem.md; the format: docs/reference/cache-layout.md.
package struct PostmortemInfo: Codable, Sendable, Equatable {
    /// The files a post-mortem bundle may hold besides its store file, each at most once.
    package static let extraFiles: Set<String> = [auditLog, apiServerLog, controllerManagerLog, configFile, crdsFile]
    /// The instance's audit log (when it had one; the newest lines when cut to fit).
    package static let auditLog = "audit.log"
    /// The tail of kube-apiserver's log.
    package static let apiServerLog = "kube-apiserver.log"
    /// The tail of kube-controller-manager's log, when the instance ran one.
    package static let controllerManagerLog = "kube-controller-manager.log"
    /// The config file, as it was on disk.
    package static let configFile = "k8senv.yaml"
    /// The CRD files of the environment and those it extends, one after the other.
    package static let crdsFile = "crds.yaml"

    /// The instance's name in its run (`base-0`): the folder `k8senv open` serves it from.
    package var instance: String
    package var environment: String
    /// The cache key of the snapshot it started from; nil with `--no-cache`.
    package var startedFrom: String?
    /// The store revision `k8senv diff` compares with: the instance's state when it was handed out.
    package var baselineRevision: Int64?
    /// The profile the config was loaded with.
    package var profile: String?
    /// Why it was captured: `the command exited with status 3`, `a release with mode keep`, ….
    package var reason: String
    package var capturedAt: Date
    /// What was left out or cut to fit, one sentence each (empty: nothing).
    package var omitted: [String]

    package init(
        instance: String, environment: String, startedFrom: String?, baselineRevision: Int64?, profile: String?,
        reason: String, capturedAt: Date, omitted: [String]
    ) {
        self.instance = instance
        self.environment = environment
        self.startedFrom = startedFrom
        self.baselineRevision = baselineRevision
        self.profile = profile
        self.reason = reason
        self.capturedAt = capturedAt
        self.omitted = omitted
    }

    /// The header's own consistency: a name `k8senv open` can make a folder of, a key of 64 hex
    /// digits, a revision that is a revision.
    func verify(name: String) throws(BundleError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard !instance.isEmpty, instance.count <= 80, instance.allSatisfy(allowed.contains), instance.first != "-"
        else {
            throw BundleError(
                .malformed,
                "\(name): the instance name \"\(instance)\" is not a k8senv instance name (lowercase letters, digits and '-')"
            )
        }
        guard Self.isEnvironmentName(environment) else {
            throw BundleError(
                .malformed,
                "\(name): the environment name \"\(environment)\" is not a k8senv environment name (lowercase letters, digits and '-', at most 63)"
            )
        }
        if let startedFrom {
            guard startedFrom.count == 64, startedFrom.allSatisfy(Set("0123456789abcdef").contains) else {
                throw BundleError(
                    .malformed, "\(name): the key it started from, \"\(startedFrom)\", is not 64 lowercase hex digits")
            }
        }
        if let baselineRevision, baselineRevision < 1 {
            throw BundleError(.malformed, "\(name): the baseline revision \(baselineRevision) is not a store revision")
        }
    }

    /// A name as the schema allows for environments: `[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?`.
    package static func isEnvironmentName(_ name: String) -> Bool {
        let inner = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        return (1...63).contains(name.count) && name.allSatisfy(inner.contains) && name.first != "-" && name.last != "-"
    }
}
