import Foundation
import Testing

// The docs test: README.md, docs/tutorials/*.md and docs/how-to/*.md, every fenced block checked
// by its kind, so a wrong command, line number, import or default fails here.
//
// For the pages' writers. Each fenced block is either checked or marked; a block that is neither
// fails the test. The marker is an HTML comment on the line just before the opening fence (the
// page's reader does not see it):
//
//   <!-- file: PATH -->       The block is the file PATH of the reader's project; it is written at
//                             that point, in a fresh folder (later blocks see it; a later block with
//                             the same PATH replaces it). A k8senv.yaml (any *.yaml with
//                             `apiVersion: k8senv.dev/…`) is checked with `k8senv validate -f PATH`
//                             once the file blocks right after it (its CRDs, seeds) are written;
//                             other *.yaml/*.yml files are parsed (`k8senv json`), *.py files
//                             byte-compiled, *.swift files type-checked against this build's
//                             modules (`import K8sEnvRunner`), *.go files built by the Go test below.
//   <!-- test -->             A shell block, run as written: every `test` block of a page runs in
//                             order in one bash (`set -eu`: a failing command fails the page, as
//                             a reader would see it fail; a pipeline's status is its last command's,
//                             as in the reader's shell; `eval "$(k8senv env)"` carries to the next
//                             block), in that folder, with the built `k8senv`
//                             first on PATH and the binaries' K8SENV_* variables of scripts/test.sh.
//                             A page should end with nothing running (`k8senv down`).
//   <!-- output -->           What the `test` block before it prints: its lines must appear, in
//                             order and adjacent, in that block's standard output or error.
//   <!-- output: COMMAND -->  What COMMAND prints (standard output and error together, exactly),
//                             run at that point like a `test` block but hidden from the reader:
//                             for an output the page describes in words ("spell it wrong and …").
//   <!-- illustration: WHY --> Not checked, and WHY says why (it needs a GitHub runner, a
//                             download, sudo, the reader's own code, …). Keep these few.
//   <!-- workflow -->, <!-- action-workflow -->  ci.md's workflows, run by CIWorkflowTests and
//                             ActionTests.
//
// Without a marker, ```yaml blocks are parsed (`k8senv json`: a fragment of a k8senv.yaml or a
// manifest; a whole k8senv.yaml must be a `file` so it is validated and used), ```json blocks
// parsed, ```python blocks byte-compiled. Every other block needs a marker.
//
// In `output` blocks, `…` stands for anything: a whole line of it for any number of lines, inside
// a line for any characters. Both sides are normalised only where a run must differ: the
// project's temporary path, ports, durations and clock times, run ids, runs of spaces.
//
// A page runs in a fresh empty folder, or in a copy of examples/ (with ../crds) when it has a line
// `<!-- docs-test: examples -->`. Pages are listed in docs/explanation/docs-tests.md too.

/// The pages the docs test reads, relative to the repository.
enum DocsPages {
    static let all: [String] = {
        var pages = ["README.md"]
        for folder in ["docs/tutorials", "docs/how-to"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: Repository.root + "/" + folder)) ?? []
            pages += names.filter { $0.hasSuffix(".md") }.sorted().map { folder + "/" + $0 }
        }
        // K8SENV_DOCS_PAGES=docs/how-to/a.md,README.md checks only those (while writing a page).
        if let only = ProcessInfo.processInfo.environment["K8SENV_DOCS_PAGES"], !only.isEmpty {
            let wanted = Set(only.split(separator: ",").map(String.init))
            return pages.filter(wanted.contains)
        }
        return pages
    }()

    static let markers: Set<String> = ["file", "test", "output", "illustration", "workflow", "action-workflow"]

    /// scripts/go-offline.sh DIR CMD…: CMD in DIR with client-go and k8senv's Go clients importable offline.
    static let goOffline = Repository.root + "/scripts/go-offline.sh"

    /// swiftc flags that find this build's modules: its Modules folder, the module maps of its C
    /// targets (not the `-tool` copies) and of its dependencies' checkouts.
    static func swiftModuleFlags() -> [String] {
        let debug = URL(fileURLWithPath: Repository.binary).resolvingSymlinksInPath().deletingLastPathComponent().path
        let scratch = URL(fileURLWithPath: debug).deletingLastPathComponent().deletingLastPathComponent().path
        var flags = ["-I", debug + "/Modules"]
        var maps = ((try? FileManager.default.contentsOfDirectory(atPath: Repository.root + "/Sources")) ?? [])
            .map { Repository.root + "/Sources/" + $0 + "/module.modulemap" }
        maps += ((try? FileManager.default.contentsOfDirectory(atPath: debug)) ?? [])
            .filter { $0.hasSuffix(".build") && !$0.hasSuffix("-tool.build") }.map {
                debug + "/" + $0 + "/module.modulemap"
            }
        for map in maps.sorted() where FileManager.default.fileExists(atPath: map) {
            flags += ["-Xcc", "-fmodule-map-file=" + map]
        }
        if let walker = FileManager.default.enumerator(atPath: scratch + "/checkouts") {
            for case let file as String in walker where file.hasSuffix("/module.modulemap") {
                flags += ["-Xcc", "-I" + scratch + "/checkouts/" + (file as NSString).deletingLastPathComponent]
            }
        }
        return flags
    }

    static func text(_ page: String) throws -> String {
        String(decoding: try Repository.read(Repository.root + "/" + page), as: UTF8.self)
    }
}

