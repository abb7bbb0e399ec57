import Foundation

/// `audit.level`: how much of each request kube-apiserver's built-in policy of k8senv records.
package enum AuditLevel: String, Sendable, CaseIterable {
    /// Who did what to which object, the response code and timing; no bodies.
    case metadata = "Metadata"
    /// Metadata and the request body.
    case request = "Request"
    /// Metadata, the request body and the response body.
    case requestResponse = "RequestResponse"
}

/// `audit:` (top level, or of one environment): each instance writes an audit log,
/// `logs/audit.log` in its folder. See docs/explanation/audit.md.
package struct AuditSettings: Sendable, Hashable {
    /// The policy kube-apiserver is given.
    package enum Policy: Sendable, Hashable {
        /// k8senv's built-in policy at this level.
        case level(AuditLevel)
        /// A user's policy file, used as it is.
        case file(PathReference)
    }

    package var policy: Policy
    /// Where `audit:` was written.
    package var location: SourceLocation
    /// Where `level` was written when `policy` is written too (an error of the checks).
    package var conflictingLevel: SourceLocation?

    package init(policy: Policy, location: SourceLocation, conflictingLevel: SourceLocation? = nil) {
        self.policy = policy
        self.location = location
        self.conflictingLevel = conflictingLevel
    }
}

extension Config {
    /// Where a user's policy file is read from: absolute, or joined to the config's folder.
    package func path(of reference: PathReference) -> String {
        reference.written.hasPrefix("/") ? reference.written : ManifestFiles.join(directory, reference.written)
    }

    /// The audit settings of an environment's instances: its own `audit:`, else the top-level one;
    /// nil when neither is written (no audit log).
    package func audit(for environment: String) -> AuditSettings? {
        self.environment(named: environment)?.audit ?? audit
    }

    /// Whether any instance of the config writes an audit log.
    package var auditsAnything: Bool {
        audit != nil || environments.contains { $0.audit != nil }
    }
}

extension ConfigChecks {
    /// `level` and `policy` are not both written; a policy file exists and is a regular file
    /// (never opened here: a FIFO or a device is refused by what it is).
    mutating func checkAudit() {
        let settings =
            [(config.audit, "audit")] + config.environments.map { ($0.audit, "environments.\($0.name).audit") }
        for case (let audit?, let keyPath) in settings {
            if let level = audit.conflictingLevel {
                fail(
                    .schema, level,
                    "\(keyPath): give either level (k8senv's built-in policy) or policy (a file of yours), not both")
            }
            guard case .file(let reference) = audit.policy else { continue }
            let path = config.path(of: reference)
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                fail(
                    .path, reference.location,
                    "\(reference.keyPath): \(reference.written) does not exist (relative paths start from the folder of \(config.file))"
                )
            } else if isDirectory.boolValue {
                fail(
                    .path, reference.location,
                    "\(reference.keyPath): \(reference.written) is a folder; give an audit.k8s.io/v1 Policy file")
            } else if let kind = FileBytes.irregularKind(path) {
                // kube-apiserver would block on a FIFO (or read a device) at every start.
                fail(
                    .path, reference.location,
                    "\(reference.keyPath): \(reference.written) is \(kind), not a regular file; an audit policy must be a regular file"
                )
            }
        }
    }
}
