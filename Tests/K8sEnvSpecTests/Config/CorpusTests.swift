import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite("Corpus")
struct CorpusTests {
    @Test("the corpus is big enough and every invalid case has its expected output", .tags(.fast))
    func shape() throws {
        #expect(Corpus.invalidCases.count >= 45)
        #expect(Corpus.validCases.count >= 12)
        for stage in Corpus.stages {
            #expect(Corpus.invalidCases.filter { $0.hasPrefix("invalid/\(stage)/") }.count >= 10, "stage \(stage)")
        }
        let expected = Corpus.stages.flatMap { stage in
            Repository.files(under: Repository.corpus + "/invalid/" + stage, suffix: ".expected").map {
                "invalid/\(stage)/\($0)"
            }
        }
        #expect(
            expected.map { String($0.dropLast(".expected".count)) }
                == Corpus.invalidCases.map { String($0.dropLast(".yaml".count)) })
        #expect(
            ProcessInfo.processInfo.environment["K8SENV_CORPUS_UNSET_VARIABLE"] == nil,
            "the corpus relies on K8SENV_CORPUS_UNSET_VARIABLE being unset")
    }

    @Test(
        "each invalid config is rejected with exactly the expected text", .tags(.fast), arguments: Corpus.invalidCases)
    func invalid(_ relative: String) throws {
        let expected = String(
            decoding: try Repository.read(Repository.corpus + "/" + relative.dropLast(".yaml".count) + ".expected"),
            as: UTF8.self)
        let text = Corpus.validationText(relative)
        #expect(text + "\n" == expected)
        // Every error names a line and column (the summary line is the only one without).
        let name = (relative as NSString).lastPathComponent
        let errorLines = text.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(!errorLines.isEmpty)
        for line in errorLines {
            let location = line.components(separatedBy: ": error: ")[0]
            #expect(location.wholeMatch(of: /.+:[0-9]+:[0-9]+/) != nil, "\(name): no line and column in: \(line)")
        }
    }

    @Test("the stage a case is filed under is the stage that rejects it", .tags(.fast), arguments: Corpus.invalidCases)
    func stage(_ relative: String) throws {
        let report = ConfigLoader().validate(Repository.corpus + "/" + relative, profile: nil)
        let codes = Set(report.diagnostics.map(\.code))
        let yamlCodes: Set<Diagnostic.Code> = [.yamlSyntax, .yamlDuplicateKey, .yamlAlias, .yamlLimit, .yamlValue]
        let schemaCodes: Set<Diagnostic.Code> = [.schema, .unknownKey, .duplicate]
        if relative.hasPrefix("invalid/yaml/") {
            #expect(
                !codes.isDisjoint(with: yamlCodes)
                    || report.diagnostics.contains { $0.message.contains("one YAML document") }, "\(codes)")
        } else if relative.hasPrefix("invalid/schema/") {
            #expect(codes.isSubset(of: schemaCodes), "\(codes)")
        } else {
            #expect(
                codes.isDisjoint(with: [.yamlSyntax, .yamlDuplicateKey, .yamlAlias, .yamlLimit, .unknownKey])
                    || relative.contains("manifest"), "\(codes)")
        }
    }

    @Test("each valid config validates clean", .tags(.fast), arguments: Corpus.validCases)
    func valid(_ relative: String) throws {
        let report = ConfigLoader().validate(Repository.corpus + "/" + relative, profile: nil)
        #expect(report.isValid, "\(Corpus.validationText(relative))")
        #expect(report.text.hasPrefix(Repository.corpus + "/" + relative + ": valid ("))
        // And each of its profiles on its own.
        for profile in report.configs.first?.profileNames ?? [] {
            #expect(
                ConfigLoader().validate(Repository.corpus + "/" + relative, profile: profile).isValid,
                "\(relative) --profile \(profile)")
        }
    }

    @Test("valid configs have a plan and a cache key for every environment", .tags(.fast), arguments: Corpus.validCases)
    func validPlans(_ relative: String) throws {
        let loader = ConfigLoader()
        let config = try loader.load(Repository.corpus + "/" + relative)
        let plan = try Plan(config)
        #expect(plan.environments.count == config.environments.count)
        let keys = try CacheKey.compute(plan, apiServerVersion: "v1.20.2", files: loader.files)
        #expect(Set(keys.keys) == Set(config.environments.map(\.name)))
        #expect(keys.values.allSatisfy { $0.count == 64 })
    }

    @Test(
        "the built k8senv prints the expected text and exits 1 for each invalid config", .tags(.python),
        arguments: Corpus.invalidCases)
    func cli(_ relative: String) throws {
        let binary = try Repository.requireBinary()
        let path = Repository.corpus + "/" + relative
        let folder = (path as NSString).deletingLastPathComponent
        let result = try run(
            binary, ["validate", "-f", (path as NSString).lastPathComponent], currentDirectory: folder)
        let expected = String(
            decoding: try Repository.read(String(path.dropLast(".yaml".count)) + ".expected"), as: UTF8.self)
        #expect(result.status == 1)
        #expect(result.stdout == expected)
    }
}
