/// What `k8senv validate` prints, as text or JSON.
package struct ValidationReport: Sendable {
    package var file: String
    package var diagnostics: [Diagnostic]
    package var configs: [Config]
    package var sources: [String: [UInt8]]

    package init(file: String, diagnostics: [Diagnostic], configs: [Config], sources: [String: [UInt8]]) {
        self.file = file
        self.diagnostics = diagnostics
        self.configs = configs
        self.sources = sources
    }

    package var isValid: Bool { diagnostics.isEmpty }

    package var text: String {
        if isValid {
            let environments = configs.first?.environments.count ?? 0
            let profiles = configs.first?.profileNames.count ?? 0
            var line = "\(file): valid (\(environments) environment\(environments == 1 ? "" : "s")"
            if profiles > 0 { line += ", \(profiles) profile\(profiles == 1 ? "" : "s") checked" }
            return line + ")"
        }
        let renderer = DiagnosticRenderer(sources: sources)
        let n = diagnostics.count
        return diagnostics.map(renderer.render).joined(separator: "\n") + "\n\(file): \(n) error\(n == 1 ? "" : "s")"
    }

    /// `{"errors":[{"code","column","file","line","message"}…],"file","valid"}` (keys sorted).
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
        }
        return JSONOutput.encode(Report(file: file, valid: isValid, errors: diagnostics.map { d in
            Item(file: d.location.file, line: d.location.mark?.line, column: d.location.mark?.column,
                 code: d.code.rawValue, message: d.message)
        }))
    }
}

extension ConfigLoader {
    /// Validates a file: with `profile`, that profile; without, the file and every profile.
    package func validate(_ path: String, profile: String?) -> ValidationReport {
        do {
            let configs = profile == nil ? try loadAll(path) : [try load(path, profile: profile)]
            return ValidationReport(file: path, diagnostics: [], configs: configs, sources: files.all)
        } catch {
            return ValidationReport(file: path, diagnostics: error.items, configs: [], sources: files.all)
        }
    }
}
