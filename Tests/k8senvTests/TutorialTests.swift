import Foundation
import Testing

/// docs/tutorials/getting-started.md, run as a reader would: every file it asks for
/// (a fenced block after `<!-- file: PATH -->`) written in a fresh folder, then every block
/// after `<!-- test -->` run in order by one bash (`set -euo pipefail`, so state such as
/// `eval "$(k8senv env)"` carries from one block to the next), with the built k8senv on PATH
/// and the binaries' K8SENV_* variables from the test's environment.
@Suite("docs/tutorials/getting-started.md (run as written)", .tags(.integration), .timeLimit(Workspace.integrationLimit))
struct TutorialTests {
    static let page = Repository.root + "/docs/tutorials/getting-started.md"

    static func blocks() throws -> [MarkdownBlocks.Block] {
        MarkdownBlocks.fenced(String(decoding: try Repository.read(page), as: UTF8.self))
    }

    @Test("the page marks files and runnable blocks, and every marker is one this test knows")
    func markers() throws {
        let blocks = try Self.blocks()
        let files = blocks.filter { $0.marker == "file" }.compactMap(\.argument)
        #expect(files.contains("k8senv.yaml"), "\(files)")
        #expect(blocks.filter { $0.marker == "test" }.count >= 3)
        for block in blocks where block.marker != nil {
            #expect(["file", "test"].contains(block.marker!), "unknown marker at line \(block.line): \(block.marker!)")
            if block.marker == "test" { #expect(block.language == "sh", "line \(block.line)") }
            if block.marker == "file" {
                let path = block.argument ?? ""
                #expect(!path.isEmpty && !path.hasPrefix("/") && !path.contains(".."), "line \(block.line): \(path)")
            }
        }
    }

    @Test("the tutorial's files and commands: exit 0, the test passes, nothing left running")
    func runsAsWritten() async throws {
        _ = try RealBinaries.require()
        let blocks = try Self.blocks()
        try await Workspace.with(name: "tutorial") { ws in
            for block in blocks where block.marker == "file" {
                let path = try #require(block.argument)
                try ws.write(path, block.text, mode: path.hasSuffix(".sh") ? 0o755 : 0o644)
            }
            var script = "set -euo pipefail\n"
            for block in blocks where block.marker == "test" {
                script += "echo '+++ block at line \(block.line)' >&2\n" + block.text
            }
            let scriptFile = try ws.write("../tutorial.sh", script)
            let bin = (Repository.binary as NSString).deletingLastPathComponent
            let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            let outcome = try await ws.finish(ws.launch("/bin/bash", ["--noprofile", "--norc", scriptFile],
                                                        environment: ["PATH": path]))
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.stdout.contains("valid (1 environment)"), "\(outcome)")
            #expect(outcome.stdout.contains("sample"), "\(outcome)")
            #expect(outcome.stdout.contains("blue\nPASS\n"), "\(outcome)")
            #expect(outcome.stdout.contains("stopped"), "k8senv down: \(outcome)")
            // Nothing left: no process names the folder, no run folder, no detached run.
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
            #expect(!FileManager.default.fileExists(atPath: ws.stateFolder + "/current"))
            // The snapshot the first run saved was used by the later ones.
            #expect(outcome.stderr.contains("snapshot"), "\(outcome)")
        }
    }

    @Test("the tutorial's test fails when the seeded widget is not what it expects")
    func failingTestFails() async throws {
        _ = try RealBinaries.require()
        let blocks = try Self.blocks()
        try await Workspace.with(name: "tutorial-fail") { ws in
            for block in blocks where block.marker == "file" {
                let path = try #require(block.argument)
                try ws.write(path, block.text.replacingOccurrences(of: "color: blue", with: "color: red"))
            }
            let bin = (Repository.binary as NSString).deletingLastPathComponent
            let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            let outcome = try await ws.finish(ws.launch(Repository.binary, ["run", "--", "sh", "test/widgets.sh"],
                                                        environment: ["PATH": path]))
            #expect(outcome.status == 1, "\(outcome)")
            #expect(!outcome.stdout.contains("PASS"), "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
