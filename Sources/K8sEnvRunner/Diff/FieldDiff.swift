import Foundation
import K8sEnvSpec

/// A JSON value as kube-apiserver serves it, Sendable and comparable: what `k8senv diff`
/// compares. Integers stay integers (`3`, not `3.0`); object keys are unordered.
package indirect enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text.
    package static func parse(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The member `key` of an object (nil for anything else).
    package subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    package var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// Compact JSON, keys sorted: how the text form of a diff shows a value.
    package var description: String { JSONOutput.encode(self) }

    /// A copy without the member at `path` (no change where the path does not lead).
    package func removing(_ path: [String]) -> JSONValue {
        guard let first = path.first, case .object(var members) = self else { return self }
        if path.count == 1 {
            members[first] = nil
        } else if let member = members[first] {
            members[first] = member.removing(Array(path.dropFirst()))
        }
        return .object(members)
    }
}

/// One field that differs between two versions of an object: its path (`data.color`,
/// `spec.ports[0].port`, `metadata.labels["app.kubernetes.io/name"]`) and its value before and
/// after (nil: absent on that side).
package struct FieldChange: Sendable, Equatable, Codable {
    package var path: String
    package var before: JSONValue?
    package var after: JSONValue?

    package init(path: String, before: JSONValue?, after: JSONValue?) {
        self.path = path
        self.before = before
        self.after = after
    }

    /// `data.color: "red" -> "blue"`; an absent side is `(none)`.
    package var text: String {
        "\(path): \(before.map(\.description) ?? "(none)") -> \(after.map(\.description) ?? "(none)")"
    }
}

/// The field-level difference of two JSON values: the leaves that differ, as paths.
package enum FieldDiff {
    /// Every leaf that differs, in path order (object keys sorted, array items by index). Objects
    /// are compared member by member, arrays item by item; a value whose type changed is one
    /// change at its path.
    package static func changes(_ before: JSONValue?, _ after: JSONValue?, path: String = "") -> [FieldChange] {
        if before == after { return [] }
        switch (before, after) {
        case (.object(let a)?, .object(let b)?):
            return Set(a.keys).union(b.keys).sorted().flatMap { key in
                changes(a[key], b[key], path: member(path, key))
            }
        case (.array(let a)?, .array(let b)?):
            return (0..<max(a.count, b.count)).flatMap { index in
                changes(index < a.count ? a[index] : nil, index < b.count ? b[index] : nil, path: path + "[\(index)]")
            }
        default:
            return [FieldChange(path: path, before: before, after: after)]
        }
    }

    /// `path.key`, or `path["key"]` when the key is not a plain name (a label like
    /// `app.kubernetes.io/name`).
    static func member(_ path: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
        if plain { return path.isEmpty ? key : path + "." + key }
        return path + "[" + JSONOutput.encode(JSONValue.string(key)) + "]"
    }
}
