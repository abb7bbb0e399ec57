/// A position in a source file, 1-based, as editors and compilers print it.
package struct Mark: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var line: Int
    package var column: Int

    package init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    package static func < (a: Mark, b: Mark) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    package var description: String { "\(line):\(column)" }
}

/// Where something is: a file as the user named it, and a position in it (nil for the whole file).
package struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var file: String
    package var mark: Mark?

    package init(file: String, mark: Mark?) {
        self.file = file
        self.mark = mark
    }

    package static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        if a.file != b.file { return a.file < b.file }
        switch (a.mark, b.mark) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case (let x?, let y?): return x < y
        }
    }

    package var description: String {
        if let mark { return "\(file):\(mark.line):\(mark.column)" }
        return file
    }
}

/// One problem found in a user's files: where, what, and (in the message) what would be right.
package struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable name for the kind of problem (shown in `--format json`).
    package struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        package var rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        package static let yamlSyntax = Code(rawValue: "yaml-syntax")
        package static let yamlDuplicateKey = Code(rawValue: "yaml-duplicate-key")
        package static let yamlAlias = Code(rawValue: "yaml-alias")
        package static let yamlLimit = Code(rawValue: "yaml-limit")
        package static let yamlValue = Code(rawValue: "yaml-value")
        package static let schema = Code(rawValue: "schema")
        package static let unknownKey = Code(rawValue: "unknown-key")
        package static let environmentVariable = Code(rawValue: "environment-variable")
        package static let reference = Code(rawValue: "reference")
        package static let cycle = Code(rawValue: "cycle")
        package static let duplicate = Code(rawValue: "duplicate")
        package static let path = Code(rawValue: "path")
        package static let manifest = Code(rawValue: "manifest")
        package static let profile = Code(rawValue: "profile")
        package static let io = Code(rawValue: "io")
        /// A feature gate the chosen kube-apiserver does not have (or will not take).
        package static let featureGate = Code(rawValue: "feature-gate")
        /// A name in `controllers` that the kube-controller-manager binary does not have.
        package static let controller = Code(rawValue: "controller")
        /// A check that needs a program (kube-apiserver) that could not be found or run.
        package static let notChecked = Code(rawValue: "not-checked")
    }

    /// An error makes the config invalid; a note only tells (a check that could not run).
    package enum Severity: String, Sendable, Hashable {
        case error, note
    }

    package var code: Code
    package var location: SourceLocation
    package var message: String
    package var severity: Severity

    package init(_ code: Code, at location: SourceLocation, _ message: String, severity: Severity = .error) {
        self.code = code
        self.location = location
        self.message = message
        self.severity = severity
    }

    package var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// Every problem found in one run, sorted by file and position, without repeats.
package struct Diagnostics: Error, Sendable, CustomStringConvertible {
    package var items: [Diagnostic]

    package init(_ items: [Diagnostic]) {
        var seen = Set<Diagnostic>()
        self.items = items.filter { seen.insert($0).inserted }.sorted { a, b in
            if a.location != b.location { return a.location < b.location }
            return a.message < b.message
        }
    }

    package var description: String { items.map(\.description).joined(separator: "\n") }
}
