import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// The diagnostics of validating `yaml` against `schema` (JSON text).
func schemaErrors(_ yaml: String, schema: String) throws -> [Diagnostic] {
    let compiled = try JSONSchema(json: Array(schema.utf8), file: "s.json")
    let document = try #require(try readYAML(yaml).documents.first)
    return compiled.validate(try YAMLValue(document))
}

/// The diagnostics of validating `yaml` against the bundled k8senv schema.
func configSchemaErrors(_ yaml: String) throws -> [Diagnostic] {
    let document = try #require(try readYAML(yaml).documents.first)
    return ConfigLoader.bundledSchema.validate(try YAMLValue(document))
}

let minimalConfig = "apiVersion: k8senv.dev/v1alpha1\nkind: Config\n"

@Suite("JSON Schema", .tags(.fast))
struct SchemaTests {
    @Test("the bundled schema is schemas/k8senv.schema.json byte for byte")
    func bundledMatchesFile() throws {
        let file = try Repository.read(Repository.schema)
        #expect(Array((BundledSchema.text + "\n").utf8) == file, "run scripts/embed-schema.sh")
    }

    @Test("the bundled schema compiles")
    func bundledCompiles() throws {
        _ = try JSONSchema(json: Array(BundledSchema.text.utf8), file: BundledSchema.path)
    }

