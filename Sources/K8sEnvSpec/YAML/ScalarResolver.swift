/// A resolved scalar.
package enum ScalarValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case string(String)

    /// The text of this value as a JSON object key (as sigs.k8s.io/yaml converts non-string keys).
    var jsonKey: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .float(let d): return JSONNumber.format(d) ?? String(d)
        case .string(let s): return s
        }
    }
}

/// Resolves scalars as kubectl does: Kubernetes reads YAML with go-yaml v2 (YAML 1.1 rules)
/// through sigs.k8s.io/yaml. See docs/reference/yaml.md for the table.
package enum ScalarResolver {
    static let strTag = "tag:yaml.org,2002:str"
    static let intTag = "tag:yaml.org,2002:int"
    static let floatTag = "tag:yaml.org,2002:float"
    static let boolTag = "tag:yaml.org,2002:bool"
    static let nullTag = "tag:yaml.org,2002:null"

    static func resolve(_ node: YAMLNode) throws(Diagnostic) -> ScalarValue {
        let parts = node.parts
        if let value = try resolve(parts, file: node.stream.file) { return value }
        return .string(String(decoding: parts.bytes, as: UTF8.self))
    }

    /// The value of a scalar, or nil when it is a string (whose text is its bytes).
    static func resolve(_ parts: YAMLNode.Parts, file: String) throws(Diagnostic) -> ScalarValue? {
        guard let tag = parts.tag else {
            return parts.style == .plain ? resolvePlain(parts.bytes) : nil
        }
        let wanted: String
        switch tag {
        case intTag: wanted = "!!int"
        case floatTag: wanted = "!!float"
        case boolTag: wanted = "!!bool"
        case nullTag: wanted = "!!null"
        default:
            // !!str, !!binary, !!timestamp, the non-specific "!" and custom tags keep the text.
            return nil
        }
        let value = resolvePlain(parts.bytes)
        switch (tag, value) {
        case (intTag, .int?), (intTag, .uint?), (boolTag, .bool?), (nullTag, .null?), (floatTag, .float?):
            return value
        case (floatTag, .int(let i)?): return .float(Double(i))
        case (floatTag, .uint(let u)?): return .float(Double(u))
        default:
            let text = String(decoding: parts.bytes, as: UTF8.self)
            throw Diagnostic(
                .yamlValue, at: SourceLocation(file: file, mark: parts.mark),
                "cannot read \"\(text)\" as \(wanted)")
        }
    }

    /// The same for raw bytes; the common case (a plain word that is a string) costs one byte test.
    static func resolvePlain(_ bytes: UnsafeBufferPointer<UInt8>) -> ScalarValue? {
        guard let first = bytes.first else { return .null }
        switch first {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            switch first | 0x20 {
            case UInt8(ascii: "y"), UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "o"):
                return word(bytes)
            default: return nil
            }
        case UInt8(ascii: "~"): return word(bytes)
        default: return resolvePlain(ArraySlice(bytes))
        }
    }

    /// YAML 1.1 implicit resolution of a plain scalar, as go-yaml v2 does it.
    static func resolvePlain(_ bytes: ArraySlice<UInt8>) -> ScalarValue? {
        guard let first = bytes.first else { return .null }
        switch first {
        case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "n"), UInt8(ascii: "N"),
            UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"),
            UInt8(ascii: "o"), UInt8(ascii: "O"), UInt8(ascii: "~"):
            return word(bytes)
        case UInt8(ascii: "."):
            if let w = word(bytes) { return w }
            if isDotFloat(bytes), let d = Double(String(decoding: bytes, as: UTF8.self)) { return .float(d) }
            return nil
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if let w = word(bytes) { return w }
            return resolveNumber(bytes)
        default:
            return nil
        }
    }

    /// The value of a YAML 1.1 word (`yes`, `~`, `.inf`, …), looked up by its bytes packed into
    /// an integer: no string is made, nothing is hashed, for the many keys like `type` that start
    /// like a word.
    @inline(__always) static func word(_ bytes: some Collection<UInt8>) -> ScalarValue? {
        guard bytes.count <= 6 else { return nil }
        let key = pack(bytes)
        // Binary search of the sorted keys.
        var low = 0
        var high = sortedWords.count
        while low < high {
            let middle = (low + high) / 2
            if sortedWords[middle].key < key { low = middle + 1 } else { high = middle }
        }
        return low < sortedWords.count && sortedWords[low].key == key ? sortedWords[low].value : nil
    }

    @inline(__always) static func pack(_ bytes: some Collection<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        for b in bytes { value = value << 8 | UInt64(b) }
        return value
    }

    static let sortedWords: [(key: UInt64, value: ScalarValue)] = words.map { (pack(Array($0.key.utf8)), $0.value) }
        .sorted { $0.key < $1.key }

    static let words: [String: ScalarValue] = {
        var w: [String: ScalarValue] = [:]
        for s in ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"] { w[s] = .bool(true) }
        for s in ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"] { w[s] = .bool(false) }
        for s in ["~", "null", "Null", "NULL"] { w[s] = .null }
        for s in [".nan", ".NaN", ".NAN"] { w[s] = .float(.nan) }
        for s in [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"] { w[s] = .float(.infinity) }
        for s in ["-.inf", "-.Inf", "-.INF"] { w[s] = .float(-.infinity) }
        return w
    }()

    /// `\.[0-9]+([eE][-+]?[0-9]+)?`
    static func isDotFloat(_ bytes: ArraySlice<UInt8>) -> Bool {
        var i = bytes.startIndex
        guard i < bytes.endIndex, bytes[i] == UInt8(ascii: ".") else { return false }
        i += 1
        let digitsStart = i
        while i < bytes.endIndex, isDigit(bytes[i]) { i += 1 }
        guard i > digitsStart else { return false }
        return exponentOrEnd(bytes, from: i)
    }

    /// `([eE][-+]?[0-9]+)?$` from index i.
    static func exponentOrEnd(_ bytes: ArraySlice<UInt8>, from start: Int) -> Bool {
        var i = start
        if i == bytes.endIndex { return true }
        guard bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") else { return false }
        i += 1
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < bytes.endIndex, isDigit(bytes[i]) { i += 1 }
        return i > digitsStart && i == bytes.endIndex
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    /// Go's strconv.ParseInt(s, 0, 64), then ParseUint, then the YAML float pattern,
    /// after removing underscores.
    static func resolveNumber(_ raw: ArraySlice<UInt8>) -> ScalarValue? {
        let plain: [UInt8] = raw.contains(UInt8(ascii: "_")) ? raw.filter { $0 != UInt8(ascii: "_") } : Array(raw)
        var i = 0
        var negative = false
        var signed = false
        if i < plain.count, plain[i] == UInt8(ascii: "+") || plain[i] == UInt8(ascii: "-") {
            negative = plain[i] == UInt8(ascii: "-")
            signed = true
            i += 1
        }
        if let magnitude = parseUnsigned(plain[i...]) {
            if negative {
                if magnitude <= UInt64(Int64.max) { return .int(-Int64(magnitude)) }
                if magnitude == UInt64(Int64.max) + 1 { return .int(Int64.min) }
            } else if magnitude <= UInt64(Int64.max) {
                return .int(Int64(magnitude))
            } else if !signed {
                return .uint(magnitude)
            }
        }
        // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
        let body = ArraySlice(plain)
        var j = signed ? 1 : 0
        if j < body.endIndex, body[j] == UInt8(ascii: ".") {
            j += 1
            let s = j
            while j < body.endIndex, isDigit(body[j]) { j += 1 }
            guard j > s else { return nil }
        } else {
            let s = j
            while j < body.endIndex, isDigit(body[j]) { j += 1 }
            guard j > s else { return nil }
            if j < body.endIndex, body[j] == UInt8(ascii: ".") {
                j += 1
                while j < body.endIndex, isDigit(body[j]) { j += 1 }
            }
        }
        guard exponentOrEnd(body, from: j), let d = Double(String(decoding: plain, as: UTF8.self)) else { return nil }
        return .float(d)
    }

    /// Digits with Go's base prefixes: 0x, 0o, 0b, or a leading 0 for octal. Nil on overflow or junk.
    static func parseUnsigned(_ s: ArraySlice<UInt8>) -> UInt64? {
        guard let first = s.first else { return nil }
        var base: UInt64 = 10
        var digits = s
        if first == UInt8(ascii: "0"), s.count > 1 {
            let second = s[s.startIndex + 1] | 0x20
            switch second {
            case UInt8(ascii: "x"):
                base = 16
                digits = s.dropFirst(2)
            case UInt8(ascii: "o"):
                base = 8
                digits = s.dropFirst(2)
            case UInt8(ascii: "b"):
                base = 2
                digits = s.dropFirst(2)
            default:
                base = 8
                digits = s.dropFirst(1)
            }
        }
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for b in digits {
            let d: UInt64
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt64(b - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt64(b - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt64(b - 55)
            default: return nil
            }
            guard d < base else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: base)
            let (a, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            value = a
        }
        return value
    }
}
