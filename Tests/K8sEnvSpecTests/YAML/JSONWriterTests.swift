import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite("JSON writer", .tags(.fast))
struct JSONWriterTests {
    @Test(
        "strings escape quotes, backslashes and control characters; other text passes through",
        arguments: [
            (#"'say "hi"'"#, #""say \"hi\"""#),
            (#"'a\b'"#, #""a\\b""#),
            (#""\u0001""#, #""\u0001""#),
            (#""\x1f\x7f""#, "\"\\u001f\u{7f}\""),
            (#""line\nnext""#, #""line\nnext""#),
            (#""tab\there""#, #""tab\there""#),
            (#""cr\rlf""#, #""cr\rlf""#),
            (#""nul\0""#, #""nul\u0000""#),
            (#""\b\f""#, #""\u0008\u000c""#),
            ("'héllo wörld ✓ 日本 😀'", "\"héllo wörld ✓ 日本 😀\""),
            (#""\u2028""#, "\"\u{2028}\""),
            ("'</script>'", #""</script>""#),
            ("|\n  a\n  b\n", #""a\nb\n""#),
        ])
    func escaping(yaml: String, json: String) throws {
        #expect(try jsonOf("v: \(yaml)\n") == "{\"v\":\(json)}")
    }

    @Test("keys escape like strings")
    func keyEscaping() throws {
        #expect(try jsonOf("\"a\\\"b\": 1\n\"c\\nd\": 2\n") == #"{"a\"b":1,"c\nd":2}"#)
    }

    @Test(
        "numbers are formatted as Go's encoding/json formats them",
        arguments: [
            (1e21, "1e+21"), (1e-7, "1e-7"), (1.5, "1.5"), (100, "100"), (-0.0, "-0"), (0, "0"),
            (1e20, "100000000000000000000"), (1.5e21, "1.5e+21"), (1e-6, "0.000001"), (1.25e-7, "1.25e-7"),
            (123456789.125, "123456789.125"), (0.1, "0.1"), (-2.5, "-2.5"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"), (0.000123, "0.000123"), (12_345_678_901_234_567_890, "12345678901234567000"),
        ])
    func numbers(value: Double, text: String) {
        #expect(JSONNumber.format(value) == text)
    }

    @Test("NaN and infinities have no JSON form")
    func nonFinite() {
        #expect(JSONNumber.format(.nan) == nil)
        #expect(JSONNumber.format(.infinity) == nil)
        #expect(JSONNumber.format(-.infinity) == nil)
    }

    @Test(
        "numbers written in YAML come out in Go's form",
        arguments: [
            ("1e21", "1e+21"), ("1e-7", "1e-7"), ("1.5", "1.5"), ("100", "100"), ("-0.0", "-0"), ("100.0", "100"),
            ("1.0e2", "100"), ("-0", "0"), ("0.5e-10", "5e-11"),
        ])
    func numbersFromYAML(yaml: String, json: String) throws {
        #expect(try jsonOf("v: \(yaml)\n") == "{\"v\":\(json)}")
    }

    @Test("mapping keys keep the order of the file")
    func keyOrder() throws {
        #expect(try jsonOf("z: 1\na: 2\nm: {w: 1, b: 2}\n") == #"{"z":1,"a":2,"m":{"w":1,"b":2}}"#)
    }

    @Test("aliases are expanded in place")
    func aliasesExpanded() throws {
        #expect(
            try jsonOf("a: &x [1, {b: &y two}]\nc: *x\nd: *y\n")
                == #"{"a":[1,{"b":"two"}],"c":[1,{"b":"two"}],"d":"two"}"#)
    }

    @Test("empty collections and scalar documents")
    func emptyAndScalars() throws {
        #expect(try jsonOf("a: []\nb: {}\nc:\nd: ''\n") == #"{"a":[],"b":{},"c":null,"d":""}"#)
        #expect(try jsonOf("just text\n") == #""just text""#)
        #expect(try jsonOf("- 1\n- - 2\n  - {}\n") == #"[1,[2,{}]]"#)
    }

    @Test("a config value renders the same JSON as the writer")
    func valueJSON() throws {
        let text = "a: [1, 1.5, \"x\\u0001\", null, true]\nb: {c: -0.0}\n"
        let document = try #require(try readYAML(text).documents.first)
        let value = try YAMLValue(document)
        #expect(String(decoding: value.json, as: UTF8.self) == (try jsonOf(text)))
    }
}
