import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// The two independent checks the Spec issue asks for, against Python's implementations:
/// jsonschema for the schema verdicts, PyYAML for YAML-to-JSON. The Python halves are
/// scripts/check/schema_verdicts.py and scripts/check/yaml_to_json.py.
@Suite("Independent checks (Python)", .tags(.python))
struct IndependentChecksTests {
    /// invalid/yaml cases PyYAML reads without an error, and why that is expected.
    static let pyyamlAccepts: [String: String] = [
        "duplicate-top-level-key.yaml": "PyYAML accepts duplicate keys (the last wins); kubectl and k8senv reject them",
        "duplicate-environment.yaml": "PyYAML accepts duplicate keys (the last wins); kubectl and k8senv reject them",
        "duplicate-key-flow.yaml": "PyYAML accepts duplicate keys (the last wins); kubectl and k8senv reject them",
        "duplicate-key-after-resolution.yaml":
            "PyYAML accepts duplicate keys (the last wins); kubectl and k8senv reject them",
        "alias-bomb.yaml":
            "PyYAML shares aliased nodes instead of copying them; the JSON k8senv sends holds every copy, so it bounds the expansion",
        "recursive-alias.yaml": "PyYAML builds a self-referencing object; JSON cannot hold one",
    ]

    struct Verdict: Decodable {
        var file: String
        var verdict: String
        var detail: String
    }

    @Test("jsonschema gives the same verdict as k8senv on the corpus")
    func schemaVerdicts() throws {
        let cases = Corpus.validCases + Corpus.invalidCases
        let paths = cases.map { Repository.corpus + "/" + $0 }
        let result = try python("schema_verdicts.py", [Repository.schema] + paths)
        try #require(result.status == 0, "schema_verdicts.py failed: \(result.stderr)")
        let verdicts = try result.stdout.split(separator: "\n").map {
            try JSONDecoder().decode(Verdict.self, from: Data($0.utf8))
        }
        try #require(verdicts.count == cases.count)
        var pyyamlAccepted: [String] = []
        for (relative, verdict) in zip(cases, verdicts) {
            let name = (relative as NSString).lastPathComponent
            let ours = ConfigLoader().validate(Repository.corpus + "/" + relative, profile: nil).isValid
            if relative.hasPrefix("valid/") {
                #expect(verdict.verdict == "valid", "\(relative): \(verdict.detail)")
                #expect(ours, "\(relative)")
            } else if relative.hasPrefix("invalid/schema/") {
                #expect(verdict.verdict == "invalid", "\(relative): jsonschema says \(verdict.verdict)")
                #expect(!ours)
            } else if relative.hasPrefix("invalid/semantic/") {
                // Their errors are beyond the schema: jsonschema accepts them.
                #expect(verdict.verdict == "valid", "\(relative): \(verdict.detail)")
                #expect(!ours)
            } else {
                #expect(!ours)
                if verdict.verdict != "yaml-error" { pyyamlAccepted.append(name) }
            }
        }
        #expect(
            pyyamlAccepted.sorted() == Self.pyyamlAccepts.keys.sorted(),
            "invalid/yaml cases PyYAML accepts must be exactly the documented differences")
    }

    /// The deliberate differences scripts/check/yaml_to_json.py normalises or skips.
    static let knownDifferences: Set<String> = [
        "y-n-booleans", "go-float-syntax", "0o-octal", "leading-zero", "sexagesimal", "timestamps", "duplicate-keys",
    ]

    /// cluster/addons of the Kubernetes source unpacked under ${XDG_CACHE_HOME:-~/.cache}/k8senv/src/, if any.
    static func kubernetesAddons() -> String? {
        let environment = ProcessInfo.processInfo.environment
        let cache =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache"
        let src = cache + "/k8senv/src"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: src)) ?? []
        for name in names.sorted() where name.hasPrefix("kubernetes") {
            var isDirectory: ObjCBool = false
            let addons = src + "/" + name + "/cluster/addons"
            if FileManager.default.fileExists(atPath: addons, isDirectory: &isDirectory), isDirectory.boolValue {
                return addons
            }
        }
        return nil
    }

    @Test("k8senv json equals PyYAML's safe_load on real manifests and YAML 1.1 edge cases")
    func yamlToJSON() throws {
        let binary = try Repository.requireBinary()
        let testdata = Repository.root + "/Tests/Fixtures/crds"
        var files = Repository.files(under: testdata, suffix: "").filter { !$0.isEmpty }.map { testdata + "/" + $0 }
            .filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
        try #require(!files.isEmpty, "\(testdata) holds no files")
        let addons = Self.kubernetesAddons()
        if let addons {
            files +=
                (Repository.files(under: addons, suffix: ".yaml") + Repository.files(under: addons, suffix: ".yml")).map
            { addons + "/" + $0 }
        } else {
            print(
                "note: no Kubernetes source under ~/.cache/k8senv/src: cluster/addons not compared (only testdata and edge cases)"
            )
        }
        let edgeCases = Repository.corpus + "/json/yaml11-edge-cases.yaml"
        let duplicate = Repository.corpus + "/json/duplicate-key.yaml"
        files += [edgeCases, duplicate]

        let result = try python("yaml_to_json.py", [binary] + files)
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            "yaml_to_json.py printed no summary: \(result.stderr)")
        let mismatches = summary["mismatches"] as? [[String: String]] ?? []
        for mismatch in mismatches {
            Issue.record("\(mismatch["file"] ?? "?"): \(mismatch["detail"] ?? "?")")
        }
        #expect(result.status == 0)
        #expect(summary["files"] as? Int == files.count)
        let equal = summary["equal"] as? Int ?? 0
        let bothFailed = summary["bothFailed"] as? [String] ?? []
        let skipped = summary["skipped"] as? [String: [String]] ?? [:]
        #expect(equal >= files.count - bothFailed.count - 1)
        // Files neither can read are template sources (cluster/addons *.yaml.in-style); none of ours.
        #expect(!bothFailed.contains { $0.hasPrefix(testdata) || $0.hasPrefix(Repository.corpus) }, "\(bothFailed)")
        #expect(
            Set(skipped.keys).isSubset(of: Self.knownDifferences),
            "undocumented difference skipped: \(skipped.keys.sorted())")
        // The edge cases exercise every deliberate difference.
        for category in Self.knownDifferences {
            #expect(
                skipped[category]?.contains { $0.hasPrefix(edgeCases) || $0.hasPrefix(duplicate) } == true,
                "\(category) not exercised")
        }
        print(
            "yaml_to_json: \(files.count) files (\(addons == nil ? "no cluster/addons" : "with cluster/addons")), \(equal) equal, "
                + "\(summary["documents"] as? Int ?? 0) documents, both failed: \(bothFailed.count)")
        for (category, places) in skipped.sorted(by: { $0.key < $1.key }) {
            print("  skipped \(category): \(places.count) (e.g. \(places.prefix(3).joined(separator: ", ")))")
        }
    }
}
