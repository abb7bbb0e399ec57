import ArgumentParser
import Testing

@testable import K8sEnvCLI

/// `k8senv open` and `run --postmortem`, parsed in process.
@Suite("open and run --postmortem, parsed in process", .tags(.cli))
struct OpenParsingTests {
    func parse<C: ParsableCommand>(_ arguments: [String], as: C.Type) throws -> C {
        try #require(try K8sEnvCommand.parseAsRoot(arguments) as? C, "\(arguments)")
    }

    func usageError(_ arguments: [String]) -> (message: String, code: Int32)? {
        do {
            _ = try K8sEnvCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return (K8sEnvCommand.message(for: error), K8sEnvCommand.status(for: error))
        }
    }

    @Test(
        "issue 29: open BUNDLE [--detach] [--list] [-f FILE [--profile P]] [--trace FILE]; --list with --detach or --trace, --profile without -f and no bundle are usage errors; run --postmortem DIR"
    )
    func open() throws {
        let open = try parse(
            ["open", "pm/base-0.k8senv-bundle", "--detach", "-f", "k8senv.yaml", "--profile", "ci"], as: Open.self)
        #expect(
            open.bundle == "pm/base-0.k8senv-bundle" && open.detach && !open.list && open.file == "k8senv.yaml"
                && open.profile == "ci")
        #expect(try parse(["open", "--list", "b.k8senv-bundle"], as: Open.self).list)
        #expect(usageError(["open", "--list", "--detach", "b"])?.message.contains("--list starts nothing") == true)
        #expect(usageError(["open", "--profile", "ci", "b"])?.message.contains("--profile needs -f") == true)
        #expect(usageError(["open"])?.code == 2)
        #expect(try parse(["open", "b", "--trace", "open.json"], as: Open.self).trace == "open.json")
        #expect(
            usageError(["open", "--list", "--trace", "t.json", "b"])?.message.contains(
                "--list starts nothing: leave out --trace") == true)
        let run = try parse(["run", "--postmortem", "pm", "--", "go", "test"], as: Run.self)
        #expect(run.postmortem == "pm" && run.command == ["go", "test"])
    }
}
