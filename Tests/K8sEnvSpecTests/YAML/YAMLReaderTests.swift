import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// Reads YAML text as a file named t.yaml.
func readYAML(_ text: String, limits: YAMLLimits = .default) throws(Diagnostic) -> YAMLStream {
    try YAMLReader.read(Array(text.utf8), file: "t.yaml", limits: limits)
}

/// The JSON of the first document of `text`.
func jsonOf(_ text: String) throws(Diagnostic) -> String {
    let stream = try readYAML(text)
    guard let first = stream.documents.first else { return "" }
    return String(decoding: try JSONWriter.json(first), as: UTF8.self)
}

/// The diagnostic reading `bytes` (and converting every document to JSON) throws, or nil.
func yamlFailure(_ bytes: [UInt8], limits: YAMLLimits = .default) -> Diagnostic? {
    do {
        let stream = try YAMLReader.read(bytes, file: "t.yaml", limits: limits)
        for document in stream.documents { _ = try JSONWriter.json(document) }
        return nil
    } catch {
        return error
    }
}

func yamlFailure(_ text: String) -> Diagnostic? { yamlFailure(Array(text.utf8)) }

@Suite("YAML reader", .tags(.fast))
struct YAMLReaderTests {
    @Test("nodes keep their 1-based line and column")
    func positions() throws {
        let text = """
            # a comment
            a:
              b: [1, {c: x}]
              d: |
                text
            e: "q"
            """
        let root = try #require(try readYAML(text).documents.first)
        #expect(root.mark == Mark(line: 2, column: 1))
        let a = try #require(root["a"])
        #expect(a.mark == Mark(line: 3, column: 3))
        let b = try #require(a["b"])
        #expect(b.mark == Mark(line: 3, column: 6))
        #expect(b.items.map(\.mark) == [Mark(line: 3, column: 7), Mark(line: 3, column: 10)])
        #expect(b.items[1]["c"]?.mark == Mark(line: 3, column: 14))
        #expect(a["d"]?.mark == Mark(line: 4, column: 6))
        #expect(a["d"]?.scalarText == "text\n")
        #expect(root["e"]?.mark == Mark(line: 6, column: 4))
        #expect(root.entries.map(\.key.mark) == [Mark(line: 2, column: 1), Mark(line: 6, column: 1)])
        #expect(root.location.description == "t.yaml:2:1")
    }

    @Test("columns count characters, not bytes")
    func unicodeColumns() throws {
        let root = try #require(try readYAML("é: ü\nx: [ä, ö]\n").documents.first)
        #expect(root["é"]?.mark == Mark(line: 1, column: 4))
        #expect(root["x"]?.items.last?.mark == Mark(line: 2, column: 8))
    }

