/// Formats numbers as Go's encoding/json does, so our JSON matches what kubectl sends.
package enum JSONNumber {
    /// Shortest round-trip digits; plain notation for 1e-6 <= |x| < 1e21, else exponent
    /// notation (`1e+21`, `1e-7`). Nil for NaN and infinities, which JSON cannot hold.
    package static func format(_ value: Double) -> String? {
        guard value.isFinite else { return nil }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let (negative, digits, exponent) = decompose(value)
        let magnitude = value.magnitude
        var out = negative ? "-" : ""
        if magnitude < 1e-6 || magnitude >= 1e21 {
            out.append(digits.first!)
            if digits.count > 1 {
                out += "."
                out += digits.dropFirst()
            }
            let e = exponent - 1
            out += e < 0 ? "e-" : "e+"
            out += String(abs(e))
        } else if exponent <= 0 {
            out += "0." + String(repeating: "0", count: -exponent) + digits
        } else if exponent >= digits.count {
            out += digits + String(repeating: "0", count: exponent - digits.count)
        } else {
            let cut = digits.index(digits.startIndex, offsetBy: exponent)
            out += digits[..<cut] + "." + digits[cut...]
        }
        return out
    }

    /// value = 0.DIGITS × 10^exponent, DIGITS the shortest that round-trips.
    static func decompose(_ value: Double) -> (negative: Bool, digits: String, exponent: Int) {
        let text = value.magnitude.description  // shortest round-trip, e.g. "123.45", "1e-07", "1.5e+20"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var intPart = mantissa
        var fracPart = Substring("")
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        }
        var digits = String(intPart) + String(fracPart)
        var pointPosition = intPart.count + exponent
        // Strip leading zeros (moving the point) and trailing zeros.
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        return (value.sign == .minus, digits, pointPosition)
    }
}

