import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// The value of `text` written as the value of a mapping key.
func resolveScalar(_ text: String) throws -> ScalarValue {
    let document = try #require(try readYAML("v: \(text)\n").documents.first)
    return try #require(document["v"]).resolved()
}

/// YAML 1.1 resolution as kubectl does it (go-yaml v2 through sigs.k8s.io/yaml): the table of
/// docs/reference/yaml.md, one row a case.
@Suite("Scalar resolution (YAML 1.1, as kubectl)", .tags(.fast))
struct ScalarResolverTests {
    @Test(
        "booleans",
        arguments: [
            ("yes", true), ("Yes", true), ("YES", true), ("y", true), ("Y", true),
            ("on", true), ("On", true), ("ON", true), ("true", true), ("True", true), ("TRUE", true),
            ("no", false), ("No", false), ("NO", false), ("n", false), ("N", false),
            ("off", false), ("Off", false), ("OFF", false), ("false", false), ("False", false), ("FALSE", false),
        ])
    func booleans(text: String, value: Bool) throws {
        #expect(try resolveScalar(text) == .bool(value))
    }

    @Test("nulls", arguments: ["~", "null", "Null", "NULL", ""])
    func nulls(text: String) throws {
        #expect(try resolveScalar(text) == .null)
    }

    @Test(
        "integers",
        arguments: [
            ("0", Int64(0)), ("12", 12), ("+12", 12), ("-12", -12), ("-0", 0),
            ("0x1F", 31), ("0X1f", 31), ("-0x10", -16), ("0o17", 15), ("017", 15), ("0b101", 5),
            ("1_000", 1000), ("1__", 1), ("0x_1F", 31), ("9223372036854775807", Int64.max),
            ("-9223372036854775808", Int64.min),
        ])
    func integers(text: String, value: Int64) throws {
        #expect(try resolveScalar(text) == .int(value))
    }

    @Test("integers past Int64 are unsigned, then floats")
    func bigIntegers() throws {
        #expect(try resolveScalar("9223372036854775808") == .uint(9_223_372_036_854_775_808))
        #expect(try resolveScalar("18446744073709551615") == .uint(UInt64.max))
        #expect(try resolveScalar("99999999999999999999") == .float(1e20))
        #expect(try resolveScalar("-9223372036854775809") == .float(-9_223_372_036_854_775_809.0))
        #expect(try jsonOf("v: 9223372036854775808\n") == #"{"v":9223372036854775808}"#)
        #expect(try jsonOf("v: 99999999999999999999\n") == #"{"v":100000000000000000000}"#)
    }

    @Test(
        "floats",
        arguments: [
            ("08", 8.0), ("09.5", 9.5), ("1e3", 1000), ("1E3", 1000), ("1.", 1.0), (".5", 0.5), ("-.5", -0.5),
            ("+.5", 0.5), ("1.5", 1.5), ("-1.5e-3", -0.0015), ("6.02e+23", 6.02e23), ("1_000.5", 1000.5), ("0.0", 0),
        ])
    func floats(text: String, value: Double) throws {
        #expect(try resolveScalar(text) == .float(value))
    }

    @Test(
        "infinities and NaN are floats",
        arguments: [
            (".inf", Double.infinity), (".Inf", .infinity), (".INF", .infinity), ("+.inf", .infinity),
            ("-.inf", -.infinity), ("-.Inf", -.infinity), ("-.INF", -.infinity),
        ])
    func infinities(text: String, value: Double) throws {
        #expect(try resolveScalar(text) == .float(value))
    }

    @Test("NaN", arguments: [".nan", ".NaN", ".NAN"])
    func notANumber(text: String) throws {
        guard case .float(let d) = try resolveScalar(text) else {
            Issue.record("\(text) is not a float")
            return
        }
        #expect(d.isNaN)
    }

    @Test(
        "infinity and NaN cannot become JSON: an error at the value",
        arguments: [".inf", "-.inf", ".nan", "!!float .inf"])
    func nonFiniteJSON(text: String) throws {
        let failure = try #require(yamlFailure("a: 1\nv: \(text)\n"))
        #expect(failure.code == .yamlValue)
        #expect(failure.location.mark == Mark(line: 2, column: 4))
        #expect(failure.message.contains("JSON"))
    }

    @Test(
        "strings",
        arguments: [
            "1:20", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "yEs", "nULL", "tRUE", "0x", "0xG",
            "0b102", "1e", "1e+", "._", ".", "+", "1.2.3", "12abc", "0o", "0o8", "--1", "ab", "=", "<<x", "1e3.5",
            ".infinity", "+.nan", "Y.", "yes!",
        ])
    func strings(text: String) throws {
        #expect(try resolveScalar(text) == .string(text))
    }

    @Test(
        "quoted and block scalars are strings, whatever their text",
        arguments: [
            ("\"yes\"", "yes"), ("'yes'", "yes"), ("\"12\"", "12"), ("'0x1F'", "0x1F"), ("\"\"", ""), ("'~'", "~"),
            ("\"null\"", "null"), ("\".inf\"", ".inf"), ("|\n  12\n", "12\n"), (">-\n  true\n", "true"),
        ])
    func quoted(text: String, value: String) throws {
        #expect(try resolveScalar(text) == .string(value))
    }

    @Test(
        "JSON of resolved scalars",
        arguments: [
            ("yes", "true"), ("n", "false"), ("~", "null"), ("0x1F", "31"), ("1e3", "1000"), ("1.", "1"), (".5", "0.5"),
            ("08", "8"), ("-0x10", "-16"), ("1:20", #""1:20""#), ("2001-12-14", #""2001-12-14""#),
            ("\"yes\"", #""yes""#),
        ])
    func asJSON(text: String, json: String) throws {
        #expect(try jsonOf("v: \(text)\n") == "{\"v\":\(json)}")
    }

    @Test("keys resolve too and become their JSON text (as sigs.k8s.io/yaml does)")
    func keys() throws {
        #expect(
            try jsonOf("yes: 1\nn: 2\n0x10: 3\n~: 4\n1.50: 5\n\"on\": 6\n")
                == #"{"true":1,"false":2,"16":3,"null":4,"1.5":5,"on":6}"#)
    }
}
