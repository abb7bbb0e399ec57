import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite("Diagnostic rendering", .tags(.fast))
struct DiagnosticRendererTests {
    @Test(
        "control characters from a file (an ESC sequence) are shown as U+FFFD, one for one, so the caret still lines up"
    )
    func controlCharacters() {
        let line = "name: \u{1B}[2J\u{1B}]0;owned\u{07}x: 1"
        let renderer = DiagnosticRenderer(sources: ["f.yaml": Array((line + "\n").utf8)])
        let column = line.count - 3  // at "x"
        let diagnostic = Diagnostic(
            .schema, at: SourceLocation(file: "f.yaml", mark: Mark(line: 1, column: column)),
            "bad value \"\u{1B}[31mred\"")
        let text = renderer.render(diagnostic)
        #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(text)")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasSuffix("bad value \"\u{FFFD}[31mred\""), "\(lines[0])")
        #expect(lines[1] == "    name: \u{FFFD}[2J\u{FFFD}]0;owned\u{FFFD}x: 1")
        // The caret sits under "x".
        let caret = lines[2].count - 1
        #expect(Array(lines[1])[caret] == "x", "\(lines[1])\n\(lines[2])")
    }

    @Test("a long line is shown up to 200 characters and an ellipsis; a multi-byte character at the cut is not split")
    func longLine() {
        let line = "key: " + String(repeating: "é", count: 100_000)
        let renderer = DiagnosticRenderer(sources: ["f.yaml": Array((line + "\nnext: 1\n").utf8)])
        let text = renderer.render(
            Diagnostic(.schema, at: SourceLocation(file: "f.yaml", mark: Mark(line: 1, column: 6)), "too long"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 3)
        #expect(lines[1] == "    " + String(line.prefix(200)) + "…")
        #expect(lines[2] == "         ^")
        #expect(!lines[1].contains("\u{FFFD}"))
    }

    @Test(
        "server field paths find their node: indexes, keys with dots, a leading dot; a field the manifest lacks points at its parent"
    )
    func fieldPaths() throws {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              ports:
                - port: 80
                - port: 70000
                  targetPort: 8080
            data:
              a.b: x

            """
        let stream = try YAMLReader.read(Array(yaml.utf8), file: "s.yaml")
        let object = ManifestObject(
            apiVersion: "v1", kind: "Service", name: "web", namespace: nil,
            node: stream.documents[0], file: ManifestFile(relativePath: "s.yaml", displayPath: "s.yaml", path: "s.yaml")
        )
        #expect(object.location(ofField: "spec.ports[1].port").mark == Mark(line: 8, column: 13))
        #expect(object.location(ofField: ".spec.ports[1].targetPort").mark == Mark(line: 9, column: 19))
        #expect(object.location(ofField: "data[a.b]").mark == Mark(line: 11, column: 8))
        #expect(object.location(ofField: "spec.ports[1].protocol").mark == Mark(line: 8, column: 7))
        #expect(object.location(ofField: "spec.ports[5].port").mark == Mark(line: 7, column: 5))
        #expect(object.location(ofField: "").mark == Mark(line: 1, column: 1))
    }
}
