import Foundation
import Testing

/// scripts/check-suites.sh, the first step of scripts/test.sh, on a small tree of its own: what a
/// contributor who renames a suite, or puts two in one file, is told.
@Suite("check-suites.sh: the Tests/ layout and the names scripts filter by", .tags(.cli), .timeLimit(.minutes(1)))
struct CheckSuitesTests {
    /// A tree with check-suites.sh, one test target of two suites in files named as them, and a
    /// scripts/test.sh that filters by `filters`.
    func tree(_ ws: Workspace, filters: String) async throws {
        try FileManager.default.createDirectory(atPath: ws("scripts"), withIntermediateDirectories: true)
        try await ws.copy(Repository.root + "/scripts/check-suites.sh", to: "scripts/check-suites.sh")
        _ = try ws.write(
            "Tests/KitTests/Pool/PoolTests.swift",
            "import Testing\n\n@Suite(\"pools\")\nstruct PoolTests {\n    @Test func one() {}\n}\n")
        _ = try ws.write(
            "Tests/KitTests/QueueTests.swift",
            "import Testing\n\n@Suite(\"queues\", .tags(.fast),\n       .serialized)\nstruct QueueTests {\n    @Test func one() {}\n}\n"
        )
        _ = try ws.write(
            "scripts/test.sh", "#!/bin/sh\nswift test \(filters)\nswift test --filter \"$1\"\n", mode: 0o755)
    }

    @Test("names that exist (suites, a test target, a variable that is not checked) pass")
    func namesExist() async throws {
        try await Workspace.with(name: "suites", apiServers: false) { ws in
            try await tree(ws, filters: "--filter KitTests --skip PoolTests --skip=QueueTests")
            let outcome = try await ws.shell("scripts/check-suites.sh")
            #expect(outcome.status == 0, "\(outcome)")
            #expect(outcome.stderr.contains("2 suites in 1 test targets"), "\(outcome)")
        }
    }

    @Test("a --skip or --filter naming no suite (one renamed) fails with the script's file and line")
    func renamedSuite() async throws {
        try await Workspace.with(name: "suites", apiServers: false) { ws in
            try await tree(ws, filters: "--skip PoolTests --skip PoolQueueTests")
            let outcome = try await ws.shell("scripts/check-suites.sh")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stderr.contains(
                    "scripts/test.sh:2: PoolQueueTests (after --skip or --filter) names no suite and no test target under Tests/"
                ), "\(outcome)")
            #expect(!outcome.stderr.contains("PoolTests (after"), "\(outcome)")
        }
    }

    @Test("two suites in one file, or a suite in a file named otherwise, fail with where and what to do")
    func oneSuiteAFile() async throws {
        try await Workspace.with(name: "suites", apiServers: false) { ws in
            try await tree(ws, filters: "--skip PoolTests")
            _ = try ws.write(
                "Tests/KitTests/Pool/PoolTests.swift",
                "import Testing\n\n@Suite struct PoolTests {}\n\n@Suite(\"sizes\")\nstruct PoolSizeTests {\n    @Test func one() {}\n}\n"
            )
            let outcome = try await ws.shell("scripts/check-suites.sh")
            #expect(outcome.status == 1, "\(outcome)")
            #expect(
                outcome.stderr.contains(
                    "Tests/KitTests/Pool/PoolTests.swift:1: 2 suites in one file (PoolTests, PoolSizeTests)"),
                "\(outcome)")
            #expect(
                outcome.stderr.contains(
                    "Tests/KitTests/Pool/PoolTests.swift:6: suite PoolSizeTests is in PoolTests.swift: name the file PoolSizeTests.swift"
                ), "\(outcome)")
        }
    }
}
