/// Prints diagnostics as `path:line:col: error: message`, then the source line and a caret.
package struct DiagnosticRenderer {
    private var sources: [String: [UInt8]]

    /// - Parameter sources: the bytes of each file by the name diagnostics use for it.
    package init(sources: [String: [UInt8]]) {
        self.sources = sources
    }

    package func render(_ diagnostic: Diagnostic) -> String {
        var out = Self.printable(diagnostic.description)
        guard let mark = diagnostic.location.mark, let bytes = sources[diagnostic.location.file],
            let line = Self.line(mark.line, in: bytes)
        else { return out }
        // Tabs in the snippet become spaces so the caret lines up; other control characters
        // (an ESC sequence in a file would drive the user's terminal) become U+FFFD, one for one.
        // Only the first 200 characters are shown (and touched: a line can be 50 MB).
        let head = line.text.prefix(201)
        let shown = Self.printable(String(head.prefix(200).map { $0 == "\t" ? " " : $0 }))
        let clipped = head.count > 200 || line.cut ? shown + "…" : shown
        let caretColumn = min(max(mark.column - 1, 0), 200)
        out += "\n    " + clipped + "\n    " + String(repeating: " ", count: caretColumn) + "^"
        return out
    }

    package func render(_ diagnostics: Diagnostics) -> String {
        diagnostics.items.map(render).joined(separator: "\n")
    }

    /// `text` with C0 and C1 control characters and DEL (newlines and tabs aside) replaced by
    /// U+FFFD: what a file says is shown, never obeyed by the terminal.
    static func printable(_ text: String) -> String {
        let isControl = { ControlCharacters.isControl($0, keepingLayout: true) }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { scalars.append(isControl(scalar) ? "\u{FFFD}" : scalar) }
        return String(scalars)
    }

    /// The start of a 1-based line (without its line break; at most 804 bytes, `cut` when there
    /// is more; without a byte-order mark), decoding invalid UTF-8 leniently.
    static func line(_ number: Int, in bytes: [UInt8]) -> (text: Substring, cut: Bool)? {
        var current = 1
        // Columns are counted after a byte-order mark (YAMLReader skips it): so is the line.
        var start = bytes.starts(with: YAMLReader.byteOrderMark) ? 3 : 0
        var index = start
        while index < bytes.count, current < number {
            if bytes[index] == UInt8(ascii: "\n") {
                current += 1
                start = index + 1
            }
            index += 1
        }
        guard current == number, start <= bytes.count else { return nil }
        // At most 4 bytes a character for the 201 shown (and measured): the rest is not decoded.
        var end = start
        let limit = min(bytes.count, start + 201 * 4)
        while end < limit, bytes[end] != UInt8(ascii: "\n"), bytes[end] != UInt8(ascii: "\r") { end += 1 }
        let text = String(decoding: bytes[start..<end], as: UTF8.self)[...]
        let cut =
            end == limit && limit < bytes.count && bytes[limit] != UInt8(ascii: "\n")
            && bytes[limit] != UInt8(ascii: "\r")
        // Cut inside the line: drop a character the cut may have split.
        return (cut ? text.dropLast() : text, cut)
    }
}