/// What the docs test does with one page's blocks.
struct DocsPlan {
    /// `file`, `test` and `output: COMMAND` blocks, in page order: the page's script.
    var steps: [MarkdownBlocks.Block] = []
    /// `output` blocks with the `test` block whose output they show.
    var outputs: [(shown: MarkdownBlocks.Block, of: MarkdownBlocks.Block)] = []
    var yaml: [MarkdownBlocks.Block] = []
    var json: [MarkdownBlocks.Block] = []
    var python: [MarkdownBlocks.Block] = []
    var go: [MarkdownBlocks.Block] = []
    var swift: [MarkdownBlocks.Block] = []
    var illustrations: [MarkdownBlocks.Block] = []
    var elsewhere: [MarkdownBlocks.Block] = []
    var problems: [String] = []
    var examples = false

    var runsServers: Bool { steps.contains { $0.marker == "test" } }

    static func isConfig(_ text: String) -> Bool {
        text.split(separator: "\n").contains { $0.hasPrefix("apiVersion: k8senv.dev/") }
    }

    init(page: String, text: String) {
        examples = text.split(separator: "\n").contains {
            $0.trimmingCharacters(in: .whitespaces) == "<!-- docs-test: examples -->"
        }
        var lastTest: MarkdownBlocks.Block?
        for block in MarkdownBlocks.fenced(text) {
            let at = "\(page):\(block.line)"
            let language = block.language.split(separator: " ").first.map(String.init) ?? ""
            guard let marker = block.marker else {
                switch language {
                case "yaml", "yml":
                    if Self.isConfig(block.text) {
                        problems.append(
                            "\(at): a whole k8senv.yaml without a marker: put `<!-- file: k8senv.yaml -->` before it (it is then validated and used by the commands after it) or `<!-- illustration: why -->`"
                        )
                    } else {
                        yaml.append(block)
                    }
                case "json": json.append(block)
                case "python", "py": python.append(block)
                default:
                    problems.append(
                        "\(at): a ```\(language) block that is neither checked nor marked: put `<!-- test -->`, `<!-- file: PATH -->`, `<!-- output -->` or `<!-- illustration: why -->` on the line before it (see Tests/k8senvTests/Docs/TutorialTests.swift)"
                    )
                }
                continue
            }
            switch marker {
            case "file":
                let path = block.argument ?? ""
                if path.isEmpty || path.hasPrefix("/") || path.split(separator: "/").contains("..") {
                    problems.append("\(at): `file:` needs a relative path inside the project, not \"\(path)\"")
                    continue
                }
                steps.append(block)
                if path.hasSuffix(".go") { go.append(block) }
                if path.hasSuffix(".swift") { swift.append(block) }
                if path.hasSuffix(".py") { python.append(block) }
                if (path.hasSuffix(".yaml") || path.hasSuffix(".yml")) && !Self.isConfig(block.text) {
                    yaml.append(block)
                }
            case "test":
                if !["sh", "bash"].contains(language) {
                    problems.append("\(at): a `test` block must be ```sh or ```bash, not ```\(language)")
                }
                steps.append(block)
                lastTest = block
            case "output":
                if block.argument.map({ !$0.isEmpty }) == true {
                    steps.append(block)
                } else if let lastTest {
                    outputs.append((block, lastTest))
                } else {
                    problems.append(
                        "\(at): an `output` block with no `test` block before it (use `<!-- output: COMMAND -->`)")
                }
            case "illustration":
                if (block.argument ?? "").isEmpty {
                    problems.append(
                        "\(at): `illustration:` needs a reason (`<!-- illustration: needs a GitHub runner -->`)")
                }
                illustrations.append(block)
            case "workflow", "action-workflow":
                elsewhere.append(block)
            default:
                problems.append(
                    "\(at): unknown docs-test marker `\(marker)` (known: \(DocsPages.markers.sorted().joined(separator: ", ")))"
                )
            }
        }
    }
}

