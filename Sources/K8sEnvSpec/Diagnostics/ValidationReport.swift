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

    package var json: String {
        var out = "{\"file\":" + Self.quote(file) + ",\"valid\":" + (isValid ? "true" : "false") + ",\"errors\":["
        out += diagnostics.map { d in
            var fields = ["\"file\":" + Self.quote(d.location.file)]
            if let mark = d.location.mark {
                fields.append("\"line\":\(mark.line)")
                fields.append("\"column\":\(mark.column)")
            }
            fields.append("\"code\":" + Self.quote(d.code.rawValue))
            fields.append("\"message\":" + Self.quote(d.message))
            return "{" + fields.joined(separator: ",") + "}"
        }.joined(separator: ",")
        return out + "]}"
    }

    static func quote(_ s: String) -> String {
        var writer = JSONWriter()
        writer.writeString(ArraySlice(s.utf8))
        return String(decoding: writer.output, as: UTF8.self)
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
