internal import CYAML

/// Bounds that keep hostile input from exhausting memory or the stack.
package struct YAMLLimits: Sendable {
    /// How deep collections may nest.
    package var maxDepth: Int
    /// How many nodes a document may hold once every alias is expanded, at most.
    package var maxExpandedNodes: Int
    /// How many times the nodes written a document may expand to through aliases (above a floor
    /// of 100,000), so that a small file cannot stand for a huge one.
    package var maxAliasExpansion: Int
    /// How many bytes of scalar text a document may hold once every alias is expanded.
    package var maxExpandedBytes: Int

    package init(
        maxDepth: Int = 512, maxExpandedNodes: Int = 2_000_000, maxAliasExpansion: Int = 10,
        maxExpandedBytes: Int = 256 << 20
    ) {
        self.maxDepth = maxDepth
        self.maxExpandedNodes = maxExpandedNodes
        self.maxAliasExpansion = maxAliasExpansion
        self.maxExpandedBytes = maxExpandedBytes
    }

    package static let `default` = YAMLLimits()
}

/// Reads YAML through libyaml's event API into a ``YAMLStream``: positions kept, anchors and
/// aliases resolved, merge keys applied, duplicate keys rejected, alias expansion bounded.
package enum YAMLReader {
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - file: the name diagnostics use for the file.
    /// - Throws: a ``Diagnostic`` naming the line and column of the first syntax error.
    package static func read(
        _ bytes: [UInt8], file: String, limits: YAMLLimits = .default
    ) throws(Diagnostic) -> YAMLStream {
        var stream: YAMLStream?
        try bytes.withUnsafeBufferPointer { (input) throws(Diagnostic) in
            try parse(input, file: file, limits: limits, emitEach: false, perDocument: { _ in }) { stream = $0 }
        }
        return stream!
    }

    /// Reads a stream one document at a time: `body` gets each document as soon as it is
    /// complete, and the memory of one document is reused for the next, so a large multi-document
    /// file costs the memory of its largest document. The node must not outlive `body`.
    /// - Throws: a ``Diagnostic`` from the YAML, or what `body` throws.
    package static func forEachDocument(
        _ bytes: [UInt8], file: String, limits: YAMLLimits = .default,
        _ body: (YAMLNode) throws(Diagnostic) -> Void
    ) throws(Diagnostic) {
        try bytes.withUnsafeBufferPointer { (input) throws(Diagnostic) in
            try forEachDocument(input, file: file, limits: limits, body)
        }
    }

    /// The same over bytes the caller keeps alive (a ``MappedFile``'s, say) for the whole call.
    package static func forEachDocument(
        _ input: UnsafeBufferPointer<UInt8>, file: String, limits: YAMLLimits = .default,
        _ body: (YAMLNode) throws(Diagnostic) -> Void
    ) throws(Diagnostic) {
        try parse(input, file: file, limits: limits, emitEach: true, perDocument: body) { _ in }
    }

    /// A UTF-8 byte-order mark, as editors write "UTF-8 with BOM" (and Windows tools do).
    package static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// `input` without a leading byte-order mark: kubectl accepts one at the start of a file,
    /// and so does k8senv. Lines and columns are counted after it, as an editor shows them.
    static func skippingByteOrderMark(_ input: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard input.count >= 3, input[0] == 0xEF, input[1] == 0xBB, input[2] == 0xBF else { return input }
        return UnsafeBufferPointer(rebasing: input[3...])
    }

    private static func parse(
        _ input: UnsafeBufferPointer<UInt8>, file: String, limits: YAMLLimits, emitEach: Bool,
        perDocument: (YAMLNode) throws(Diagnostic) -> Void, finished: (YAMLStream) -> Void
    ) throws(Diagnostic) {
        let input = skippingByteOrderMark(input)
        // libyaml reads the caller's bytes in place: no copy of the input.
        let parser = LibYAMLParser(input: input)
        var composer = Composer(file: file, inputCount: input.count, limits: limits)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer { event.deallocate() }
        while true {
            guard parser.next(event) else { throw parser.diagnostic(file: file, input: input) }
            defer { yaml_event_delete(event) }
            let done = try composer.handle(event)
            if emitEach, event.pointee.type == YAML_DOCUMENT_END_EVENT {
                try composer.emitDocument(perDocument)
            }
            if done { break }
        }
        finished(composer.finish())
    }
}

