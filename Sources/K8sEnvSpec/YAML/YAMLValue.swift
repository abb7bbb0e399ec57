/// A YAML value detached from its stream, for configuration work: small, mutable, positioned.
/// Equality ignores positions.
package struct YAMLValue: Sendable, Equatable {
    package enum Content: Sendable, Equatable {
        case null
        case bool(Bool)
        case int(Int64)
        case float(Double)
        case string(String)
        case sequence([YAMLValue])
        case mapping([Entry])
    }

    package struct Entry: Sendable, Equatable {
        package var key: String
        package var keyLocation: SourceLocation
        package var value: YAMLValue

        package init(key: String, keyLocation: SourceLocation, value: YAMLValue) {
            self.key = key
            self.keyLocation = keyLocation
            self.value = value
        }

        package static func == (a: Entry, b: Entry) -> Bool { a.key == b.key && a.value == b.value }
    }

    package var content: Content
    package var location: SourceLocation
    /// A plain scalar without a tag: its type was (and after `${}` expansion is again) resolved
    /// from its text.
    package var isPlain: Bool
    /// Holds a `${VAR}` whose variable is unset, in a profile that was not chosen: its type
    /// and format are checked only when that profile is chosen.
    package var isUnresolved = false
    /// The whole string is one `${NAME}` (or `${NAME:-default}`) whose variable was set and not
    /// empty: the value is the user's environment's, not the file's (`binaries: {kubeAPIServer:
    /// ${K8SENV_KUBE_APISERVER:-kube-apiserver}}` with the variable set).
    package var isFromEnvironment = false

    package init(_ content: Content, at location: SourceLocation, isPlain: Bool = false) {
        self.content = content
        self.location = location
        self.isPlain = isPlain
    }

    package static func == (a: YAMLValue, b: YAMLValue) -> Bool { a.content == b.content }

    /// Converts a node (aliases expanded, scalars resolved).
    package init(_ node: YAMLNode) throws(Diagnostic) {
        location = node.location
        isPlain = node.isPlainUntagged
        switch node.kind {
        case .scalar:
            content = Self.content(of: try node.resolved())
        case .sequence:
            var items: [YAMLValue] = []
            for item in node.items { items.append(try YAMLValue(item)) }
            content = .sequence(items)
        case .mapping:
            var entries: [Entry] = []
            for (k, v) in node.entries {
                let key = try k.resolved().jsonKey
                entries.append(Entry(key: key, keyLocation: k.location, value: try YAMLValue(v)))
            }
            content = .mapping(entries)
        }
    }

    static func content(of scalar: ScalarValue) -> Content {
        switch scalar {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .float(Double(u))
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        }
    }

    // MARK: Access

    package var string: String? {
        if case .string(let s) = content { return s }
        return nil
    }

    package var int: Int64? {
        switch content {
        case .int(let i): return i
        case .float(let d) where d.rounded() == d && d.magnitude < 9e15: return Int64(d)
        default: return nil
        }
    }

    package var bool: Bool? {
        if case .bool(let b) = content { return b }
        return nil
    }

    package var entries: [Entry]? {
        if case .mapping(let e) = content { return e }
        return nil
    }

    package var items: [YAMLValue]? {
        if case .sequence(let i) = content { return i }
        return nil
    }

    package subscript(key: String) -> YAMLValue? {
        get { entries?.first { $0.key == key }?.value }
    }

    package func entry(_ key: String) -> Entry? { entries?.first { $0.key == key } }

    /// The kind of value, as a YAML user would name it, for messages.
    package var kindName: String {
        switch content {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .float: return "a number"
        case .string: return "a string"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// A short rendering for messages: scalars as JSON, collections by kind.
    package var brief: String {
        switch content {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let d): return JSONNumber.format(d) ?? String(d)
        case .string(let s):
            // prefix(61), not count: a 50 MB value is measured in 61 steps, not 50 million.
            let clipped = s.prefix(61).count > 60 ? String(s.prefix(60)) + "…" : s
            return "\"" + clipped.replacingNewlines() + "\""
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// The value as JSON bytes, keys in order.
    package var json: [UInt8] {
        var out: [UInt8] = []
        appendJSON(to: &out)
        return out
    }

    func appendJSON(to out: inout [UInt8]) {
        switch content {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let i): out += String(i).utf8
        case .float(let d): out += (JSONNumber.format(d) ?? "null").utf8
        case .string(let s):
            var w = JSONWriter()
            w.writeString(ArraySlice(s.utf8))
            out += w.output
        case .sequence(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.appendJSON(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .mapping(let entries):
            out.append(UInt8(ascii: "{"))
            for (i, e) in entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                var w = JSONWriter()
                w.writeString(ArraySlice(e.key.utf8))
                out += w.output
                out.append(UInt8(ascii: ":"))
                e.value.appendJSON(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}

extension String {
    func replacingNewlines() -> String {
        var out = ""
        for c in self {
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.append(c)
            }
        }
        return out
    }
}
