import Foundation
import K8sEnvTestSupport
import Testing

@testable import K8sEnvRunner

/// The one way k8senv makes folders and writes files under a folder a repository could have
/// planted things in (docs/explanation/security.md).
@Suite("private folders and files: nothing planted is followed", .tags(.fast))
struct PrivateFilesTests {
    @Test(
        "makeDirectory below a trusted folder: a symlinked component is refused by name and nothing is made through it; a folder made is 0700, one that existed keeps its mode"
    )
    func folders() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder("elsewhere"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder("state"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder("state/runs"), withDestinationPath: folder("elsewhere"))
        #expect { try PrivateFiles.makeDirectory(folder("state/runs/one"), below: folder("state")) } throws: {
            "\($0)".contains(folder("state/runs")) && "\($0)".contains("is a symlink")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder("elsewhere")).isEmpty)

        chmod(folder("state"), 0o750)
        try PrivateFiles.makeDirectory(folder("state/made/deeper"), below: folder("state"))
        var info = stat()
        #expect(lstat(folder("state/made"), &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(lstat(folder("state/made/deeper"), &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(lstat(folder("state"), &info) == 0 && info.st_mode & 0o777 == 0o750, "not chmod'ed: it existed")
    }

    @Test("writeAtomically: planted temporary names and a symlink at the target's name are never written through")
    func files() throws {
        let folder = try TemporaryFolder()
        let victim = try folder.write("victim.txt", "precious\n")
        try FileManager.default.createDirectory(atPath: folder("state"), withIntermediateDirectories: true)
        for pid in getpid()..<getpid() + 50 { symlink(victim, folder("state/current.tmp-\(pid)")) }
        symlink(victim, folder("state/current"))
        try PrivateFiles.write("mine\n", to: folder("state/current"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        var info = stat()
        #expect(
            lstat(folder("state/current"), &info) == 0 && info.st_mode & S_IFMT == S_IFREG
                && info.st_mode & 0o777 == 0o600)
        #expect(try String(contentsOfFile: folder("state/current"), encoding: .utf8) == "mine\n")

        // Not replacing: the first one written stays.
        try PrivateFiles.writeAtomically(bytes: Array("first\n".utf8), to: folder("state/key"), replacing: false)
        try PrivateFiles.writeAtomically(bytes: Array("second\n".utf8), to: folder("state/key"), replacing: false)
        #expect(try String(contentsOfFile: folder("state/key"), encoding: .utf8) == "first\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: folder("state")).filter {
            !$0.hasPrefix("current.tmp-")
        }
        #expect(left.sorted() == ["current", "key"], "no temporary file is left")
    }
}
