import Foundation
import Testing

/// scripts/format.sh with the repository's .swift-format, on a small package of its own: what
/// `--lint` (a step of scripts/test.sh) tells a contributor, and that formatting settles.
@Suite(
    "format.sh: swift-format with .swift-format, in place and as the test command's lint", .tags(.cli),
    .timeLimit(.minutes(1)))
struct FormatScriptTests {
    /// A package with format.sh, the repository's .swift-format, Package.swift, and `source` as
    /// Sources/Kit/Kit.swift; the generated files format.sh leaves alone hold unformatted Swift.
    func makePackage(_ ws: Workspace, source: String) async throws {
        try FileManager.default.createDirectory(atPath: ws("scripts"), withIntermediateDirectories: true)
        try await ws.copy(Repository.root + "/scripts/format.sh", to: "scripts/format.sh")
        try FileManager.default.copyItem(atPath: Repository.root + "/.swift-format", toPath: ws(".swift-format"))
        _ = try ws.write(
            "Package.swift",
            "// swift-tools-version: 6.1\nimport PackageDescription\n\nlet package = Package(name: \"Kit\")\n")
        _ = try ws.write("Sources/Kit/Kit.swift", source)
        _ = try ws.write("Sources/K8sEnvStore/Generated/rpc.pb.swift", "let  generated = 1; let more = 2\n")
        _ = try ws.write("Sources/K8sEnvSpec/Schema/BundledSchema.swift", "let  schema = 1; let more = 2\n")
        for folder in ["Tests", "Benchmarks", "Fuzz"] {
            try FileManager.default.createDirectory(atPath: ws(folder), withIntermediateDirectories: true)
        }
    }

    @Test("--lint names each line to change as FILE:LINE:COL with the rule and fails; format.sh fixes it, once for all")
    func lintThenFormat() async throws {
        try await Workspace.with(name: "format", apiServers: false) { ws in
            try await makePackage(
                ws, source: "import Foundation\n\nfunc twice(_ x: Int) -> Int {\n  let  y = x; return y * 2\n}\n")
            let lint = try await ws.shell("scripts/format.sh --lint")
            #expect(lint.status == 1, "\(lint)")
            #expect(
                lint.stderr.contains("Sources/Kit/Kit.swift:4:1: error: [Indentation] indent by 2 spaces"), "\(lint)")
            #expect(lint.stderr.contains("Sources/Kit/Kit.swift:4:13: error: [DoNotUseSemicolons]"), "\(lint)")
            #expect(!lint.stderr.contains("Generated") && !lint.stderr.contains("BundledSchema"), "\(lint)")

            let formatted = try await ws.shell("scripts/format.sh")
            #expect(formatted.status == 0, "\(formatted)")
            let text = try String(contentsOfFile: ws("Sources/Kit/Kit.swift"), encoding: .utf8)
            #expect(text == "import Foundation\n\nfunc twice(_ x: Int) -> Int {\n    let y = x\n    return y * 2\n}\n")
            #expect(
                try String(contentsOfFile: ws("Sources/K8sEnvStore/Generated/rpc.pb.swift"), encoding: .utf8)
                    == "let  generated = 1; let more = 2\n")
            let again = try await ws.shell("scripts/format.sh && scripts/format.sh --lint")
            #expect(again.status == 0, "\(again)")
            #expect(try String(contentsOfFile: ws("Sources/Kit/Kit.swift"), encoding: .utf8) == text)
        }
    }
}
