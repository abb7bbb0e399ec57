import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// Inputs the fuzzer (scripts/fuzz.sh) found or suggested: each must end in a diagnostic, fast,
/// never in a crash, a hang or an exhausted memory.
@Suite("Fuzz regressions", .tags(.fast))
struct FuzzRegressionTests {
    func readError(_ text: String) -> Diagnostic? {
        do {
            let stream = try YAMLReader.read(Array(text.utf8), file: "fuzz.yaml")
            for document in stream.documents { _ = try JSONWriter.json(document) }
            return nil
        } catch {
            return error
        }
    }

    @Test("a billion-laughs document that stays under the node cap is still stopped by the expansion ratio")
    func billionLaughsUnderCap() {
        // Found by libFuzzer (a timeout): 1.1 million nodes from 215 bytes.
        let text = """
            a: &a [x,x,x,x,x,x,x,x,x,x]
            b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
            c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
            d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
            e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
            f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]

            """
        let error = readError(text)
        #expect(error?.code == .yamlLimit)
        #expect(error?.message.contains("alias bomb") == true, "\(String(describing: error))")
        #expect(
            error?.location.mark?.line == 5, "stopped at the alias that crosses the limit, before expanding anything")
    }

    @Test("a few long scalars repeated through aliases are stopped by the byte limit")
    func longScalarBomb() {
        // 2 kB of text, 10^5 copies through aliases: ~200 MB of JSON from a 2 kB file.
        var text = "s: &s " + String(repeating: "x", count: 2000) + "\n"
        text += "a: &a [" + Array(repeating: "*s", count: 10).joined(separator: ",") + "]\n"
        for (name, previous) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d")] {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ",") + "]\n"
        }
        let limits = YAMLLimits(maxExpandedBytes: 16 << 20)
        do {
            _ = try YAMLReader.read(Array(text.utf8), file: "fuzz.yaml", limits: limits)
            Issue.record("the long-scalar bomb was accepted")
        } catch {
            #expect(error.code == .yamlLimit)
            #expect(error.message.contains("MiB of text"), "\(error)")
        }
    }

    @Test("a thousand repeated list items are checked for uniqueness in linear time and reported")
    func uniqueItemsLinear() throws {
        var text =
            "apiVersion: k8senv.dev/v1alpha1\nkind: Config\nenvironments:\n  e:\n    seeds:\n      - name: s\n        manifests: [m.yaml]\n        dependsOn:\n"
        for i in 0..<3000 { text += "          - n\(i % 1500)\n" }
        let stream = try YAMLReader.read(Array(text.utf8), file: "k8senv.yaml")
        let value = try YAMLValue(stream.documents[0])
        let errors = ConfigLoader.bundledSchema.validate(value)
        #expect(errors.filter { $0.message.contains("is listed more than once") }.count == 1500)
    }
}