/// Owns a `yaml_parser_t` (at a stable address: libyaml points into it). The input belongs to
/// the caller and must outlive the parser.
private final class LibYAMLParser {
    let parser: UnsafeMutablePointer<yaml_parser_t>
    /// A valid address for empty input (libyaml reads nothing from it).
    nonisolated(unsafe) static let empty = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

    init(input: UnsafeBufferPointer<UInt8>) {
        parser = .allocate(capacity: 1)
        yaml_parser_initialize(parser)
        if let base = input.baseAddress, input.count > 0 {
            yaml_parser_set_input_string(parser, base, input.count)
        } else {
            yaml_parser_set_input_string(parser, Self.empty, 0)
        }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
    }

    func next(_ event: UnsafeMutablePointer<yaml_event_t>) -> Bool {
        yaml_parser_parse(parser, event) == 1
    }

    func diagnostic(file: String, input bytes: UnsafeBufferPointer<UInt8>) -> Diagnostic {
        let p = parser.pointee
        let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
        if p.error == YAML_READER_ERROR {
            // Reader errors carry a byte offset, not a mark.
            let mark = Self.mark(atOffset: p.problem_offset, in: bytes)
            var message = "invalid input: \(problem)"
            if p.problem_value != -1 {
                message += " (byte 0x\(String(UInt8(truncatingIfNeeded: p.problem_value), radix: 16)))"
            }
            if problem.contains("UTF-8") || problem.contains("octet") { message += "; the file must be UTF-8" }
            return Diagnostic(.yamlSyntax, at: SourceLocation(file: file, mark: mark), message)
        }
        if p.error == YAML_MEMORY_ERROR {
            return Diagnostic(.yamlLimit, at: SourceLocation(file: file, mark: nil), "out of memory while parsing YAML")
        }
        let pm = p.problem_mark
        let mark = Mark(line: Int(pm.line) + 1, column: Int(pm.column) + 1)
        var message = problem
        if let context = p.context.map({ String(cString: $0) }) {
            let cm = p.context_mark
            message += " (\(context) at line \(cm.line + 1), column \(cm.column + 1))"
        }
        if pm.index < bytes.count, bytes[Int(pm.index)] == UInt8(ascii: "\t") {
            message += "; YAML does not allow tabs for indentation, use spaces"
        }
        return Diagnostic(.yamlSyntax, at: SourceLocation(file: file, mark: mark), message)
    }

    static func mark(atOffset offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Mark {
        var line = 1
        var column = 1
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            let b = bytes[i]
            if b == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
            i += 1
        }
        return Mark(line: line, column: column)
    }
}

/// Builds the arena from events.
private struct Composer {
    struct Frame {
        var record: Int32
        var pendingStart: Int
        var isMapping: Bool
        var hasMerge: Bool
        var anchor: String?
    }

    /// Nodes and scalar bytes under a node once aliases are expanded.
    struct Expanded {
        var nodes: Int
        var bytes: Int
    }

    let file: String
    let limits: YAMLLimits
    var records: [YAMLStream.Record] = []
    /// What each node expands to (parallel to `records`).
    var expanded: [Expanded] = []
    var children: [Int32] = []
    var bytes: [UInt8] = []
    var tags: [String] = []
    var tagIndex: [String: Int32] = [:]
    var roots: [Int32] = []
    var pending: [Int32] = []
    /// Scratch for the duplicate key check: byte ranges of keys, and a hash table of key numbers.
    var keyRanges: [Range<Int>] = []
    var keyTable: [Int32] = []
    var frames: [Frame] = []
    var anchors: [String: Int32] = [:]
    var openAnchors: Set<String> = []
    var documentExpanded = 0
    var documentWritten = 0
    var documentExpandedBytes = 0
    var documentRoot: Int32 = -1

