import Foundation

/// The fenced code blocks of a Markdown page, each with the HTML comment on the line just
/// before its opening fence (`<!-- test -->` → marker "test"; `<!-- file: k8senv.yaml -->` →
/// marker "file", argument "k8senv.yaml"). Used to run documentation as written.
struct MarkdownBlocks {
    struct Block {
        var language: String
        var text: String
        var marker: String?
        var argument: String?
        /// 1-based line of the opening fence.
        var line: Int
    }

    static func fenced(_ page: String) -> [Block] {
        let lines = page.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks: [Block] = []
        var i = 0
        while i < lines.count {
            let trimmed = lines[i].trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("```") else {
                i += 1
                continue
            }
            let indent = lines[i].prefix { $0 == " " }.count
            let language = String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces)
            var (marker, argument): (String?, String?) = (nil, nil)
            if i > 0 {
                let previous = lines[i - 1].trimmingCharacters(in: .whitespaces)
                if previous.hasPrefix("<!--"), previous.hasSuffix("-->") {
                    let inner = previous.dropFirst(4).dropLast(3).trimmingCharacters(in: .whitespaces)
                    if let colon = inner.firstIndex(of: ":") {
                        marker = inner[..<colon].trimmingCharacters(in: .whitespaces)
                        argument = inner[inner.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    } else {
                        marker = inner
                    }
                }
            }
            var body: [String] = []
            var j = i + 1
            while j < lines.count, !lines[j].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                body.append(String(lines[j].dropFirst(min(indent, lines[j].prefix { $0 == " " }.count))))
                j += 1
            }
            blocks.append(
                Block(
                    language: language, text: body.joined(separator: "\n") + "\n", marker: marker,
                    argument: argument, line: i + 1))
            i = j + 1
        }
        return blocks
    }
}