    @Test("every keyword the schema uses is one the validator implements")
    func keywordsSupported() throws {
        let document = try #require(
            try YAMLReader.read(try Repository.read(Repository.schema), file: "schema").documents.first)
        var used = Set<String>()
        func walk(_ schema: YAMLValue) {
            guard let entries = schema.entries else { return }
            for entry in entries {
                used.insert(entry.key)
                switch entry.key {
                case "properties", "$defs":
                    for sub in entry.value.entries ?? [] { walk(sub.value) }
                case "additionalProperties", "items", "propertyNames":
                    walk(entry.value)
                case "anyOf", "allOf", "oneOf":
                    for sub in entry.value.items ?? [] { walk(sub) }
                default:
                    break
                }
            }
        }
        walk(try YAMLValue(document))
        #expect(used.count > 20)
        #expect(
            used.subtracting(JSONSchema.supportedKeywords).isEmpty,
            "unsupported: \(used.subtracting(JSONSchema.supportedKeywords).sorted())")
    }

    @Test("a schema with an unsupported keyword is refused")
    func unsupportedKeyword() throws {
        #expect(throws: Diagnostic.self) {
            try JSONSchema(json: Array(#"{"type": "object", "oneOf": [{"type": "string"}]}"#.utf8), file: "s.json")
        }
        #expect(throws: Diagnostic.self) {
            try JSONSchema(json: Array(##"{"$ref": "#/$defs/missing"}"##.utf8), file: "s.json")
        }
    }

    @Test("type: names the expected and the actual type, at the value")
    func typeMessage() throws {
        let errors = try configSchemaErrors(minimalConfig + "environments:\n  - base\n")
        #expect(errors.map(\.message) == ["environments: expected a mapping, got a list"])
        #expect(errors.first?.location.mark == Mark(line: 4, column: 3))
        let size = try configSchemaErrors(minimalConfig + "environments:\n  base: {pool: {size: \"4\"}}\n")
        #expect(size.map(\.message) == [#"environments.base.pool.size: expected an integer, got a string ("4")"#])
        #expect(size.first?.location.mark == Mark(line: 4, column: 23))
    }

    @Test("an integer field takes 4.0 (JSON has one number type) but not 4.5")
    func integerType() throws {
        #expect(try configSchemaErrors(minimalConfig + "environments:\n  base: {pool: {size: 4.0}}\n").isEmpty)
        #expect(try configSchemaErrors(minimalConfig + "environments:\n  base: {pool: {size: 4.5}}\n").count == 1)
    }

    @Test("enum: lists the choices and suggests the closest")
    func enumMessage() throws {
        let errors = try configSchemaErrors(minimalConfig + "storage: etdc\nenvironments: {base: {}}\n")
        #expect(
            errors.map(\.message) == [
                #"storage: "etdc" is not one of "embedded", "etcd", "kine"; did you mean "etcd"?"#
            ])
        #expect(errors.first?.location.mark == Mark(line: 3, column: 10))
        let far = try configSchemaErrors(minimalConfig + "storage: postgres\nenvironments: {base: {}}\n")
        #expect(far.map(\.message) == [#"storage: "postgres" is not one of "embedded", "etcd", "kine""#])
    }

    @Test("enum: a 5 MB value is reported clipped, without a suggestion, and the rendered error stays short")
    func enumHugeValue() throws {
        let huge = String(repeating: "e", count: 5 << 20)
        let text = minimalConfig + "storage: \(huge)\nenvironments: {base: {}}\n"
        let errors = try configSchemaErrors(text)
        #expect(errors.count == 1)
        let message = try #require(errors.first?.message)
        #expect(
            message.hasPrefix(#"storage: "eeeee"#) && message.contains(#"…" is not one of "embedded", "etcd", "kine""#),
            "\(message.prefix(300))")
        #expect(!message.contains("did you mean"))
        let rendered = DiagnosticRenderer(sources: [errors[0].location.file: Array(text.utf8)]).render(errors[0])
        #expect(rendered.utf8.count < 1_000, "\(rendered.prefix(300))")
        #expect(rendered.contains("    storage: eeee") && rendered.contains("e…\n"), "\(rendered.prefix(400))")
    }

    @Test("const: says what the value must be")
    func constMessage() throws {
        let errors = try configSchemaErrors("apiVersion: k8senv.dev/v1\nkind: Config\nenvironments: {base: {}}\n")
        #expect(errors.map(\.message) == [#"apiVersion: must be "k8senv.dev/v1alpha1", not "k8senv.dev/v1""#])
        #expect(errors.first?.location.mark == Mark(line: 1, column: 13))
    }

    @Test("required: names the missing key, at the mapping")
    func requiredMessage() throws {
        let errors = try configSchemaErrors(minimalConfig)
        #expect(errors.map(\.message) == [#"the document: missing required key "environments""#])
        #expect(errors.first?.location.mark == Mark(line: 1, column: 1))
        let seed = try configSchemaErrors(minimalConfig + "environments:\n  base:\n    seeds:\n      - name: a\n")
        #expect(seed.map(\.message) == [#"environments.base.seeds[0]: missing required key "manifests""#])
        #expect(seed.first?.location.mark == Mark(line: 6, column: 9))
    }

    @Test("unknown keys: where, and the closest known key")
    func unknownKeyMessage() throws {
        let errors = try configSchemaErrors(minimalConfig + "enviroments: {base: {}}\n")
        #expect(
            errors.map(\.message).contains(#"unknown key "enviroments" at the top level; did you mean "environments"?"#)
        )
        #expect(errors.first { $0.code == .unknownKey }?.location.mark == Mark(line: 3, column: 1))
        let nested = try configSchemaErrors(minimalConfig + "environments:\n  base:\n    pool: {sise: 2}\n")
        #expect(nested.map(\.message) == [#"unknown key "sise" in environments.base.pool; did you mean "size"?"#])
        #expect(nested.first?.location.mark == Mark(line: 5, column: 12))
        let noGuess = try configSchemaErrors(minimalConfig + "environments: {base: {}}\nwhatever: 1\n")
        #expect(noGuess.map(\.message) == [#"unknown key "whatever" at the top level"#])
    }

    @Test("pattern: says what was expected in words")
    func patternMessage() throws {
        let errors = try configSchemaErrors(minimalConfig + "timeouts: {start: 1 minute}\nenvironments: {base: {}}\n")
        #expect(
            errors.map(\.message) == [
                #"timeouts.start: "1 minute" is not a Go-style duration such as 500ms, 30s or 1m30s"#
            ])
        #expect(errors.first?.location.mark == Mark(line: 3, column: 19))
        let arg = try configSchemaErrors(
            minimalConfig + "apiServer: {extraArgs: [\"-v=2\"]}\nenvironments: {base: {}}\n")
        #expect(
            arg.map(\.message) == [#"apiServer.extraArgs[0]: "-v=2" is not a flag of the form --name or --name=value"#])
    }

    @Test("pattern without a message names the pattern")
    func rawPattern() throws {
        let errors = try schemaErrors("abc", schema: #"{"type": "string", "pattern": "^[0-9]+$"}"#)
        #expect(errors.map(\.message) == [#"the document: "abc" does not match the pattern ^[0-9]+$"#])
    }

    @Test("minimum and maximum")
    func bounds() throws {
        let low = try configSchemaErrors(minimalConfig + "environments:\n  base: {pool: {size: 0}}\n")
        #expect(low.map(\.message) == ["environments.base.pool.size: 0 is less than the minimum of 1"])
        let high = try configSchemaErrors(minimalConfig + "environments:\n  base: {pool: {size: 65}}\n")
        #expect(high.map(\.message) == ["environments.base.pool.size: 65 is more than the maximum of 64"])
        #expect(high.first?.location.mark == Mark(line: 4, column: 23))
    }

    @Test("minItems, minLength and minProperties")
    func minimums() throws {
        let items = try configSchemaErrors(
            minimalConfig + "environments:\n  base:\n    seeds: [{name: a, manifests: []}]\n")
        #expect(items.map(\.message) == ["environments.base.seeds[0].manifests: needs at least one item"])
        #expect(items.first?.location.mark == Mark(line: 5, column: 34))
        let length = try configSchemaErrors(minimalConfig + "environments:\n  base: {crds: [\"\"]}\n")
        #expect(length.map(\.message) == ["environments.base.crds[0]: must not be empty"])
        let properties = try configSchemaErrors(minimalConfig + "environments: {}\n")
        #expect(properties.map(\.message) == ["environments: needs at least one entry"])
    }

    @Test("uniqueItems: the repeated item, at its position")
    func uniqueItems() throws {
        let errors = try configSchemaErrors(
            minimalConfig
                + "environments:\n  base:\n    seeds: [{name: a, manifests: [x]}, {name: b, manifests: [z], dependsOn: [a, a]}]\n"
        )
        #expect(errors.map(\.message) == [#"environments.base.seeds[1].dependsOn[1]: "a" is listed more than once"#])
        #expect(errors.first?.code == .duplicate)
        #expect(errors.first?.location.mark == Mark(line: 5, column: 81))
    }

    @Test("propertyNames: says the name is wrong, at the key")
    func propertyNames() throws {
        let errors = try configSchemaErrors(minimalConfig + "environments:\n  Base: {}\n")
        #expect(errors.count == 1)
        #expect(errors.first?.message.hasPrefix(#"environments: "Base" is not a valid name"#) == true)
        #expect(errors.first?.location.mark == Mark(line: 4, column: 3))
    }

    @Test("anyOf: an allowed null passes; otherwise the closest branch's errors")
    func anyOf() throws {
        let removal =
            minimalConfig + "environments: {base: {}, extra: {}}\nprofiles:\n  ci:\n    environments: {extra: null}\n"
        #expect(try configSchemaErrors(removal).isEmpty)
        let bad =
            minimalConfig + "environments: {base: {}}\nprofiles:\n  ci:\n    environments: {base: {pool: {size: 0}}}\n"
        let errors = try configSchemaErrors(bad)
        #expect(errors.map(\.message) == ["profiles.ci.environments.base.pool.size: 0 is less than the minimum of 1"])
        #expect(errors.first?.location.mark == Mark(line: 6, column: 40))
        let scalar = try configSchemaErrors(
            minimalConfig + "environments: {base: {}}\nprofiles:\n  ci:\n    environments: {base: 5}\n")
        #expect(scalar.count == 1)
        #expect(scalar.first?.message.hasPrefix("profiles.ci.environments.base: expected a mapping") == true)
    }

    @Test("all errors of a document are reported, not just the first")
    func allErrors() throws {
        let errors = try configSchemaErrors(
            "apiVersion: v1\nkind: Cfg\nstorage: x\nenvironments: {base: {pool: {size: 0}}}\n")
        #expect(errors.count == 4)
    }

    @Test("the path of a key that is not a simple word is quoted")
    func quotedPath() {
        #expect(
            JSONSchema.describe([.key("environments"), .key("a.b"), .key("seeds"), .index(2)])
                == #"environments["a.b"].seeds[2]"#)
    }
}