/// Writes YAML nodes as JSON bytes, with aliases expanded and scalars resolved.
package struct JSONWriter {
    package private(set) var output: [UInt8] = []

    package init(capacity: Int = 0) {
        output.reserveCapacity(capacity)
    }

    /// Empties the output, keeping its memory for the next document.
    package mutating func removeAll() {
        output.removeAll(keepingCapacity: true)
    }

    /// The JSON encoding of one document.
    /// - Throws: a ``Diagnostic`` at a value JSON cannot hold (`.inf`, `.nan`).
    package static func json(_ node: YAMLNode) throws(Diagnostic) -> [UInt8] {
        // The stream may hold many documents: reserve for one of modest size, grow as needed.
        var writer = JSONWriter(capacity: min(node.stream.bytes.count, 64 << 10))
        try writer.write(node)
        return writer.output
    }

    package mutating func write(_ node: YAMLNode) throws(Diagnostic) {
        let stream = node.stream
        // Walk the arena through raw buffers: no reference counting per node.
        try stream.records.withUnsafeBufferPointer { (records) throws(Diagnostic) in
            try stream.children.withUnsafeBufferPointer { (children) throws(Diagnostic) in
                try stream.bytes.withUnsafeBufferPointer { (bytes) throws(Diagnostic) in
                    try write(node.index, stream: stream, records: records, children: children, bytes: bytes)
                }
            }
        }
    }

    private mutating func write(_ index: Int32, stream: YAMLStream, records: UnsafeBufferPointer<YAMLStream.Record>,
                                children: UnsafeBufferPointer<Int32>, bytes: UnsafeBufferPointer<UInt8>) throws(Diagnostic) {
        let record = records[Int(index)]
        switch record.kind {
        case .scalar:
            try writeScalar(index, record: record, stream: stream, bytes: bytes, asKey: false)
        case .sequence:
            output.append(UInt8(ascii: "["))
            var i = Int(record.start)
            let end = i + Int(record.count)
            while i < end {
                if i != Int(record.start) { output.append(UInt8(ascii: ",")) }
                try write(children[i], stream: stream, records: records, children: children, bytes: bytes)
                i += 1
            }
            output.append(UInt8(ascii: "]"))
        case .mapping:
            output.append(UInt8(ascii: "{"))
            var i = Int(record.start)
            let end = i + Int(record.count)
            while i < end {
                if i != Int(record.start) { output.append(UInt8(ascii: ",")) }
                let key = children[i]
                try writeScalar(key, record: records[Int(key)], stream: stream, bytes: bytes, asKey: true)
                output.append(UInt8(ascii: ":"))
                try write(children[i + 1], stream: stream, records: records, children: children, bytes: bytes)
                i += 2
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private mutating func writeScalar(_ index: Int32, record: YAMLStream.Record, stream: YAMLStream,
                                      bytes all: UnsafeBufferPointer<UInt8>, asKey: Bool) throws(Diagnostic) {
        let text = UnsafeBufferPointer(rebasing: all[Int(record.start)..<Int(record.start + record.count)])
        // The common case first: a plain, untagged scalar that is a string.
        if record.tag < 0 {
            if record.style != .plain { return writeString(text) }
            guard let value = ScalarResolver.resolvePlain(text) else { return writeString(text) }
            if asKey { return writeString(ArraySlice(value.jsonKey.utf8)) }
            return try write(value, at: YAMLNode(stream: stream, index: index))
        }
        let node = YAMLNode(stream: stream, index: index)
        guard let value = try ScalarResolver.resolve(node.parts, file: stream.file) else { return writeString(text) }
        if asKey { return writeString(ArraySlice(value.jsonKey.utf8)) }
        try write(value, at: node)
    }

    mutating func write(_ value: ScalarValue, at node: YAMLNode) throws(Diagnostic) {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let b): output.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): output.append(contentsOf: String(i).utf8)
        case .uint(let u): output.append(contentsOf: String(u).utf8)
        case .float(let d):
            guard let text = JSONNumber.format(d) else {
                throw Diagnostic(.yamlValue, at: node.location,
                                 "\(node.scalarText ?? "") is not a number JSON can hold (infinity and NaN are not allowed)")
            }
            output.append(contentsOf: text.utf8)
        case .string(let s): writeString(ArraySlice(s.utf8))
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    package mutating func writeString(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBufferPointer { writeString($0) }
    }

    package mutating func writeString(_ bytes: UnsafeBufferPointer<UInt8>) {
        output.append(UInt8(ascii: "\""))
        guard let base = bytes.baseAddress else { return output.append(UInt8(ascii: "\"")) }
        let end = bytes.count
        var runStart = 0
        var i = 0
        while i < end {
            // Most text needs no escape: test eight bytes at a time, copy runs whole.
            if i + 8 <= end, !Self.mayNeedEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) {
                i += 8
                continue
            }
            let b = base[i]
            if b >= 0x20, b != UInt8(ascii: "\""), b != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            output.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart))
            output.append(UInt8(ascii: "\\"))
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(b)
            case 0x0A: output.append(UInt8(ascii: "n"))
            case 0x0D: output.append(UInt8(ascii: "r"))
            case 0x09: output.append(UInt8(ascii: "t"))
            default:
                output.append(contentsOf: [UInt8(ascii: "u"), 48, 48, Self.hex[Int(b >> 4)], Self.hex[Int(b & 0xF)]])
            }
            i += 1
            runStart = i
        }
        output.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: end - runStart))
        output.append(UInt8(ascii: "\""))
    }

    /// Whether any of the eight bytes may be a control character, `"` or a backslash (never false when
    /// one is; a rare false alarm only sends the bytes through the byte-by-byte path).
    @inline(__always) static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        // A byte below 0x20, or a zero byte after the XORs (the classic "has a byte < n" test).
        let below = (word &- ones &* 0x20) & ~word
        let quote = (quotes &- ones) & ~quotes
        let backslash = (backslashes &- ones) & ~backslashes
        return (below | quote | backslash) & highs != 0
    }
}