    @Test("a stream holds several documents, each with its own positions")
    func multipleDocuments() throws {
        let stream = try readYAML("---\na: 1\n---\nb: 2\n...\n---\n- x\n")
        let documents = stream.documents
        #expect(documents.count == 3)
        #expect(documents.map(\.kind) == [.mapping, .mapping, .sequence])
        #expect(documents.map(\.mark.line) == [2, 4, 7])
        #expect(
            try documents.map { String(decoding: try JSONWriter.json($0), as: UTF8.self) } == [
                #"{"a":1}"#, #"{"b":2}"#, #"["x"]"#,
            ])
    }

    @Test("anchors are per document")
    func anchorsDoNotCrossDocuments() throws {
        let failure = try #require(yamlFailure("a: &x 1\n---\nb: *x\n"))
        #expect(failure.code == .yamlAlias)
        #expect(failure.location.mark == Mark(line: 3, column: 4))
    }

    @Test("aliases repeat the anchored node")
    func aliases() throws {
        #expect(
            try jsonOf("base: &b {x: 1, w: [a]}\nuse: *b\ns: &s hello\nt: *s\n")
                == #"{"base":{"x":1,"w":["a"]},"use":{"x":1,"w":["a"]},"s":"hello","t":"hello"}"#)
    }

    @Test("an anchor can be redefined; an alias takes the latest definition")
    func redefinedAnchor() throws {
        #expect(try jsonOf("a: &x 1\nb: *x\nc: &x 2\nd: *x\n") == #"{"a":1,"b":1,"c":2,"d":2}"#)
    }

    @Test("merge key with one mapping: its keys join, after the explicit ones")
    func mergeSingle() throws {
        #expect(
            try jsonOf("a: &a {x: 1, w: 2}\nb:\n  <<: *a\n  z: 3\n") == #"{"a":{"x":1,"w":2},"b":{"z":3,"x":1,"w":2}}"#)
    }

    @Test("merge key with a list of mappings: the earlier mapping wins")
    func mergeList() throws {
        #expect(
            try jsonOf("a: &a {x: 1}\nb: &b {x: 2, w: 2}\nc:\n  <<: [*a, *b]\n")
                == #"{"a":{"x":1},"b":{"x":2,"w":2},"c":{"x":1,"w":2}}"#)
    }

    @Test("explicit keys win over merged ones, before or after the merge key")
    func mergeExplicitWins() throws {
        #expect(try jsonOf("a: &a {x: 1, w: 1}\nc:\n  x: 9\n  <<: *a\n") == #"{"a":{"x":1,"w":1},"c":{"x":9,"w":1}}"#)
        #expect(try jsonOf("a: &a {x: 1, w: 1}\nc:\n  <<: *a\n  x: 9\n") == #"{"a":{"x":1,"w":1},"c":{"x":9,"w":1}}"#)
    }

    @Test("a merge key's value must be a mapping or a list of mappings")
    func mergeOfScalar() throws {
        let scalar = try #require(yamlFailure("a: &a 1\nb:\n  <<: *a\n"))
        #expect(scalar.message.contains("merge key"))
        // At the merge key, not at the anchor (which may be anywhere in the file).
        #expect(scalar.location.mark == Mark(line: 3, column: 3))
        let list = try #require(yamlFailure("b:\n  <<: [{x: 1}, 2]\n"))
        #expect(list.message.contains("merge key"))
        #expect(list.location.mark == Mark(line: 2, column: 16))
    }

    @Test("a quoted \"<<\" is an ordinary key")
    func quotedMergeKey() throws {
        #expect(try jsonOf("a: {\"<<\": {x: 1}}\n") == #"{"a":{"<<":{"x":1}}}"#)
    }

    @Test(
        "standard tags decide the type; custom tags keep the text",
        arguments: [
            ("!!str 12", #""12""#),
            ("!!str true", #""true""#),
            ("!!str", #""""#),
            ("!!int \"12\"", "12"),
            ("!!int 0x10", "16"),
            ("!!float 1", "1"),
            ("!!float \"1.5\"", "1.5"),
            ("!!bool \"yes\"", "true"),
            ("!!null \"\"", "null"),
            ("!!null ~", "null"),
            ("!custom 12", #""12""#),
            ("! 12", #""12""#),
            ("!!binary aGVsbG8=", #""aGVsbG8=""#),
            ("!!timestamp 2001-12-14", #""2001-12-14""#),
        ])
    func tags(source: String, json: String) throws {
        #expect(try jsonOf("v: \(source)\n") == "{\"v\":\(json)}")
    }

    @Test(
        "a standard tag the text does not fit is an error at the value",
        arguments: [
            ("!!int \"abc\"", "!!int"),
            ("!!int 1.5", "!!int"),
            ("!!bool maybe", "!!bool"),
            ("!!null 0", "!!null"),
            ("!!float abc", "!!float"),
        ])
    func badTag(source: String, tag: String) throws {
        let failure = try #require(yamlFailure("a: 1\nv: \(source)\n"))
        #expect(failure.code == .yamlValue)
        #expect(failure.location.mark == Mark(line: 2, column: 4))
        #expect(failure.message.contains("as \(tag)"))
    }

    @Test(
        "duplicate keys are rejected, naming both positions",
        arguments: [
            ("a: 1\nb: 2\na: 3\n", "a", Mark(line: 3, column: 1), "line 1, column 1"),
            ("x:\n  k: 1\n  k: 2\n", "k", Mark(line: 3, column: 3), "line 2, column 3"),
            ("{a: 1, a: 2}\n", "a", Mark(line: 1, column: 8), "line 1, column 2"),
            ("1: a\n\"1\": b\n", "1", Mark(line: 2, column: 1), "line 1, column 1"),
            ("yes: a\ntrue: b\n", "true", Mark(line: 2, column: 1), "line 1, column 1"),
            ("0x10: a\n16: b\n", "16", Mark(line: 2, column: 1), "line 1, column 1"),
            ("~: a\nnull: b\n", "null", Mark(line: 2, column: 1), "line 1, column 1"),
        ])
    func duplicateKeys(text: String, key: String, at mark: Mark, first: String) throws {
        let failure = try #require(yamlFailure(text))
        #expect(failure.code == .yamlDuplicateKey)
        #expect(failure.location.mark == mark)
        #expect(failure.message.contains("duplicate key \"\(key)\""))
        #expect(failure.message.contains(first))
    }

    @Test("keys that differ as JSON strings are not duplicates")
    func distinctKeys() throws {
        #expect(try jsonOf("a: 1\nA: 2\n\"true\": 3\nTrue2: 4\n") == #"{"a":1,"A":2,"true":3,"True2":4}"#)
    }

    @Test("a key a merge brings in does not clash with an explicit key")
    func mergeIsNotDuplicate() throws {
        #expect(yamlFailure("a: &a {x: 1}\nb: {x: 2, <<: *a}\n") == nil)
    }

    @Test("a collection as a key is rejected (JSON keys are strings)")
    func complexKey() throws {
        let failure = try #require(yamlFailure("x: 1\n? [a, b]\n: c\n"))
        // Where the key starts, not where it ends.
        #expect(failure.location.mark == Mark(line: 2, column: 3))
        #expect(failure.message.contains("key"))
    }

    @Test("an alias bomb (billion laughs, 9 levels) stops at the expansion limit")
    func aliasBomb() throws {
        var text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for (previous, name) in zip(names, names.dropFirst()) {
            let refs = Array(repeating: "*\(previous)", count: 9).joined(separator: ",")
            text += "\(name): &\(name) [\(refs)]\n"
        }
        let failure = try #require(yamlFailure(text))
        #expect(failure.code == .yamlLimit)
        #expect(failure.message.contains("alias"))
        #expect(
            failure.message.contains("more than 100000 nodes"), "the floor of the expansion limit: \(failure.message)")
        let mark = try #require(failure.location.mark)
        #expect(mark.line > 1 && mark.line <= 9)
    }

    @Test("the expansion limit counts aliased nodes")
    func expansionLimit() throws {
        let limits = YAMLLimits(maxDepth: 512, maxExpandedNodes: 20)
        let text = "a: &a [1, 2, 3, 4, 5]\nb: [*a, *a, *a]\n"
        let failure = try #require(yamlFailure(Array(text.utf8), limits: limits))
        #expect(failure.code == .yamlLimit)
        #expect(failure.location.mark?.line == 2)
        #expect(yamlFailure(Array("a: &a [1, 2]\nb: [*a]\n".utf8), limits: limits) == nil)
    }

    @Test("an unknown alias names the anchor and where it is used")
    func unknownAlias() throws {
        let failure = try #require(yamlFailure("a: 1\nb: *nope\n"))
        #expect(failure.code == .yamlAlias)
        #expect(failure.location.mark == Mark(line: 2, column: 4))
        #expect(failure.message.contains("\"nope\""))
    }

    @Test("an alias to an anchor used before it is defined is unknown")
    func forwardAlias() throws {
        let failure = try #require(yamlFailure("a: *x\nb: &x 1\n"))
        #expect(failure.code == .yamlAlias)
        #expect(failure.location.mark == Mark(line: 1, column: 4))
    }

    @Test("an alias inside the node it names is rejected")
    func recursiveAlias() throws {
        let failure = try #require(yamlFailure("a: &x [1, *x]\n"))
        #expect(failure.code == .yamlAlias)
        #expect(failure.location.mark == Mark(line: 1, column: 11))
        #expect(failure.message.contains("contains it"))
    }

    @Test("10,000 nested flow collections give the depth error, not a crash", arguments: ["[", "{a: "])
    func deepNesting(open: String) throws {
        let close = open == "[" ? "]" : "}"
        let text = String(repeating: open, count: 10_000) + "1" + String(repeating: close, count: 10_000) + "\n"
        let failure = try #require(yamlFailure(text))
        #expect(failure.code == .yamlLimit)
        #expect(failure.message.contains("deeper than \(YAMLLimits.default.maxDepth)"))
        #expect(failure.location.mark?.line == 1)
    }

    @Test("deeply nested block mappings give the depth error")
    func deepBlockNesting() throws {
        var text = ""
        for depth in 0..<600 { text += String(repeating: " ", count: depth) + "k:\n" }
        let failure = try #require(yamlFailure(text))
        #expect(failure.code == .yamlLimit)
        #expect(failure.location.mark != nil)
    }

    @Test(
        "malformed YAML is an error with a position",
        arguments: [
            ("a: [1, 2\n", "truncated flow sequence"),
            ("a: {b: 1\n", "truncated flow mapping"),
            ("a: \"abc\n", "unterminated double quote"),
            ("a: 'abc", "unterminated single quote"),
            ("a:\n  b: 1\n c: 2\n", "bad indentation"),
            ("- a\nb: 1\n", "sequence then mapping"),
            ("a: b: c\n", "mapping value in a plain scalar"),
            ("a: &\n", "empty anchor"),
            ("a: !<> x\n", "empty verbatim tag"),
            ("%YAML 2.0\n---\na: 1\n", "unsupported version"),
            ("key: [a, b]]\n", "extra bracket"),
            ("a: 1\n- b\n", "item after a mapping"),
        ])
    func malformed(text: String, what: String) throws {
        let failure = try #require(yamlFailure(text), "\(what) should fail")
        #expect(failure.code == .yamlSyntax, "\(what)")
        #expect(failure.location.file == "t.yaml")
        #expect(failure.location.mark != nil, "\(what): \(failure)")
    }

    @Test("bad indentation points at the offending line")
    func badIndentationLine() throws {
        let failure = try #require(yamlFailure("a:\n  b: 1\n c: 2\n"))
        #expect(failure.location.mark?.line == 3)
    }

    @Test("a tab used for indentation says so", arguments: ["a:\n\tb: 1\n", "a:\n  b:\n\t- 1\n"])
    func tabs(text: String) throws {
        let failure = try #require(yamlFailure(text))
        #expect(failure.code == .yamlSyntax)
        #expect(failure.message.contains("tabs"))
        #expect(
            failure.location.mark?.line == text.split(separator: "\n").firstIndex { $0.hasPrefix("\t") }.map { $0 + 1 })
    }

    @Test("a tab inside a value is fine")
    func tabInValue() throws {
        #expect(try jsonOf("a: \"x\\ty\"\nb: 'p\tq'\n") == #"{"a":"x\ty","b":"p\tq"}"#)
    }

    @Test("invalid UTF-8 is an error at its line and column")
    func invalidUTF8() throws {
        let bytes = Array("a: 1\nb: x".utf8) + [0xFF, 0xFE] + Array("y\n".utf8)
        let failure = try #require(yamlFailure(bytes))
        #expect(failure.code == .yamlSyntax)
        #expect(failure.location.mark == Mark(line: 2, column: 5))
        #expect(failure.message.contains("UTF-8"))
    }

    @Test("a truncated multi-byte character is an error with a position")
    func truncatedUTF8() throws {
        let failure = try #require(yamlFailure(Array("a: ".utf8) + [0xC3]))
        #expect(failure.location.mark?.line == 1)
    }

    @Test("NUL bytes are an error with a position")
    func nulBytes() throws {
        let failure = try #require(yamlFailure(Array("a: 1\nb: x".utf8) + [0] + Array("y\n".utf8)))
        #expect(failure.code == .yamlSyntax)
        #expect(failure.location.mark == Mark(line: 2, column: 5))
    }

    @Test("a 10 MB single line parses (or fails with a position), without a crash")
    func hugeLine() throws {
        let value = String(repeating: "x", count: 10 * 1024 * 1024)
        do {
            let stream = try readYAML("a: " + value + "\n")
            #expect(stream.documents.first?["a"]?.scalarText?.utf8.count == value.utf8.count)
        } catch {
            #expect(error.location.mark != nil)
        }
    }

    @Test("a 10 MB single line of flow items parses (or fails with a position)")
    func hugeFlowLine() throws {
        let text = "[" + String(repeating: "1,", count: 5 * 1024 * 1024) + "1]"
        do {
            let stream = try readYAML(text)
            #expect(stream.documents.first?.items.count == 5 * 1024 * 1024 + 1)
        } catch {
            #expect(error.location.mark != nil)
        }
    }

    @Test("every truncation and many byte substitutions of the valid corpus fail with a position or parse")
    func mutations() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15  // a fixed seed: the same cases every run
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let replacements: [UInt8] = Array("\t\n :-[]{}&*!|>'\"%@`#,?".utf8) + [0, 0x80, 0xC3, 0xFF]
        for relative in Corpus.validCases {
            let bytes = try Repository.read(Repository.corpus + "/" + relative)
            var cases: [[UInt8]] = (0..<bytes.count).map { Array(bytes[..<$0]) }
            for _ in 0..<200 {
                var mutated = bytes
                mutated[Int(next() % UInt64(bytes.count))] = replacements[Int(next() % UInt64(replacements.count))]
                cases.append(mutated)
            }
            for input in cases {
                if let failure = yamlFailure(input) {
                    #expect(failure.location.mark != nil, "\(relative): \(failure)")
                }
            }
        }
    }

    @Test("an empty file has no documents; a comment-only file neither")
    func emptyStreams() throws {
        #expect(try readYAML("").documents.isEmpty)
        #expect(try readYAML("# nothing\n").documents.isEmpty)
    }

    @Test("equality of values ignores positions")
    func valueEqualityIgnoresPosition() throws {
        let a = try YAMLValue(try #require(try readYAML("x: [1, {y: z}]\n").documents.first))
        let b = try YAMLValue(try #require(try readYAML("\n\n  {x: [1, {y: z}]}\n").documents.first))
        #expect(a == b)
        #expect(a.location != b.location)
    }
}
