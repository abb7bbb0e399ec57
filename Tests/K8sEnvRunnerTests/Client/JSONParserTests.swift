import Foundation
import K8sEnvRunner
import Testing

/// `JSONValue.parse` reads what `JSONDecoder` reads, to the same value, and refuses what it
/// refuses.
@Suite("JSON: the runner's reader agrees with JSONDecoder")
struct JSONParserTests {
    static func decoded(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static let documents = [
        #"{}"#, #"[]"#, "\"\"", #"0"#, #"-0"#, #"true"#, #"false"#, #"null"#, "  \n\t{ \"a\" : [ 1 , 2 ] }\r\n",
        #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default","uid":"1b4","resourceVersion":"42","creationTimestamp":"2026-12-07T15:00:00Z","labels":{"app":"bench"},"managedFields":[{"manager":"k8senv","operation":"Update","apiVersion":"v1","time":"2026-12-07T15:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:index":{}}}}]},"data":{"index":"7","config.yaml":"replicas: 1\nimage: x\n"}}"#,
        #"[1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808, 1.5, -2.25e-3, 1E10, 3.0, 0.1]"#,
        #"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u4e2d\ud83d\ude00", "é中😀", "", "\u0000"]"#,
        #"{"a":{"b":{"c":[[[]],{}]}},"a2":null}"#,
    ]

    static let malformed = [
        "", " ", "{", "}", "{a:1}", "{\"a\" 1}", "[1 2]", "01", "-", "1.", ".5", "1e", "+1",
        "tru", "nul", "\"abc", "\"a\u{01}b\"", #""\x""#, #""\ud83d""#, #""\ude00""#, #""\u12g4""#, "[1]x", "{} {}",
    ]

    /// Trailing commas: JSONDecoder lets them pass; JSON (and kube-apiserver) does not.
    static let lenientlyRead = ["[1,]", "{\"a\":1,}"]

    @Test("documents a kube-apiserver sends, escapes, surrogate pairs and numbers read as JSONDecoder reads them")
    func sameValues() throws {
        for text in Self.documents {
            let expected = try #require(Self.decoded(text), "JSONDecoder should read \(text)")
            #expect(JSONValue.parse(Array(text.utf8)) == expected, "\(text)")
        }
        #expect(
            JSONValue.parse(Array("[9223372036854775807, 9223372036854775808, 3.0]".utf8))
                == .array([.integer(Int64.max), .number(9_223_372_036_854_775_808), .integer(3)]))
        // A key written twice keeps its last value, as Go's encoding/json (kube-apiserver) reads it.
        #expect(JSONValue.parse(Array(#"{"dup":1,"dup":2}"#.utf8)) == .object(["dup": .integer(2)]))
    }

    @Test("what is not one JSON value is refused, as JSONDecoder refuses it")
    func refusals() {
        for text in Self.malformed {
            #expect(JSONValue.parse(Array(text.utf8)) == nil, "\(text.debugDescription)")
            #expect(Self.decoded(text) == nil, "JSONDecoder reads \(text.debugDescription)")
        }
        for text in Self.lenientlyRead {
            #expect(JSONValue.parse(Array(text.utf8)) == nil, "\(text)")
        }
        #expect(JSONValue.parse([0x22, 0xFF, 0x22]) == nil, "invalid UTF-8")
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONValue.parse(Array(deep.utf8)) == nil)
    }

    @Test("random values written by JSONEncoder read back equal")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .integer(Int64.random(in: Int64.min...Int64.max, using: &generator))
            case 3: return .number(Double.random(in: -1e6...1e6, using: &generator))
            case 4:
                let pool = Array("ab\"\\/\n\t é中😀\u{1}")
                return .string(
                    String((0..<Int.random(in: 0..<8, using: &generator)).map { _ in pool.randomElement()! }))
            case 5: return .array((0..<Int.random(in: 0..<4, using: &generator)).map { _ in random(depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for i in 0..<Int.random(in: 0..<4, using: &generator) { members["k\(i)"] = random(depth + 1) }
                return .object(members)
            }
        }
        for _ in 0..<500 {
            let value = random(0)
            let text = try JSONEncoder().encode(value)
            #expect(JSONValue.parse(Array(text)) == value, "\(String(decoding: text, as: UTF8.self))")
        }
    }
}
