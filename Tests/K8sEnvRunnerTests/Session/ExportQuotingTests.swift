import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

/// The `export KEY=value` lines of `up`, `env` and `acquire`, which users `eval`: a value from
/// the repository (a path) must come back as itself and never run anything.
@Suite("Export quoting", .tags(.fast))
struct ExportQuotingTests {
    /// Runs `eval "$line"; printf %s "$KUBECONFIG"` in bash, in `folder`.
    static func evaluate(_ line: String, in folder: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "eval \"$1\"; printf %s \"$KUBECONFIG\"", "bash", line]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(
        "export quoting lets no ; through: a prepended letter (U+0D4E) before ; or ' is quoted by bytes, and eval gives the value back without running ./evil"
    )
    func exportQuotingLetsNoSemicolonThrough() throws {
        try TemporaryFolder.with { folder in
            let marker = folder("ran")
            let evil = try folder.write("evil", "#!/bin/sh\ntouch '\(marker)'\n")
            chmod(evil, 0o755)
            for value in [
                folder.path + "/x\u{0D4E};./evil",
                folder.path + "/x\u{0D4E}';./evil;'",
                "a b", "", "it's", "$(./evil)", "`./evil`", "x\u{0D4E}\n./evil",
            ] {
                let line = "export KUBECONFIG=" + Lifecycle.shellQuote(value)
                let (status, output) = try Self.evaluate(line, in: folder.path)
                #expect(status == 0, "\(line)")
                #expect(output == value, "\(line)")
                #expect(!FileManager.default.fileExists(atPath: marker), "eval of \(line) ran ./evil")
            }
            // Plain ASCII paths stay readable.
            #expect(Lifecycle.shellQuote("/tmp/run-1/base.kubeconfig") == "/tmp/run-1/base.kubeconfig")
            #expect(Lifecycle.shellQuote("x\u{0D4E};./evil") == "'x\u{0D4E};./evil'")
            #expect(Lifecycle.shellQuote("é") == "'é'")
        }
    }
}