/// Output as a run prints it, reduced to what does not change from one run to the next.
enum DocsOutput {
    static let rules: [(NSRegularExpression, String)] = [
        (#"\b\d{9,}-\d+\b"#, "RUNID"),
        (#"127\.0\.0\.1:\d+"#, "127.0.0.1:PORT"),
        (#"\brevision \d+"#, "revision N"),
        (#"\b\d\d:\d\d:\d\d(\.\d+)?\b"#, "TIME"),
        (#"\b(\d+(\.\d+)?(ns|µs|us|ms|s|m|h))+\b"#, "DUR"),
        (#"[ \t]+"#, " "),
    ].map { (try! NSRegularExpression(pattern: $0.0), $0.1) }

    static func lines(_ text: String, paths: [String]) -> [String] {
        var text = text
        for path in paths where !path.isEmpty { text = text.replacingOccurrences(of: path, with: "/…") }
        return text.split(separator: "\n").map { line in
            var line = String(line)
            for (regex, template) in rules {
                line = regex.stringByReplacingMatches(
                    in: line, range: NSRange(line.startIndex..., in: line), withTemplate: template)
            }
            return line.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
    }

    static func lineMatches(_ expected: String, _ actual: String) -> Bool {
        guard expected.contains("…") else { return expected == actual }
        let pattern =
            "^" + expected.components(separatedBy: "…").map(NSRegularExpression.escapedPattern).joined(separator: ".*")
            + "$"
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.firstMatch(in: actual, range: NSRange(actual.startIndex..., in: actual)) != nil
    }

    /// Whether `expected` (with `…` lines for any lines) matches `actual` from its first line,
    /// to its end when `whole`.
    static func matches(_ expected: ArraySlice<String>, _ actual: ArraySlice<String>, whole: Bool) -> Bool {
        guard let first = expected.first else { return !whole || actual.isEmpty }
        if first == "…" {
            return (actual.startIndex...actual.endIndex).contains {
                matches(expected.dropFirst(), actual[$0...], whole: whole)
            }
        }
        guard let line = actual.first, lineMatches(first, line) else { return false }
        return matches(expected.dropFirst(), actual.dropFirst(), whole: whole)
    }

    static func contains(_ actual: [String], _ expected: [String]) -> Bool {
        (0...actual.count).contains { matches(expected[...], actual[$0...], whole: false) }
    }
}

/// README.md, docs/tutorials/ and docs/how-to/, checked block by block (see the top of this file).
@Suite(
    "docs: every fenced block of README, tutorials and how-tos checked or marked", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct TutorialTests {
    static let page = Repository.root + "/docs/tutorials/getting-started.md"

    static func blocks() throws -> [MarkdownBlocks.Block] {
        MarkdownBlocks.fenced(String(decoding: try Repository.read(page), as: UTF8.self))
    }

    @Test("the tutorial marks its files and commands")
    func tutorialMarkers() throws {
        let blocks = try Self.blocks()
        let files = blocks.filter { $0.marker == "file" }.compactMap(\.argument)
        #expect(files.contains("k8senv.yaml"), "\(files)")
        #expect(blocks.filter { $0.marker == "test" }.count >= 3)
        #expect(blocks.filter { $0.marker == "output" }.count >= 3)
    }

    @Test(
        "a block that is neither checked nor marked, a marker the test does not know and an illustration without a reason are reported at page:line"
    )
    func unmarkedBlocks() {
        let page = """
            # A page

            ```sh
            k8senv up
            ```

            <!-- ilustration: a typo -->
            ```text
            output
            ```

            <!-- illustration: -->
            ```lua
            x = 1
            ```

            ```yaml
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            ```

            <!-- output -->
            ```text
            nothing before it
            ```

            ```yaml
            environments: {base: {}}
            ```

            <!-- illustration: needs sudo -->
            ```sh
            sudo true
            ```
            """
        let plan = DocsPlan(page: "x.md", text: page)
        #expect(plan.problems.count == 5, "\(plan.problems)")
        #expect(
            plan.problems.contains { $0.hasPrefix("x.md:3: a ```sh block that is neither checked nor marked") },
            "\(plan.problems)")
        #expect(
            plan.problems.contains { $0.hasPrefix("x.md:8: unknown docs-test marker `ilustration`") },
            "\(plan.problems)")
        #expect(plan.problems.contains { $0.hasPrefix("x.md:13: `illustration:` needs a reason") }, "\(plan.problems)")
        #expect(
            plan.problems.contains { $0.hasPrefix("x.md:17: a whole k8senv.yaml without a marker") }, "\(plan.problems)"
        )
        #expect(
            plan.problems.contains { $0.hasPrefix("x.md:23: an `output` block with no `test` block before it") },
            "\(plan.problems)")
        #expect(plan.yaml.map(\.line) == [27] && plan.illustrations.count == 2)
    }

    @Test("shown output matches what is printed up to temporary paths, ports, durations and `…`")
    func outputComparison() {
        let paths = ["/tmp/k8senv-cli-test-docs-1234"]
        let printed = DocsOutput.lines(
            """
            one: snapshot 0310e48332fb (cache hit)
            one-0: its 1 mutating request (log: /tmp/k8senv-cli-test-docs-1234/.k8senv/runs/1796623381-31587/one-0/logs/audit.log):
              19:35:23.783  k8senv-admin  create  configmaps  default/x       201   5.9ms
            sample   3m41s
            """, paths: paths)
        let shown = DocsOutput.lines(
            """
            one-0: its 1 mutating request (log: /…/.k8senv/runs/1796153720-22193/one-0/logs/audit.log):
              10:00:00.000  k8senv-admin  create  configmaps  default/x  201  1ms
            …
            sample 1s
            """, paths: [])
        #expect(DocsOutput.contains(printed, shown))
        #expect(!DocsOutput.matches(shown[...], printed[...], whole: true), "the first line is not shown")
        let wrong = shown.map { $0.replacingOccurrences(of: "201", with: "200") }
        #expect(!DocsOutput.contains(printed, wrong))
    }

    @Test(
        "the page's blocks: files valid, commands exit 0, output as shown, nothing left running",
        arguments: DocsPages.all)
    func page(_ page: String) async throws {
        let text = try DocsPages.text(page)
        let plan = DocsPlan(page: page, text: text)
        for problem in plan.problems { Issue.record(Comment(rawValue: problem)) }

        let checks = FileManager.default.temporaryDirectory.path + "/k8senv-docs-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: checks, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: checks) }
        func save(_ block: MarkdownBlocks.Block, _ suffix: String) throws -> String {
            let path = checks + "/L\(block.line)" + suffix
            try Data(block.text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        // JSON blocks: one document, or one per line.
        for block in plan.json {
            let whole = try? JSONSerialization.jsonObject(with: Data(block.text.utf8), options: [.fragmentsAllowed])
            let lines = block.text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            let each = lines.allSatisfy {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed])) != nil
            }
            #expect(whole != nil || each, "\(page):\(block.line): the ```json block is not JSON")
        }

        try await Workspace.with(example: plan.examples, name: "docs", apiServers: plan.runsServers) { ws in
            // YAML blocks parse as k8senv reads YAML (error file names are the blocks' lines).
            if !plan.yaml.isEmpty {
                let files = try plan.yaml.map { try save($0, ".yaml") }
                let parsed = try await ws.finish(ws.launch(Repository.binary, ["json", "--count"] + files))
                #expect(
                    parsed.status == 0,
                    "\(page): a YAML block does not parse (L<line>.yaml is the block at that line of the page): \(parsed.stderr)"
                )
            }
            // Swift files type-check against the modules of this build (K8sEnvRunner, the
            // toolchain's Testing).
            if !plan.swift.isEmpty {
                let files = try plan.swift.map { try save($0, ".swift") }
                let typechecked = try await ws.finish(
                    ws.launch("/usr/bin/env", ["swiftc", "-typecheck"] + DocsPages.swiftModuleFlags() + files))
                #expect(
                    typechecked.status == 0,
                    "\(page): a Swift file does not compile (L<line>.swift is the block at that line of the page): \(typechecked.stderr)"
                )
            }
            // Python blocks byte-compile.
            if !plan.python.isEmpty {
                let files = try plan.python.map { try save($0, ".py") }
                let compiled = try await ws.finish(
                    ws.launch(
                        "/usr/bin/env",
                        [
                            "python3", "-c",
                            "import py_compile, sys\nfor f in sys.argv[1:]: py_compile.compile(f, cfile=f + 'c', doraise=True)",
                        ] + files))
                #expect(
                    compiled.status == 0,
                    "\(page): a Python block does not compile (L<line>.py is the block at that line of the page): \(compiled.stderr)"
                )
            }
            guard !plan.steps.isEmpty else { return }

            // The page's script: files written, configs validated, commands run, in page order.
            let out = checks + "/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var script = "set -eu\n"
            // A config is validated once the files after it (its CRDs and seeds) are written too.
            var validations: [MarkdownBlocks.Block] = []
            func validate() {
                for config in validations {
                    script += "echo \(config.line) > '\(out)/current'\n"
                    script +=
                        "k8senv validate -f '\(config.argument!)' > '\(out)/\(config.line).out' 2> '\(out)/\(config.line).err'\n"
                }
                validations = []
            }
            for step in plan.steps {
                if step.marker != "file" { validate() }
                script += "echo \(step.line) > '\(out)/current'\n"
                switch step.marker {
                case "file":
                    let path = step.argument!
                    let source = try save(step, ".file")
                    script += "mkdir -p \"$(dirname '\(path)')\" && cp '\(source)' '\(path)'\n"
                    if path.hasSuffix(".sh") { script += "chmod 755 '\(path)'\n" }
                    if DocsPlan.isConfig(step.text) { validations.append(step) }
                case "test":
                    script += "{\n\(step.text)\n} > '\(out)/\(step.line).out' 2> '\(out)/\(step.line).err'\n"
                default:  // output: COMMAND
                    script += "if (\n\(step.argument!)\n) > '\(out)/\(step.line).out' 2>&1; then :; fi\n"
                }
            }
            validate()
            script += "echo done > '\(out)/current'\n"
            let scriptFile = checks + "/page.sh"
            try Data(script.utf8).write(to: URL(fileURLWithPath: scriptFile))
            let bin = (Repository.binary as NSString).deletingLastPathComponent
            // /usr/bin before the rest: Debian's python3 and pytest, with the python3-kubernetes and
            // python3-pytest-xdist that scripts/setup.sh installs, before another Python on PATH.
            let path = bin + ":/usr/bin:/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "")
            // XDG_CACHE_HOME removed: the warm snapshot cache of ~/.cache/k8senv is reused.
            let outcome = try await ws.finish(
                ws.launch(
                    "/bin/bash", ["--noprofile", "--norc", scriptFile],
                    environment: [
                        "PATH": path, "XDG_CACHE_HOME": nil,
                        // The Python client as isolated-tests-python.md's "or put it on PYTHONPATH".
                        "PYTHONPATH": Repository.root + "/clients/python",
                    ]))
            func read(_ name: String) -> String {
                (try? String(contentsOfFile: out + "/" + name, encoding: .utf8)) ?? ""
            }
            let current = read("current").trimmingCharacters(in: .whitespacesAndNewlines)
            let failedAt = Int(current)
            if let failedAt {
                let block = plan.steps.first { $0.line == failedAt }
                Issue.record(
                    Comment(
                        rawValue: """
                            \(page):\(failedAt): the \(block?.marker == "file" ? "file (k8senv validate)" : "block") \(outcome.exit)
                            --- its stdout:
                            \(read("\(failedAt).out"))
                            --- its stderr:
                            \(read("\(failedAt).err"))
                            --- the script's stderr:
                            \(outcome.stderr)
                            """))
            } else {
                #expect(current == "done" && outcome.status == 0, "\(page): the script did not finish: \(outcome)")
            }
            func ran(_ block: MarkdownBlocks.Block) -> Bool { failedAt.map { block.line < $0 } ?? true }
            let paths = [ws.directory, ws.path, checks]
            for (shown, of) in plan.outputs where ran(of) {
                let expected = DocsOutput.lines(shown.text, paths: [])
                let stdout = DocsOutput.lines(read("\(of.line).out"), paths: paths)
                let stderr = DocsOutput.lines(read("\(of.line).err"), paths: paths)
                #expect(
                    DocsOutput.contains(stdout, expected) || DocsOutput.contains(stderr, expected),
                    """
                    \(page):\(shown.line): the output shown is not what the block at line \(of.line) prints
                    --- shown (normalised):
                    \(expected.joined(separator: "\n"))
                    --- stdout (normalised):
                    \(stdout.joined(separator: "\n"))
                    --- stderr (normalised):
                    \(stderr.joined(separator: "\n"))
                    """)
            }
            for step in plan.steps where step.marker == "output" && ran(step) {
                let expected = DocsOutput.lines(step.text, paths: [])
                let actual = DocsOutput.lines(read("\(step.line).out"), paths: paths)
                #expect(
                    DocsOutput.matches(expected[...], actual[...], whole: true),
                    """
                    \(page):\(step.line): the output shown is not what `\(step.argument!)` prints
                    --- shown (normalised):
                    \(expected.joined(separator: "\n"))
                    --- printed (normalised):
                    \(actual.joined(separator: "\n"))
                    """)
            }
            // Nothing left running, no detached run (after a page that ran to its end: a failed
            // block has been reported, and the teardown stops what the page's rest would have).
            guard failedAt == nil else { return }
            #expect(ws.leftovers().isEmpty, "\(page): still running after the page: \(ws.leftovers())")
            #expect(
                !FileManager.default.fileExists(atPath: ws.stateFolder + "/current"), "\(page): a detached run is left")
        }
    }

    @Test(
        "the Go files of the pages build (scripts/go-offline.sh)",
        // One page at a time: with a cold Go cache the first compiles client-go and the others
        // find it built; twenty at once compiled it twenty times over, beside the suite.
        .serialized,
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: DocsPages.goOffline),
            "scripts/go-offline.sh is not in this tree yet (the clients branch adds it)"),
        arguments: DocsPages.all)
    func goFiles(_ page: String) async throws {
        let plan = DocsPlan(page: page, text: try DocsPages.text(page))
        guard !plan.go.isEmpty else { return }
        try await Workspace.with(name: "docs-go", apiServers: false) { ws in
            // Every file of the page (a go.mod too), the last block of a path winning.
            for block in plan.steps where block.marker == "file" { try ws.write(block.argument!, block.text) }
            // The user's own Go build cache and GOPATH roots (go-offline.sh keeps their paths
            // stable), not the workspace's: client-go is compiled once, not once per page — on
            // a fresh machine each page's cold build took over 300 s while the suite ran.
            let userCache =
                ProcessInfo.processInfo.environment["XDG_CACHE_HOME"]
                ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.cache")
            let child = try ws.launch(
                DocsPages.goOffline, [ws.directory, "go", "vet", "./..."],
                environment: ["XDG_CACHE_HOME": userCache])
            let exit = try await child.wait(timeout: .seconds(900))
            let outcome = Outcome(exit: exit, stdout: child.stdout, stderr: child.stderr)
            #expect(
                outcome.status == 0, "\(page): the Go files (lines \(plan.go.map(\.line))) do not build: \(outcome)")
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
            let outcome = try await ws.finish(
                ws.launch(
                    Repository.binary, ["run", "--", "sh", "test/widgets.sh"],
                    environment: ["PATH": path]))
            #expect(outcome.status == 1, "\(outcome)")
            #expect(!outcome.stdout.contains("PASS"), "\(outcome)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }
}