    init(file: String, inputCount: Int, limits: YAMLLimits) {
        self.file = file
        self.limits = limits
        bytes.reserveCapacity(inputCount)
        records.reserveCapacity(inputCount / 12)
        expanded.reserveCapacity(inputCount / 12)
    }

    func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, mark: Mark(line: Int(mark.line) + 1, column: Int(mark.column) + 1))
    }

    mutating func intern(_ tag: UnsafeMutablePointer<yaml_char_t>?) -> Int32 {
        guard let tag else { return -1 }
        let text = String(cString: tag)
        if let i = tagIndex[text] { return i }
        let i = Int32(tags.count)
        tags.append(text)
        tagIndex[text] = i
        return i
    }

    /// Returns true at the end of the stream.
    mutating func handle(_ event: UnsafePointer<yaml_event_t>) throws(Diagnostic) -> Bool {
        // Fields are read in place: copying the whole event just after libyaml wrote it stalls.
        let mark = event.pointee.start_mark
        switch event.pointee.type {
        case YAML_STREAM_START_EVENT:
            return false
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            anchors.removeAll(keepingCapacity: true)
            documentExpanded = 0
            documentWritten = 0
            documentExpandedBytes = 0
            documentRoot = -1
            return false
        case YAML_DOCUMENT_END_EVENT:
            if documentRoot >= 0 { roots.append(documentRoot) }
            return false
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.pointee.data.alias.anchor)
            guard let target = anchors[name] else {
                if openAnchors.contains(name) {
                    throw Diagnostic(
                        .yamlAlias, at: location(mark),
                        "alias *\(name) refers to the node that contains it")
                }
                throw Diagnostic(
                    .yamlAlias, at: location(mark),
                    "unknown anchor \"\(name)\" (an anchor must be defined with &\(name) before *\(name))")
            }
            let size = expanded[Int(target)]
            try count(size.nodes, bytes: size.bytes, at: mark, alias: true)
            try attach(target, mark: mark)
            return false
        case YAML_SCALAR_EVENT:
            let s = event.pointee.data.scalar
            let style: YAMLStream.Style
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let start = Int32(bytes.count)
            if let value = s.value, s.length > 0 {
                bytes.append(contentsOf: UnsafeBufferPointer(start: value, count: Int(s.length)))
            }
            let index = Int32(records.count)
            records.append(
                .init(
                    kind: .scalar, style: style, tag: s.tag == nil ? -1 : intern(s.tag), start: start,
                    count: Int32(s.length), line: Int32(mark.line) + 1,
                    column: Int32(mark.column) + 1))
            expanded.append(Expanded(nodes: 1, bytes: Int(s.length) + 2))
            try count(1, bytes: Int(s.length) + 2, at: mark)
            if let anchor = s.anchor { anchors[String(cString: anchor)] = index }
            try attach(index, mark: mark)
            return false
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = event.pointee.type == YAML_MAPPING_START_EVENT
            let tag = isMapping ? event.pointee.data.mapping_start.tag : event.pointee.data.sequence_start.tag
            let anchorPointer =
                isMapping ? event.pointee.data.mapping_start.anchor : event.pointee.data.sequence_start.anchor
            if frames.count >= limits.maxDepth {
                throw Diagnostic(
                    .yamlLimit, at: location(mark),
                    "collections nest deeper than \(limits.maxDepth) levels")
            }
            let index = Int32(records.count)
            records.append(
                .init(
                    kind: isMapping ? .mapping : .sequence, style: .collection, tag: intern(tag),
                    start: 0, count: 0, line: Int32(mark.line) + 1,
                    column: Int32(mark.column) + 1))
            expanded.append(Expanded(nodes: 1, bytes: 0))
            try count(1, bytes: 0, at: mark)
            let anchor = anchorPointer.map { String(cString: $0) }
            if let anchor {
                openAnchors.insert(anchor)
                anchors[anchor] = nil
            }
            frames.append(
                Frame(record: index, pendingStart: pending.count, isMapping: isMapping, hasMerge: false, anchor: anchor)
            )
            return false
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let frame = frames.removeLast()
            try finishCollection(frame)
            pending.removeLast(pending.count - frame.pendingStart)
            if let anchor = frame.anchor {
                openAnchors.remove(anchor)
                anchors[anchor] = frame.record
            }
            try attach(frame.record, mark: mark)
            return false
        default:
            return false
        }
    }

    /// Records a finished collection's children (merge keys applied, duplicate keys rejected).
    mutating func finishCollection(_ frame: Frame) throws(Diagnostic) {
        let items = pending[frame.pendingStart...]
        var total = Expanded(nodes: 1, bytes: 0)
        for child in items {
            let size = expanded[Int(child)]
            total.nodes += size.nodes
            total.bytes += size.bytes
        }
        expanded[Int(frame.record)] = total
        records[Int(frame.record)].start = Int32(children.count)
        if frame.isMapping, frame.hasMerge {
            let entries = try finishMapping(Array(items), hasMerge: true)
            records[Int(frame.record)].count = Int32(entries.count)
            children.append(contentsOf: entries)
        } else {
            // The common case, without copies: check keys in place, then move the children.
            if frame.isMapping { try checkDuplicateKeys(items) }
            records[Int(frame.record)].count = Int32(items.count)
            children.append(contentsOf: items)
        }
    }

    /// Counts nodes and scalar bytes as they would be once aliases are expanded, and stops an
    /// alias bomb (many nodes, or a few long scalars repeated) before anything is expanded.
    mutating func count(_ n: Int, bytes: Int, at mark: yaml_mark_t, alias: Bool = false) throws(Diagnostic) {
        documentExpanded += n
        documentExpandedBytes += bytes
        if !alias { documentWritten += n }
        let allowed = min(limits.maxExpandedNodes, max(100_000, limits.maxAliasExpansion * documentWritten))
        if documentExpanded > allowed {
            throw Diagnostic(
                .yamlLimit, at: location(mark),
                "aliases expand the document to more than \(allowed) nodes (\(documentWritten) written; an alias bomb?)"
            )
        }
        if documentExpandedBytes > limits.maxExpandedBytes {
            throw Diagnostic(
                .yamlLimit, at: location(mark),
                "aliases expand the document to more than \(limits.maxExpandedBytes >> 20) MiB of text (an alias bomb?)"
            )
        }
    }

    /// Adds a finished node to the open collection, or makes it the document's root.
    mutating func attach(_ index: Int32, mark: yaml_mark_t) throws(Diagnostic) {
        let top = frames.count - 1
        guard top >= 0 else {
            documentRoot = index
            return
        }
        if frames[top].isMapping, (pending.count - frames[top].pendingStart) % 2 == 0 {
            // A key.
            let record = records[Int(index)]
            if record.kind != .scalar {
                throw Diagnostic(
                    .yamlValue,
                    at: SourceLocation(file: file, mark: Mark(line: Int(record.line), column: Int(record.column))),
                    "a mapping key must be a scalar (JSON object keys are strings)")
            }
            if record.count == 2, isMergeKey(index) { frames[top].hasMerge = true }
        }
        pending.append(index)
    }

    func node(_ index: Int32) -> YAMLNode.Parts {
        let r = records[Int(index)]
        return YAMLNode.Parts(
            kind: r.kind, style: r.style, tag: r.tag < 0 ? nil : tags[Int(r.tag)],
            bytes: bytes[Int(r.start)..<Int(r.start + r.count)], mark: Mark(line: Int(r.line), column: Int(r.column)))
    }

    func isMergeKey(_ index: Int32) -> Bool {
        let r = records[Int(index)]
        return r.kind == .scalar && r.style == .plain && r.count == 2
            && bytes[Int(r.start)] == UInt8(ascii: "<") && bytes[Int(r.start) + 1] == UInt8(ascii: "<")
            && (r.tag < 0 || tags[Int(r.tag)] == "tag:yaml.org,2002:merge")
    }

    /// The JSON object key a scalar key becomes.
    func keyText(_ index: Int32) throws(Diagnostic) -> ArraySlice<UInt8> {
        let parts = node(index)
        if let value = try ScalarResolver.resolve(parts, file: file) {
            return ArraySlice(value.jsonKey.utf8)
        }
        return parts.bytes
    }

    /// Rejects a key that appears twice in a mapping without merge keys (`items` alternates
    /// keys and values). Keys whose text is their bytes (untagged strings, nearly all keys) are
    /// compared in place: pairwise in small mappings, through a hash table in larger ones.
    mutating func checkDuplicateKeys(_ items: ArraySlice<Int32>) throws(Diagnostic) {
        let count = items.count / 2
        guard count > 1 else { return }
        defer { keyRanges.removeAll(keepingCapacity: true) }
        for i in stride(from: items.startIndex, to: items.endIndex - 1, by: 2) {
            guard let range = textRange(items[i]) else {
                // A key that resolves to another value (`1`, `true`, `!!int 1`): the general way.
                _ = try finishMapping(Array(items), hasMerge: false)
                return
            }
            keyRanges.append(range)
        }
        let duplicate: (key: Int, first: Int)? = bytes.withUnsafeBufferPointer { bytes in
            count <= 16
                ? Self.firstDuplicatePairwise(keyRanges, in: bytes)
                : Self.firstDuplicateHashed(keyRanges, in: bytes, table: &keyTable)
        }
        if let duplicate {
            throw self.duplicate(
                items[items.startIndex + 2 * duplicate.key], first: items[items.startIndex + 2 * duplicate.first],
                text: bytes[keyRanges[duplicate.key]])
        }
    }

    /// The range of `bytes` that is a key's JSON text, or nil when the key's text is not its
    /// bytes (it has a tag, or is a plain scalar that resolves to a null, boolean or number).
    func textRange(_ key: Int32) -> Range<Int>? {
        let r = records[Int(key)]
        let range = Int(r.start)..<Int(r.start + r.count)
        guard r.tag < 0 else { return nil }
        if r.style != .plain { return range }
        let resolved = bytes.withUnsafeBufferPointer {
            ScalarResolver.resolvePlain(UnsafeBufferPointer(rebasing: $0[range]))
        }
        return resolved == nil ? range : nil
    }

    /// The first key equal to an earlier one, and that earlier one (numbered in order).
    static func firstDuplicatePairwise(_ keys: [Range<Int>], in bytes: UnsafeBufferPointer<UInt8>) -> (
        key: Int, first: Int
    )? {
        for k in 1..<keys.count {
            for j in 0..<k where equal(keys[j], keys[k], in: bytes) { return (k, j) }
        }
        return nil
    }

    /// The same through an open-addressing table of key numbers (-1 marks a free slot).
    static func firstDuplicateHashed(
        _ keys: [Range<Int>], in bytes: UnsafeBufferPointer<UInt8>,
        table: inout [Int32]
    ) -> (key: Int, first: Int)? {
        var size = 64
        while size < 2 * keys.count { size *= 2 }
        table.removeAll(keepingCapacity: true)
        table.append(contentsOf: repeatElement(-1, count: size))
        let mask = size - 1
        for k in keys.indices {
            var slot = Int(truncatingIfNeeded: hash(keys[k], in: bytes)) & mask
            while table[slot] >= 0 {
                let j = Int(table[slot])
                if equal(keys[j], keys[k], in: bytes) { return (k, j) }
                slot = (slot + 1) & mask
            }
            table[slot] = Int32(k)
        }
        return nil
    }

    @inline(__always) static func equal(_ a: Range<Int>, _ b: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> Bool
    {
        guard a.count == b.count else { return false }
        var i = a.lowerBound
        var j = b.lowerBound
        while i < a.upperBound {
            if bytes[i] != bytes[j] { return false }
            i += 1
            j += 1
        }
        return true
    }

    /// FNV-1a: keys are short, and an unlucky spread costs time, never correctness.
    @inline(__always) static func hash(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in range { h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01b3 }
        return h ^ (h >> 29)
    }

    func duplicate(_ key: Int32, first: Int32, text: ArraySlice<UInt8>) -> Diagnostic {
        let r = records[Int(first)]
        let k = records[Int(key)]
        return Diagnostic(
            .yamlDuplicateKey, at: SourceLocation(file: file, mark: Mark(line: Int(k.line), column: Int(k.column))),
            "duplicate key \"\(String(decoding: text, as: UTF8.self))\" (first defined at line \(r.line), column \(r.column))"
        )
    }

    /// Applies merge keys and rejects duplicate keys; returns the key/value indices in order.
    func finishMapping(_ items: [Int32], hasMerge: Bool) throws(Diagnostic) -> [Int32] {
        var result: [Int32] = []
        result.reserveCapacity(items.count)
        var seen: [ArraySlice<UInt8>: Int32] = [:]
        var merges: [(key: Int32, value: Int32)] = []
        var i = 0
        while i + 1 < items.count {
            let key = items[i]
            let value = items[i + 1]
            i += 2
            if hasMerge, isMergeKey(key) {
                merges.append((key, value))
                continue
            }
            let text = try keyText(key)
            if let first = seen[text] { throw duplicate(key, first: first, text: text) }
            seen[text] = key
            result.append(key)
            result.append(value)
        }
        for (mergeKey, merge) in merges {
            var sources: [Int32] = []
            let r = records[Int(merge)]
            switch r.kind {
            case .mapping: sources = [merge]
            case .sequence:
                sources = Array(children[Int(r.start)..<Int(r.start + r.count)])
                for source in sources where records[Int(source)].kind != .mapping {
                    let s = records[Int(source)]
                    throw Diagnostic(
                        .yamlValue,
                        at: SourceLocation(file: file, mark: Mark(line: Int(s.line), column: Int(s.column))),
                        "a merge key (<<) takes a mapping or a sequence of mappings")
                }
            case .scalar:
                let k = records[Int(mergeKey)]
                throw Diagnostic(
                    .yamlValue, at: SourceLocation(file: file, mark: Mark(line: Int(k.line), column: Int(k.column))),
                    "a merge key (<<) takes a mapping or a sequence of mappings")
            }
            for source in sources {
                let s = records[Int(source)]
                var j = Int(s.start)
                while j + 1 < Int(s.start + s.count) {
                    let key = children[j]
                    let value = children[j + 1]
                    j += 2
                    let text = try keyText(key)
                    if seen[text] == nil {
                        seen[text] = key
                        result.append(key)
                        result.append(value)
                    }
                }
            }
        }
        return result
    }

    func finish() -> YAMLStream {
        YAMLStream(file: file, records: records, children: children, bytes: bytes, tags: tags, roots: roots)
    }

    /// Hands the document just finished to `body`, then empties the arena for the next one,
    /// keeping its capacity (the stream made for `body` is gone by then, so nothing is copied).
    mutating func emitDocument(_ body: (YAMLNode) throws(Diagnostic) -> Void) throws(Diagnostic) {
        if let root = roots.last {
            try body(YAMLNode(stream: finish(), index: root))
        }
        roots.removeAll(keepingCapacity: true)
        records.removeAll(keepingCapacity: true)
        expanded.removeAll(keepingCapacity: true)
        children.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }
}

extension YAMLNode {
    /// What scalar resolution needs of a node, independent of where it is stored.
    struct Parts {
        var kind: YAMLStream.Kind
        var style: YAMLStream.Style
        var tag: String?
        var bytes: ArraySlice<UInt8>
        var mark: Mark
    }

    var parts: Parts {
        let r = record
        return Parts(kind: r.kind, style: r.style, tag: tag, bytes: scalarBytes, mark: mark)
    }
}
