import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// `audit:` in k8senv.yaml (top level and per environment): decoding, errors at file:line:col,
/// and the cache key (which it does not change).
@Suite("audit in k8senv.yaml", .tags(.fast))
struct AuditConfigTests {
    @Test("a level, a policy file, an environment's own audit over the top-level one, none by default")
    func decode() throws {
        try TemporaryFolder.with { folder in
            try folder.write("policy.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n")
            let config = try ConfigLoader(variables: [:]).load(
                try folder.config(
                    """
                    audit: {level: Request}
                    environments:
                      base: {}
                      own:
                        audit: {policy: policy.yaml}

                    """))
            #expect(config.audit(for: "base")?.policy == .level(.request))
            guard case .file(let reference)? = config.audit(for: "own")?.policy else {
                Issue.record("own: expected a policy file, got \(String(describing: config.audit(for: "own")))")
                return
            }
            #expect(reference.written == "policy.yaml" && reference.keyPath == "environments.own.audit.policy")
            #expect(reference.location.mark == Mark(line: 7, column: 21))
            #expect(config.path(of: reference) == folder.path + "/policy.yaml")
            #expect(config.auditsAnything)

            let none = try ConfigLoader(variables: [:]).load(
                try folder.config("environments: {base: {}}\n", name: "none.yaml"))
            #expect(none.audit(for: "base") == nil && !none.auditsAnything)
            let level = try ConfigLoader(variables: [:]).load(
                try folder.config("environments: {base: {audit: {level: Metadata}}, other: {}}\n", name: "env.yaml"))
            #expect(level.audit(for: "base")?.policy == .level(.metadata) && level.audit(for: "other") == nil)
        }
    }

    @Test(
        "errors: an unknown level (with a suggestion), an unknown key, an empty audit, level and policy both, a missing policy file, a folder"
    )
    func errors() throws {
        try TemporaryFolder.with { folder in
            try folder.write("dir/x.yaml", "a: 1\n")
            let path = try folder.config(
                """
                audit: {level: metadata}
                environments:
                  a: {audit: {levels: Metadata}}
                  b: {audit: {}}
                  c: {audit: {level: Metadata, policy: dir/x.yaml}}
                  d: {audit: {policy: missing.yaml}}
                  e: {audit: {policy: dir}}

                """)
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"audit.level: "metadata" is not one of "Metadata", "Request", "RequestResponse"; did you mean "Metadata"?"#,
                    #"unknown key "levels" in environments.a.audit; did you mean "level"?"#,
                    "environments.b.audit: needs at least one entry",
                ], "\(errors)")
            // The schema passes; the checks a schema cannot express.
            let checked = try folder.config(
                """
                environments:
                  c: {audit: {level: Metadata, policy: dir/x.yaml}}
                  d: {audit: {policy: missing.yaml}}
                  e: {audit: {policy: dir}}

                """, name: "checked.yaml")
            let more = validationErrors(checked)
            #expect(
                more.map(\.message) == [
                    "environments.c.audit: give either level (k8senv's built-in policy) or policy (a file of yours), not both",
                    "environments.d.audit.policy: missing.yaml does not exist (relative paths start from the folder of \(checked))",
                    "environments.e.audit.policy: dir is a folder; give an audit.k8s.io/v1 Policy file",
                ], "\(more)")
            #expect(more.map(\.location.description) == [checked + ":4:15", checked + ":5:23", checked + ":6:23"])
        }
    }

    @Test("audit does not change the cache key (it is runtime, not stored content)")
    func cacheKey() throws {
        try TemporaryFolder.with { folder in
            try folder.write("ns.yaml", namespaceText)
            try folder.write("policy.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n")
            let base = "environments:\n  base:\n    seeds: [{name: ns, manifests: [ns.yaml]}]\n"
            let original = try cacheKeys(try folder.config(base))
            for (i, variant) in [
                "audit: {level: RequestResponse}\n" + base,
                "audit: {policy: policy.yaml}\n" + base,
                base + "    audit: {level: Metadata}\n",
            ].enumerated() {
                #expect(try cacheKeys(try folder.config(variant, name: "v\(i).yaml")) == original, "\(variant)")
            }
        }
    }
}
