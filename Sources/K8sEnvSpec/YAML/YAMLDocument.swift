/// A parsed YAML stream: every node of every document in one flat arena, so parsing a large
/// manifest allocates a few arrays rather than one object per node. Aliases share the anchored
/// node (the tree is a DAG); merge keys (`<<`) are already applied to the mappings.
package final class YAMLStream: Sendable {
    package enum Kind: UInt8, Sendable { case scalar, sequence, mapping }

    package enum Style: UInt8, Sendable {
        case plain, singleQuoted, doubleQuoted, literal, folded
        /// Collections: block or flow; no bearing on values.
        case collection
    }

    struct Record: Sendable {
        var kind: Kind
        var style: Style
        /// Index into `tags`, or -1 when the node has no explicit tag.
        var tag: Int32
        /// Scalar: byte range in `bytes`. Collection: range in `children`
        /// (for a mapping, key and value indices alternate).
        var start: Int32
        var count: Int32
        var line: Int32
        var column: Int32
    }

    /// The file name diagnostics use for this stream.
    package let file: String
    let records: [Record]
    let children: [Int32]
    let bytes: [UInt8]
    let tags: [String]
    /// The root node of each document, in order.
    let roots: [Int32]

    init(file: String, records: [Record], children: [Int32], bytes: [UInt8], tags: [String], roots: [Int32]) {
        self.file = file
        self.records = records
        self.children = children
        self.bytes = bytes
        self.tags = tags
        self.roots = roots
    }

    /// The documents of the stream, in order.
    package var documents: [YAMLNode] { roots.map { YAMLNode(stream: self, index: $0) } }
}

/// A node of a ``YAMLStream``: a cheap view (the stream and an index).
package struct YAMLNode: Sendable {
    package let stream: YAMLStream
    let index: Int32

    var record: YAMLStream.Record { stream.records[Int(index)] }

    package var kind: YAMLStream.Kind { record.kind }
    package var style: YAMLStream.Style { record.style }
    package var mark: Mark { Mark(line: Int(record.line), column: Int(record.column)) }
    package var location: SourceLocation { SourceLocation(file: stream.file, mark: mark) }

    /// The explicit tag as libyaml resolved it (`tag:yaml.org,2002:str`, `!custom`), if any.
    package var tag: String? {
        let t = record.tag
        return t < 0 ? nil : stream.tags[Int(t)]
    }

    /// The raw bytes of a scalar's value.
    var scalarBytes: ArraySlice<UInt8> {
        let r = record
        return stream.bytes[Int(r.start)..<Int(r.start + r.count)]
    }

    /// The scalar's text as written (after YAML unescaping), or nil for a collection.
    package var scalarText: String? {
        kind == .scalar ? String(decoding: scalarBytes, as: UTF8.self) : nil
    }

    /// Whether implicit (YAML 1.1) type resolution applies: a plain scalar without a tag.
    package var isPlainUntagged: Bool { kind == .scalar && style == .plain && record.tag < 0 }

    /// Sequence items, or mapping keys and values alternating.
    var childIndices: ArraySlice<Int32> {
        let r = record
        guard r.kind != .scalar else { return [] }
        return stream.children[Int(r.start)..<Int(r.start + r.count)]
    }

    package var items: [YAMLNode] {
        kind == .sequence ? childIndices.map { YAMLNode(stream: stream, index: $0) } : []
    }

    package var entries: [(key: YAMLNode, value: YAMLNode)] {
        guard kind == .mapping else { return [] }
        let c = childIndices
        var result: [(key: YAMLNode, value: YAMLNode)] = []
        result.reserveCapacity(c.count / 2)
        var i = c.startIndex
        while i < c.endIndex {
            result.append((YAMLNode(stream: stream, index: c[i]), YAMLNode(stream: stream, index: c[i + 1])))
            i += 2
        }
        return result
    }

    /// The value under a string key of a mapping.
    package subscript(key: String) -> YAMLNode? {
        for (k, v) in entries where k.kind == .scalar && k.scalarText == key { return v }
        return nil
    }

    /// The node resolved to a value (scalars by the YAML 1.1 rules kubectl uses).
    package func resolved() throws(Diagnostic) -> ScalarValue {
        try ScalarResolver.resolve(self)
    }
}
