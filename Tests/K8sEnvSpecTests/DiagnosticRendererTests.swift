import K8sEnvSpec
import Testing

@Suite("Diagnostic rendering", .tags(.fast))
struct DiagnosticRendererTests {
    @Test("control characters from a file (an ESC sequence) are shown as U+FFFD, one for one, so the caret still lines up")
    func controlCharacters() {
        let line = "name: \u{1B}[2J\u{1B}]0;owned\u{07}x: 1"
        let renderer = DiagnosticRenderer(sources: ["f.yaml": Array((line + "\n").utf8)])
        let column = line.count - 3  // at "x"
        let diagnostic = Diagnostic(.schema, at: SourceLocation(file: "f.yaml", mark: Mark(line: 1, column: column)),
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
}
