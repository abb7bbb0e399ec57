import Foundation
import K8sEnvSpec

/// A JSON value as kube-apiserver serves it, Sendable and comparable: the runner's one model of
/// JSON it does not know the shape of (what `k8senv diff` compares, a Status's details, a CRD's
/// conditions); what it does know is read as `Codable` types (``APIResourceList``). Integers stay
/// integers (`3`, not `3.0`); object keys are unordered.
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
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
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

    /// Parses JSON text (``JSONParser``); nil when it is not one JSON value.
    package static func parse(_ bytes: [UInt8]) -> JSONValue? {
        JSONParser.parse(bytes)
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

    package var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The items of an array (nil for anything else).
    package var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// Compact JSON, keys sorted: how the text form of a diff shows a value.
    package var description: String { JSONOutput.encode(self) }

    /// Null, false, zero, or empty: what Kubernetes' encoding leaves out of a field marked
    /// `omitempty`.
    package var isZero: Bool {
        switch self {
        case .null: true
        case .bool(let value): !value
        case .integer(let value): value == 0
        case .number(let value): value == 0
        case .string(let value): value.isEmpty
        case .array(let items): items.isEmpty
        case .object(let members): members.isEmpty
        }
    }

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
