/// What `k8senv validate` prints, as text or JSON.
package struct ValidationReport: Sendable {
    package var file: String
    /// The errors: any makes the file invalid.
    package var diagnostics: [Diagnostic]
    /// What could not be checked, and why (a missing kube-apiserver): shown, never invalid.
    package var notes: [Diagnostic]
    package var configs: [Config]
    package var sources: [String: [UInt8]]

    package init(
        file: String, diagnostics: [Diagnostic], notes: [Diagnostic] = [], configs: [Config], sources: [String: [UInt8]]
    ) {
        self.file = file
        self.diagnostics = diagnostics
        self.notes = notes
        self.configs = configs
        self.sources = sources
    }

    package var isValid: Bool { diagnostics.isEmpty }

    /// Errors (then notes) as `file:line:col: error: …` with their source lines, and a summary line.
    package var text: String {
        let renderer = DiagnosticRenderer(sources: sources)
        let shown = (Diagnostics(diagnostics).items + Diagnostics(notes).items).map(renderer.render)
        let summary: String
        if isValid {
            let environments = configs.first?.environments.count ?? 0
            let profiles = configs.first?.profileNames.count ?? 0
            var line = "\(file): valid (\(environments) environment\(environments == 1 ? "" : "s")"
            if profiles > 0 { line += ", \(profiles) profile\(profiles == 1 ? "" : "s") checked" }
            summary = line + ")"
        } else {
            let n = diagnostics.count
            summary = "\(file): \(n) error\(n == 1 ? "" : "s")"
        }
        return (shown + [summary]).joined(separator: "\n")
    }

    /// `{"errors":[{"code","column","file","line","message"}…],"file","notes":[…],"valid"}` (keys
    /// sorted; `notes` only when there are some).
    package var json: String {
        struct Item: Encodable {
            var file: String
            var line: Int?
            var column: Int?
            var code: String
            var message: String
        }
        struct Report: Encodable {
            var file: String
            var valid: Bool
            var errors: [Item]
            /// Absent when there are none.
            var notes: [Item]?
        }
        func items(_ list: [Diagnostic]) -> [Item] {
            Diagnostics(list).items.map { d in
                Item(
                    file: d.location.file, line: d.location.mark?.line, column: d.location.mark?.column,
                    code: d.code.rawValue, message: d.message)
            }
        }
        return JSONOutput.encode(
            Report(file: file, valid: isValid, errors: items(diagnostics), notes: notes.isEmpty ? nil : items(notes)))
    }
}

extension ConfigLoader {
    /// Validates a file: with `profile`, that profile; without, the file and every profile.
    package func validate(_ path: String, profile: String?) -> ValidationReport {
        do {
            let configs = profile == nil ? try loadAll(path) : [try load(path, profile: Self.chosen(profile))]
            return ValidationReport(file: path, diagnostics: [], configs: configs, sources: files.quotable)
        } catch {
            return ValidationReport(file: path, diagnostics: error.items, configs: [], sources: files.quotable)
        }
    }
}
