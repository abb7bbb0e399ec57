/// C0 and C1 control characters and DEL in text k8senv prints but did not write (a file's lines,
/// a bundle's metadata): shown, never obeyed by the terminal.
package enum ControlCharacters {
    /// C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F); `keepingLayout` leaves newline and tab.
    package static func isControl(_ scalar: Unicode.Scalar, keepingLayout: Bool = false) -> Bool {
        let v = scalar.value
        if keepingLayout, v == 0x0A || v == 0x09 { return false }
        return v < 0x20 || (0x7F...0x9F).contains(v)
    }

    /// `text` with each control character (newline and tab too) written as `\xHH`: ESC prints
    /// as `\x1b`, a newline as `\x0a`.
    package static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
