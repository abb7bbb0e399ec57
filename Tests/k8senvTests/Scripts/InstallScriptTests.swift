import Foundation
import Testing

/// scripts/install.sh against a release folder served by file://: what a user who runs it sees.
/// The release here is a stand-in tarball (a script for k8senv, k8senv-kine a link to it) made as
/// scripts/release.sh names and checksums its files; scripts/test-install.sh installs the real
/// one in a root without Swift.
@Suite("install.sh (a file:// release folder)", .tags(.cli), .timeLimit(.minutes(1)))
struct InstallScriptTests {
    static let version = "1.2.3"
    static let name = "k8senv-\(version)-linux-x86_64"

    /// Makes ws/release/NAME.tar.gz and its .sha256; returns the file:// URL of the folder.
    func release(_ ws: Workspace) async throws -> String {
        let made = try await ws.shell(
            """
            set -e
            mkdir -p release/\(Self.name)
            printf '#!/bin/sh\\necho "$(basename "$0") \(Self.version)"\\n' > release/\(Self.name)/k8senv
            chmod 755 release/\(Self.name)/k8senv
            ln -s k8senv release/\(Self.name)/k8senv-kine
            echo license > release/\(Self.name)/LICENSE
            tar -C release -czf release/\(Self.name).tar.gz \(Self.name)
            (cd release && sha256sum \(Self.name).tar.gz > \(Self.name).tar.gz.sha256)
            """)
        #expect(made.status == 0, "\(made)")
        return "file://" + ws("release")
    }

    func install(_ ws: Workspace, url: String, prefix: String, path: String? = nil) async throws -> Outcome {
        try await ws.shell(
            """
            \(path.map { "PATH='\($0)':\"$PATH\"; export PATH;" } ?? "")
            K8SENV_RELEASE_URL='\(url)' sh '\(Repository.root)/scripts/install.sh' --version \(Self.version) --prefix '\(prefix)'
            """)
    }

    @Test("installs k8senv and its k8senv-kine link to PREFIX/bin after checking the checksum, and says where")
    func installs() async throws {
        try await Workspace.with(apiServers: false) { ws in
            let url = try await release(ws)
            let outcome = try await install(ws, url: url, prefix: ws("prefix"))
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.stdout.contains("installed k8senv \(Self.version) (linux-x86_64, SHA-256"), "\(outcome)")
            #expect(outcome.stdout.contains(ws("prefix/bin/k8senv")), "\(outcome)")
            let run = try await ws.shell("'\(ws("prefix/bin/k8senv"))'; '\(ws("prefix/bin/k8senv-kine"))'")
            #expect(run.stdout == "k8senv \(Self.version)\nk8senv-kine \(Self.version)\n", "\(run)")
            #expect(
                (try? FileManager.default.destinationOfSymbolicLink(atPath: ws("prefix/bin/k8senv-kine"))) == "k8senv")
            #expect(FileManager.default.fileExists(atPath: ws("prefix/share/k8senv/LICENSE")))
        }
    }

    @Test("refuses a tarball whose SHA-256 is not its .sha256's, says so, and installs nothing")
    func checksumMismatch() async throws {
        try await Workspace.with(apiServers: false) { ws in
            let url = try await release(ws)
            // Another tarball under the same name: the .sha256 is the first one's.
            let swapped = try await ws.shell(
                "echo tampered >> release/\(Self.name)/k8senv && tar -C release -czf release/\(Self.name).tar.gz \(Self.name)"
            )
            #expect(swapped.status == 0, "\(swapped)")
            let outcome = try await install(ws, url: url, prefix: ws("prefix"))
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderr.contains("install.sh: checksum mismatch for \(Self.name).tar.gz"), "\(outcome)")
            #expect(outcome.stderr.contains("nothing was installed"), "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: ws("prefix/bin/k8senv")))
        }
    }

    @Test("refuses a platform there is no release for (uname says aarch64), naming it")
    func unknownPlatform() async throws {
        try await Workspace.with(apiServers: false) { ws in
            let url = try await release(ws)
            _ = try ws.write(
                "fake/uname", "#!/bin/sh\ncase \"$1\" in -s) echo Linux ;; -m) echo aarch64 ;; esac\n", mode: 0o755)
            let outcome = try await install(ws, url: url, prefix: ws("prefix"), path: ws("fake"))
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stderr.contains(
                    "install.sh: no k8senv release for Linux aarch64 (there is one for Linux x86_64)"), "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: ws("prefix/bin/k8senv")))
        }
    }
}
