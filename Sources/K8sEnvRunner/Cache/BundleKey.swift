import Foundation
import K8sEnvSpec

/// The key bundles are signed with (HMAC-SHA256; docs/explanation/security.md, "Bundles"):
/// `K8SENV_BUNDLE_KEY` when it is set — a secret shared by the CI jobs that export and import —,
/// else this user's own key (``Ownership/key()``), so that bundles move between the caches of one
/// user and nowhere else. Either secret is never used raw: the signing key is derived from it
/// with a label of its own.
package struct BundleKey: Sendable {
    /// The variable that names a shared key.
    package static let variable = "K8SENV_BUNDLE_KEY"
    /// The fewest characters K8SENV_BUNDLE_KEY may have.
    static let minimumLength = 16

    let bytes: [UInt8]
    /// Where the key comes from, as messages name it: `K8SENV_BUNDLE_KEY` or `user` (this user's
    /// key); a bundle's header says which the exporter used.
    package let source: String
    /// 16 hex digits that name the key without revealing it (a MAC of a fixed text): a bundle
    /// signed with another key is told apart before its data is read.
    package let id: String

    init(secret: String, source: String) {
        bytes = HMACSHA256.mac(key: Array(secret.utf8), Array("k8senv bundle signing key v1".utf8))
        id = HMACSHA256.mac(key: bytes, Array("k8senv bundle key id".utf8)).prefix(8).map { String(format: "%02x", $0) }
            .joined()
        self.source = source
    }

    /// How messages name a key of `source` with `id`.
    static func describe(source: String, id: String) -> String {
        source == variable ? "K8SENV_BUNDLE_KEY (key id \(id))" : "the exporting user's own key (key id \(id))"
    }

    /// This k8senv's key, as messages name it.
    package var description: String {
        source == Self.variable
            ? "K8SENV_BUNDLE_KEY (key id \(id))" : "this user's own key (key id \(id), K8SENV_BUNDLE_KEY not set)"
    }

    /// The key of this process: K8SENV_BUNDLE_KEY if set and not empty, else this user's.
    /// - Throws: ``BundleError`` (`.key`) when K8SENV_BUNDLE_KEY is too short, or the user's key
    ///   cannot be read or made.
    package static func current(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(BundleError) -> BundleKey
    {
        if let secret = environment[variable], !secret.isEmpty {
            guard secret.count >= minimumLength else {
                throw BundleError(
                    .key,
                    "\(variable) has \(secret.count) characters: use a random secret of at least \(minimumLength) (e.g. `openssl rand -hex 32`), the same on the side that exports and the side that imports"
                )
            }
            return BundleKey(secret: secret, source: variable)
        }
        guard let key = Ownership.key() else {
            throw BundleError(
                .key,
                "cannot read or create this user's key under ${XDG_STATE_HOME:-~/.local/state}/k8senv, which signs bundles when \(variable) is not set; set \(variable)"
            )
        }
        return BundleKey(secret: key, source: "user")
    }
}
