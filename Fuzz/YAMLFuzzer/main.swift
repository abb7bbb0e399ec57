// A libFuzzer target over the YAML reader and the config validator.
//
// Not a SwiftPM target: scripts/fuzz.sh compiles this file together with every source file of
// Sources/K8sEnvSpec as one module (named K8sEnvSpec), so the library's `package` and `internal`
// API is visible without an import. See docs/how-to/fuzz.md.
//
// The contract under test: whatever the bytes, the reader, the JSON writer, the value
// conversion, the schema validator, `${VAR}` expansion and merge patch either succeed or throw
// a Diagnostic. A trap (precondition, index out of range, overflow, fatalError), a sanitizer
// report, a hang past -timeout or memory past -rss_limit_mb is a finding.
//
// One extra oracle: every JSON the library writes must be well-formed JSON (RFC 8259, UTF-8),
// checked by a small independent recogniser below; a violation traps with a message saying so.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let stream: YAMLStream
    do {
        stream = try YAMLReader.read(bytes, file: "fuzz.yaml")
    } catch {
        _ = error.message  // a Diagnostic: the expected way to fail
        return 0
    }

    let documents = stream.documents
    for document in documents {
        do {
            let json = try JSONWriter.json(document)
            FuzzJSONCheck.require(json, "JSONWriter.json")
        } catch {
            _ = error.message
        }
    }

    guard let first = documents.first else { return 0 }
    let value: YAMLValue
    do {
        value = try YAMLValue(first)
    } catch {
        _ = error.message
        return 0
    }
    // JSONNumber.format is nil for NaN/infinity and YAMLValue.json writes null there: still JSON.
    FuzzJSONCheck.require(value.json, "YAMLValue.json")

    var diagnostics = ConfigLoader.bundledSchema.validate(value)

    var errors: [Diagnostic] = []
    let expanded = VariableExpansion(variables: ["A": "x"]).expand(value, strict: true, errors: &errors)
    diagnostics += errors
    diagnostics += ConfigLoader.bundledSchema.validate(expanded)

    let merged = MergePatch.apply(value, to: value)
    diagnostics += ConfigLoader.bundledSchema.validate(merged)
    FuzzJSONCheck.require(merged.json, "MergePatch.apply(...).json")

    // Render what was reported, as the CLI would: messages and locations must be formattable.
    var sink = 0
    for d in diagnostics { sink &+= d.message.utf8.count &+ d.location.description.utf8.count }
    return sink == -1 ? 1 : 0
}

/// A strict JSON recogniser (RFC 8259 grammar, UTF-8 validated), independent of the library.
enum FuzzJSONCheck {
    static func require(_ json: [UInt8], _ what: String) {
        var p = Parser(bytes: json)
        if let problem = p.document() {
            let shown = String(decoding: json.prefix(200), as: UTF8.self)
            fatalError("\(what) produced invalid JSON: \(problem) at byte \(p.i): \(shown)")
        }
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0
        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() -> String? {
            if let e = value(depth: 0) { return e }
            return i == bytes.count ? nil : "trailing bytes"
        }

        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func literal(_ text: String) -> String? {
            for b in text.utf8 {
                guard peek == b else { return "expected \(text)" }
                i += 1
            }
            return nil
        }

        mutating func value(depth: Int) -> String? {
            // The writer is recursive too; its depth is bounded by YAMLLimits.maxDepth.
            guard depth < 100_000 else { return "nesting" }
            guard let c = peek else { return "unexpected end" }
            switch c {
            case UInt8(ascii: "{"):
                i += 1
                if peek == UInt8(ascii: "}") {
                    i += 1
                    return nil
                }
                while true {
                    guard peek == UInt8(ascii: "\"") else { return "expected a key" }
                    if let e = string() { return e }
                    guard peek == UInt8(ascii: ":") else { return "expected :" }
                    i += 1
                    if let e = value(depth: depth + 1) { return e }
                    if peek == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if peek == UInt8(ascii: "}") {
                        i += 1
                        return nil
                    }
                    return "expected , or }"
                }
            case UInt8(ascii: "["):
                i += 1
                if peek == UInt8(ascii: "]") {
                    i += 1
                    return nil
                }
                while true {
                    if let e = value(depth: depth + 1) { return e }
                    if peek == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if peek == UInt8(ascii: "]") {
                        i += 1
                        return nil
                    }
                    return "expected , or ]"
                }
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        static func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 48 && $0 <= 57 } ?? false }

        mutating func number() -> String? {
            if peek == UInt8(ascii: "-") { i += 1 }
            if peek == UInt8(ascii: "0") {
                i += 1
            } else {
                guard Self.isDigit(peek) else { return "bad number" }
                while Self.isDigit(peek) { i += 1 }
            }
            if peek == UInt8(ascii: ".") {
                i += 1
                guard Self.isDigit(peek) else { return "bad fraction" }
                while Self.isDigit(peek) { i += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                i += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
                guard Self.isDigit(peek) else { return "bad exponent" }
                while Self.isDigit(peek) { i += 1 }
            }
            return nil
        }

        mutating func string() -> String? {
            i += 1  // opening quote
            while let c = peek {
                switch c {
                case UInt8(ascii: "\""):
                    i += 1
                    return nil
                case UInt8(ascii: "\\"):
                    i += 1
                    guard let e = peek else { return "unterminated escape" }
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let h = peek, (h >= 48 && h <= 57) || (h | 0x20 >= 97 && h | 0x20 <= 102) else {
                                return "bad \\u escape"
                            }
                            i += 1
                        }
                    default: return "bad escape"
                    }
                case 0x00..<0x20:
                    return "unescaped control character"
                case 0x20..<0x80:
                    i += 1
                default:
                    if let e = utf8Sequence() { return e }
                }
            }
            return "unterminated string"
        }

        /// One multi-byte UTF-8 sequence: no overlongs, no surrogates, at most U+10FFFF.
        mutating func utf8Sequence() -> String? {
            let b0 = bytes[i]
            let count: Int
            let low: UInt8
            let high: UInt8
            switch b0 {
            case 0xC2...0xDF:
                count = 2
                low = 0x80
                high = 0xBF
            case 0xE0:
                count = 3
                low = 0xA0
                high = 0xBF
            case 0xE1...0xEC, 0xEE...0xEF:
                count = 3
                low = 0x80
                high = 0xBF
            case 0xED:
                count = 3
                low = 0x80
                high = 0x9F
            case 0xF0:
                count = 4
                low = 0x90
                high = 0xBF
            case 0xF1...0xF3:
                count = 4
                low = 0x80
                high = 0xBF
            case 0xF4:
                count = 4
                low = 0x80
                high = 0x8F
            default: return "invalid UTF-8 lead byte 0x\(String(b0, radix: 16))"
            }
            guard i + count <= bytes.count else { return "truncated UTF-8" }
            guard bytes[i + 1] >= low, bytes[i + 1] <= high else { return "invalid UTF-8" }
            for k in 2..<max(count, 2) where k < count {
                guard bytes[i + k] & 0xC0 == 0x80 else { return "invalid UTF-8" }
            }
            i += count
            return nil
        }
    }
}
