/// A JSON Schema (2020-12) validator for the keywords k8senv's schema uses, reporting each
/// failure at the position of the offending YAML node, in words a YAML author understands.
///
/// Supported: `$ref` (local JSON pointers), `$defs`, `type`, `enum`, `const`, `properties`,
/// `additionalProperties`, `required`, `propertyNames`, `minProperties`, `items`, `minItems`,
/// `uniqueItems`, `pattern`, `minLength`, `minimum`, `maximum`, `anyOf`, `allOf`; annotations
/// are ignored. `x-pattern-message` names what a `pattern` expects, for the error message.
package struct JSONSchema: Sendable {
    package static let supportedKeywords: Set<String> = [
        "$ref", "$defs", "type", "enum", "const", "properties", "additionalProperties", "required",
        "propertyNames", "minProperties", "items", "minItems", "uniqueItems", "pattern", "minLength",
        "minimum", "maximum", "anyOf", "allOf", "x-pattern-message",
        // annotations
        "$schema", "$id", "$comment", "title", "description", "default", "examples", "markdownDescription",
    ]

    package let root: YAMLValue
    private let patterns: [String: PatternBox]

    /// - Throws: a ``Diagnostic`` if the schema is not JSON, uses an unsupported keyword, has a
    ///   bad pattern, or a `$ref` that does not resolve.
    package init(json: [UInt8], file: String) throws(Diagnostic) {
        let stream = try YAMLReader.read(json, file: file)
        guard let document = stream.documents.first else {
            throw Diagnostic(.schema, at: SourceLocation(file: file, mark: nil), "the schema is empty")
        }
        root = try YAMLValue(document)
        var compiled: [String: PatternBox] = [:]
        try Self.check(root, root: root, patterns: &compiled)
        patterns = compiled
    }

    private static func check(_ schema: YAMLValue, root: YAMLValue, patterns: inout [String: PatternBox])
        throws(Diagnostic)
    {
        guard let entries = schema.entries else { return }
        for entry in entries {
            guard supportedKeywords.contains(entry.key) else {
                throw Diagnostic(.schema, at: entry.keyLocation, "unsupported schema keyword \"\(entry.key)\"")
            }
            switch entry.key {
            case "$ref":
                guard let ref = entry.value.string, resolve(ref, in: root) != nil else {
                    throw Diagnostic(.schema, at: entry.value.location, "unresolved $ref \(entry.value.brief)")
                }
            case "pattern":
                guard let p = entry.value.string else { continue }
                do { patterns[p] = PatternBox(regex: try Regex(p)) } catch {
                    throw Diagnostic(
                        .schema, at: entry.value.location, "invalid pattern \(entry.value.brief): \(error)")
                }
            case "properties", "$defs":
                for sub in entry.value.entries ?? [] { try check(sub.value, root: root, patterns: &patterns) }
            case "additionalProperties", "items", "propertyNames":
                try check(entry.value, root: root, patterns: &patterns)
            case "anyOf", "allOf":
                for sub in entry.value.items ?? [] { try check(sub, root: root, patterns: &patterns) }
            default:
                continue
            }
        }
    }

    static func resolve(_ ref: String, in root: YAMLValue) -> YAMLValue? {
        guard ref.hasPrefix("#") else { return nil }
        var node = root
        for token in ref.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = token.replacing("~1", with: "/").replacing("~0", with: "~")
            guard let next = node[String(key)] else { return nil }
            node = next
        }
        return node
    }

    /// Validates a document.
    /// - Returns: every failure, each at the node it concerns.
    package func validate(_ instance: YAMLValue) -> [Diagnostic] {
        var errors: [Diagnostic] = []
        validate(instance, against: root, path: [], errors: &errors)
        return errors
    }

    /// A path into the document, printed as `environments.base.seeds[0].name`.
    package enum PathElement: Sendable {
        case key(String)
        case index(Int)
    }

    package static func describe(_ path: [PathElement]) -> String {
        var out = ""
        for element in path {
            switch element {
            case .key(let k):
                let simple = !k.isEmpty && k.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
                if simple {
                    if !out.isEmpty { out += "." }
                    out += k
                } else {
                    out += "[\"\(k)\"]"
                }
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    private func fail(
        _ errors: inout [Diagnostic], _ code: Diagnostic.Code = .schema, at location: SourceLocation,
        _ path: [PathElement], _ message: String
    ) {
        let prefix = path.isEmpty ? "the document" : Self.describe(path)
        errors.append(Diagnostic(code, at: location, "\(prefix): \(message)"))
    }

    private func validate(
        _ value: YAMLValue, against schema: YAMLValue, path: [PathElement], errors: inout [Diagnostic]
    ) {
        if value.isUnresolved { return }  // checked when its profile is chosen
        if case .bool(let allowed) = schema.content {
            if !allowed { fail(&errors, at: value.location, path, "is not allowed here") }
            return
        }
        guard let keywords = schema.entries else { return }
        if let ref = schema["$ref"]?.string, let target = Self.resolve(ref, in: root) {
            validate(value, against: target, path: path, errors: &errors)
        }
        if let type = schema["type"] {
            let names = type.items?.compactMap(\.string) ?? [type.string].compactMap { $0 }
            if !names.contains(where: { Self.matches(value, type: $0) }) {
                let expected = names.map(Self.typePhrase).joined(separator: " or ")
                fail(
                    &errors, at: value.location, path, "expected \(expected), got \(value.kindName)\(Self.shown(value))"
                )
                return
            }
        }
        if let options = schema["enum"]?.items, !options.contains(value) {
            let listed = options.map(\.brief).joined(separator: ", ")
            var message = "\(value.brief) is not one of \(listed)"
            if let s = value.string { message += Suggestions.didYouMean(s, in: options.compactMap(\.string)) }
            fail(&errors, at: value.location, path, message)
        }
        if let constant = schema["const"], constant != value {
            fail(&errors, at: value.location, path, "must be \(constant.brief), not \(value.brief)")
        }
        if let anyOf = schema["anyOf"]?.items {
            // Report the errors of the branch that fits best: among the branches whose declared
            // type matches the value, the one with the fewest errors.
            let typed = anyOf.filter { branch in
                guard let types = declaredTypes(branch) else { return true }
                return types.contains { Self.matches(value, type: $0) }
            }
            var best: [Diagnostic]?
            for branch in typed.isEmpty ? anyOf : typed {
                var branchErrors: [Diagnostic] = []
                validate(value, against: branch, path: path, errors: &branchErrors)
                if branchErrors.isEmpty {
                    best = nil
                    break
                }
                if best == nil || branchErrors.count < best!.count { best = branchErrors }
            }
            if let best { errors += best }
        }
        for branch in schema["allOf"]?.items ?? [] {
            validate(value, against: branch, path: path, errors: &errors)
        }
        switch value.content {
        case .string(let s):
            if let min = schema["minLength"]?.int, s.count < min {
                fail(
                    &errors, at: value.location, path,
                    min == 1 ? "must not be empty" : "must be at least \(min) characters long")
            }
            if let pattern = schema["pattern"]?.string, let box = patterns[pattern], !s.contains(box.regex) {
                if let what = schema["x-pattern-message"]?.string {
                    fail(&errors, at: value.location, path, "\(value.brief) is not \(what)")
                } else {
                    fail(&errors, at: value.location, path, "\(value.brief) does not match the pattern \(pattern)")
                }
            }
        case .int, .float:
            let number: Double
            switch value.content {
            case .int(let i): number = Double(i)
            case .float(let d): number = d
            default: number = 0
            }
            if let min = schema["minimum"], let m = Self.number(min), number < m {
                fail(&errors, at: value.location, path, "\(value.brief) is less than the minimum of \(min.brief)")
            }
            if let max = schema["maximum"], let m = Self.number(max), number > m {
                fail(&errors, at: value.location, path, "\(value.brief) is more than the maximum of \(max.brief)")
            }
        case .sequence(let items):
            if let min = schema["minItems"]?.int, items.count < min {
                fail(
                    &errors, at: value.location, path,
                    min == 1 ? "needs at least one item" : "needs at least \(min) items")
            }
            if schema["uniqueItems"]?.content == .bool(true) {
                // By JSON text (keys in order), in linear time.
                var seen = Set<[UInt8]>()
                for (i, item) in items.enumerated() where !seen.insert(item.json).inserted {
                    fail(
                        &errors, .duplicate, at: item.location, path + [.index(i)],
                        "\(item.brief) is listed more than once")
                }
            }
            if let itemSchema = schema["items"] {
                for (i, item) in items.enumerated() {
                    validate(item, against: itemSchema, path: path + [.index(i)], errors: &errors)
                }
            }
        case .mapping(let entries):
            validateMapping(value, entries: entries, schema: schema, keywords: keywords, path: path, errors: &errors)
        default:
            break
        }
    }

    private func validateMapping(
        _ value: YAMLValue, entries: [YAMLValue.Entry], schema: YAMLValue,
        keywords: [YAMLValue.Entry], path: [PathElement], errors: inout [Diagnostic]
    ) {
        let properties = schema["properties"]?.entries ?? []
        if let min = schema["minProperties"]?.int, entries.count < min {
            fail(
                &errors, at: value.location, path,
                min == 1 ? "needs at least one entry" : "needs at least \(min) entries")
        }
        for name in schema["required"]?.items?.compactMap(\.string) ?? []
        where !entries.contains(where: { $0.key == name }) {
            fail(&errors, at: value.location, path, "missing required key \"\(name)\"")
        }
        if let nameSchema = schema["propertyNames"] {
            for entry in entries {
                var keyErrors: [Diagnostic] = []
                let keyValue = YAMLValue(.string(entry.key), at: entry.keyLocation)
                validate(keyValue, against: nameSchema, path: path + [.key(entry.key)], errors: &keyErrors)
                for e in keyErrors {
                    // Say it is the name that is wrong, not the value.
                    let message = e.message.replacingFirstPathPrefix(with: Self.describe(path), key: entry.key)
                    errors.append(Diagnostic(e.code, at: e.location, message))
                }
            }
        }
        for entry in entries {
            let childPath = path + [.key(entry.key)]
            if let sub = properties.first(where: { $0.key == entry.key }) {
                validate(entry.value, against: sub.value, path: childPath, errors: &errors)
                continue
            }
            guard let additional = schema["additionalProperties"] else { continue }
            if additional.content == .bool(false) {
                let place = path.isEmpty ? "at the top level" : "in \(Self.describe(path))"
                let hint = Suggestions.didYouMean(entry.key, in: properties.map(\.key))
                errors.append(
                    Diagnostic(.unknownKey, at: entry.keyLocation, "unknown key \"\(entry.key)\" \(place)\(hint)"))
            } else {
                validate(entry.value, against: additional, path: childPath, errors: &errors)
            }
        }
    }

    /// The `type` a schema declares, following one `$ref`.
    private func declaredTypes(_ schema: YAMLValue) -> [String]? {
        var schema = schema
        if let ref = schema["$ref"]?.string, let target = Self.resolve(ref, in: root) { schema = target }
        guard let type = schema["type"] else { return nil }
        return type.items?.compactMap(\.string) ?? [type.string].compactMap { $0 }
    }

    static func matches(_ value: YAMLValue, type: String) -> Bool {
        switch (type, value.content) {
        case ("object", .mapping), ("array", .sequence), ("string", .string), ("boolean", .bool), ("null", .null),
            ("number", .int), ("number", .float), ("integer", .int):
            return true
        case ("integer", .float(let d)):
            return d.isFinite && d.rounded() == d
        default:
            return false
        }
    }

    static func typePhrase(_ type: String) -> String {
        switch type {
        case "object": return "a mapping"
        case "array": return "a list"
        case "string": return "a string"
        case "integer": return "an integer"
        case "number": return "a number"
        case "boolean": return "a boolean (true or false)"
        case "null": return "null"
        default: return type
        }
    }

    static func shown(_ value: YAMLValue) -> String {
        switch value.content {
        case .sequence, .mapping, .null: return ""
        default: return " (\(value.brief))"
        }
    }

    static func number(_ value: YAMLValue) -> Double? {
        switch value.content {
        case .int(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }
}

/// A compiled pattern. Regex is immutable once built, so sharing it across tasks is safe.
private struct PatternBox: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
}

extension String {
    /// Rewrites "environments.Base: "Base" is not …" (a propertyNames failure) as
    /// "environments: "Base" is not …": it is the name that is wrong, not a value under it.
    func replacingFirstPathPrefix(with parent: String, key: String) -> String {
        guard let colon = firstRange(of: ": ") else { return self }
        return (parent.isEmpty ? "the document" : parent) + ": " + self[colon.upperBound...]
    }
}
