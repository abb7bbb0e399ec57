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
///
/// The writer owns its output buffer (it cannot be copied), so an append is a capacity test and
/// a store, without an array's uniqueness check.
package struct JSONWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// How many bytes have been written.
    package private(set) var count = 0

    package init(capacity: Int = 0) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
    }

    deinit {
        base.deallocate()
    }

    /// A copy of the bytes written.
    package var output: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The bytes written, without a copy; valid only inside `body`.
    package func withOutput<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// Empties the output, keeping its memory for the next document.
    package mutating func removeAll() {
        count = 0
    }

    @inline(__always) private mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(to: count + n) }
    }

    private mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.initialize(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    @inline(__always) private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always) private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    private mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
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

    private mutating func write(
        _ index: Int32, stream: YAMLStream, records: UnsafeBufferPointer<YAMLStream.Record>,
        children: UnsafeBufferPointer<Int32>, bytes: UnsafeBufferPointer<UInt8>
    ) throws(Diagnostic) {
        let record = records[Int(index)]
        switch record.kind {
        case .scalar:
            try writeScalar(index, record: record, stream: stream, bytes: bytes, asKey: false)
        case .sequence:
            append(UInt8(ascii: "["))
            var i = Int(record.start)
            let end = i + Int(record.count)
            while i < end {
                if i != Int(record.start) { append(UInt8(ascii: ",")) }
                try write(children[i], stream: stream, records: records, children: children, bytes: bytes)
                i += 1
            }
            append(UInt8(ascii: "]"))
        case .mapping:
            append(UInt8(ascii: "{"))
            var i = Int(record.start)
            let end = i + Int(record.count)
            while i < end {
                if i != Int(record.start) { append(UInt8(ascii: ",")) }
                let key = children[i]
                try writeScalar(key, record: records[Int(key)], stream: stream, bytes: bytes, asKey: true)
                append(UInt8(ascii: ":"))
                try write(children[i + 1], stream: stream, records: records, children: children, bytes: bytes)
                i += 2
            }
            append(UInt8(ascii: "}"))
        }
    }

    private mutating func writeScalar(
        _ index: Int32, record: YAMLStream.Record, stream: YAMLStream,
        bytes all: UnsafeBufferPointer<UInt8>, asKey: Bool
    ) throws(Diagnostic) {
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
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .int(let i): append(String(i))
        case .uint(let u): append(String(u))
        case .float(let d):
            guard let text = JSONNumber.format(d) else {
                throw Diagnostic(
                    .yamlValue, at: node.location,
                    "\(node.scalarText ?? "") is not a number JSON can hold (infinity and NaN are not allowed)")
            }
            append(text)
        case .string(let s): writeString(ArraySlice(s.utf8))
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    package mutating func writeString(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBufferPointer { writeString($0) }
    }

    package mutating func writeString(_ bytes: UnsafeBufferPointer<UInt8>) {
        append(UInt8(ascii: "\""))
        guard let source = bytes.baseAddress else { return append(UInt8(ascii: "\"")) }
        let end = bytes.count
        var runStart = 0
        var i = 0
        while i < end {
            // Most text needs no escape: test eight bytes at a time, copy runs whole.
            if i + 8 <= end, !Self.mayNeedEscape(UnsafeRawPointer(source + i).loadUnaligned(as: UInt64.self)) {
                i += 8
                continue
            }
            let b = source[i]
            if b >= 0x20, b != UInt8(ascii: "\""), b != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            append(UnsafeBufferPointer(start: source + runStart, count: i - runStart))
            append(UInt8(ascii: "\\"))
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): append(b)
            case 0x0A: append(UInt8(ascii: "n"))
            case 0x0D: append(UInt8(ascii: "r"))
            case 0x09: append(UInt8(ascii: "t"))
            default:
                for byte in [UInt8(ascii: "u"), 48, 48, Self.hex[Int(b >> 4)], Self.hex[Int(b & 0xF)]] { append(byte) }
            }
            i += 1
            runStart = i
        }
        append(UnsafeBufferPointer(start: source + runStart, count: end - runStart))
        append(UInt8(ascii: "\""))
    }

    /// Whether any of the eight bytes may be a control character, `"` or a backslash (never false when
    /// one is; a rare false alarm only sends the bytes through the byte-by-byte path).
    @inline(__always) static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        // A byte below 0x20, or a zero byte after the XORs (the classic "has a byte < n" test).
        let below = (word &- ones &* 0x20) & ~word
        let quote = (quotes &- ones) & ~quotes
        let backslash = (backslashes &- ones) & ~backslashes
        return (below | quote | backslash) & highs != 0
    }
}
