/// Expands `${VAR}` and `${VAR:-default}` in configuration strings. Nothing else is
/// interpreted: no command substitution, no other operators; `$$` is a literal `$`.
package struct VariableExpansion: Sendable {
    package var variables: [String: String]

    package init(variables: [String: String]) {
        self.variables = variables
    }

    /// What expanding one string found.
    package enum Failure: Error, Equatable {
        /// Lenient expansion met an unset variable without a default.
        case deferred
        case unset(name: String, offset: Int)
        case malformed(String, offset: Int)
    }

    /// Expands one string.
    /// - Parameter strict: when false, an unset variable without a default throws `.deferred`
    ///   (the caller keeps the text as written) instead of `.unset`.
    package func expand(_ text: String, strict: Bool = true) throws(Failure) -> String {
        guard text.contains("$") else { return text }
        let chars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "$", i + 1 < chars.count else {
                out.append(c)
                i += 1
                continue
            }
            let next = chars[i + 1]
            if next == "$" {
                out.append("$")
                i += 2
                continue
            }
            guard next == "{" else {
                out.append(c)
                i += 1
                continue
            }
            guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                throw .malformed("\"${\" has no closing \"}\"", offset: i)
            }
            let inner = String(String.UnicodeScalarView(chars[(i + 2)..<close]))
            let name: String
            var fallback: String?
            if let op = inner.firstRange(of: ":-") {
                name = String(inner[..<op.lowerBound])
                fallback = String(inner[op.upperBound...])
            } else {
                name = inner
            }
            guard Self.isName(name) else {
                throw .malformed(
                    "\"${\(inner)}\" is not ${NAME} or ${NAME:-default} (NAME: letters, digits and _, not starting with a digit)",
                    offset: i)
            }
            let value = variables[name]
            if let fallback, value == nil || value!.isEmpty {
                out.append(contentsOf: fallback.unicodeScalars)
            } else if let value {
                out.append(contentsOf: value.unicodeScalars)
            } else {
                throw strict ? .unset(name: name, offset: i) : .deferred
            }
            i = close + 1
        }
        return String(out)
    }

    /// True when `text` is one `${NAME}` or `${NAME:-default}` and nothing else, and NAME is
    /// set and not empty: expanding it gives the variable's value as it is.
    package func isWholeVariable(_ text: String) -> Bool {
        guard text.hasPrefix("${"), text.hasSuffix("}"), text.count > 3 else { return false }
        let inner = text.dropFirst(2).dropLast()
        guard !inner.contains("}") else { return false }
        let name = inner.firstRange(of: ":-").map { String(inner[..<$0.lowerBound]) } ?? String(inner)
        guard Self.isName(name), let value = variables[name] else { return false }
        return !value.isEmpty
    }

    static func isName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return s.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }

    /// Expands every string value (not keys) of a config tree; plain scalars are resolved again
    /// afterwards, so `size: ${POOL_SIZE:-4}` is an integer.
    package func expand(_ value: YAMLValue, strict: Bool, errors: inout [Diagnostic]) -> YAMLValue {
        var value = value
        switch value.content {
        case .string(let s) where s.contains("$"):
            do {
                let expanded = try expand(s, strict: strict)
                value.isFromEnvironment = isWholeVariable(s)
                if value.isPlain {
                    value.content = YAMLValue.content(
                        of: ScalarResolver.resolvePlain(ArraySlice(expanded.utf8)) ?? .string(expanded))
                } else {
                    value.content = .string(expanded)
                }
            } catch .deferred {
                value.isUnresolved = true
            } catch {
                var location = value.location
                let offset: Int
                let message: String
                switch error {
                case .unset(let name, let o):
                    offset = o
                    message =
                        "environment variable \(name) is not set; set it, or give a default with ${\(name):-default}"
                case .malformed(let text, let o):
                    offset = o
                    message = text
                case .deferred:
                    return value
                }
                if value.isPlain, !s.contains("\n"), let mark = location.mark {
                    location.mark = Mark(line: mark.line, column: mark.column + offset)
                }
                errors.append(Diagnostic(.environmentVariable, at: location, message))
            }
        case .sequence(let items):
            value.content = .sequence(items.map { expand($0, strict: strict, errors: &errors) })
        case .mapping(let entries):
            value.content = .mapping(
                entries.map { entry in
                    var entry = entry
                    entry.value = expand(entry.value, strict: strict, errors: &errors)
                    return entry
                })
        default:
            break
        }
        return value
    }
}
