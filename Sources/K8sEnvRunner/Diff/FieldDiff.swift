import Foundation
import K8sEnvSpec

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
        let plain =
            !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
                    || $0 == "-"
            }
        if plain { return path.isEmpty ? key : path + "." + key }
        return path + "[" + JSONOutput.encode(JSONValue.string(key)) + "]"
    }
}
