/// A Kubernetes object read from a manifest file, with where it was written.
package struct ManifestObject: Sendable {
    package var apiVersion: String
    package var kind: String
    /// `metadata.name`; for an object with only `metadata.generateName`, that prefix.
    package var name: String
    /// True when the object has no name but a `metadata.generateName`: it is created (POST)
    /// and the server picks its name, as `kubectl create` does.
    package var generated = false
    package var namespace: String?
    /// The object's document.
    package var node: YAMLNode
    package var file: ManifestFile
    package var location: SourceLocation { node.location }
    package var kindLocation: SourceLocation { node["kind"]?.location ?? node.location }
    /// How messages name it: `"web"`, or `generateName "job-"`.
    package var quotedName: String { generated ? "generateName \"\(name)\"" : "\"\(name)\"" }

    package init(apiVersion: String, kind: String, name: String, namespace: String?, node: YAMLNode, file: ManifestFile)
    {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.node = node
        self.file = file
    }

    /// The object as JSON, as it is sent to the API server.
    package func json() throws(Diagnostic) -> [UInt8] { try JSONWriter.json(node) }
}

/// Reads manifest files: every non-empty YAML document must be an object with apiVersion,
/// kind and metadata.name (or metadata.generateName); a `kind: List` stands for its items.
package enum Manifests {
    /// - Throws: ``Diagnostics`` pointing into the file, one per problem.
    ///   Each file is parsed once per ``SourceFiles`` (that is, per run).
    package static func read(_ file: ManifestFile, files: SourceFiles) throws(Diagnostics) -> [ManifestObject] {
        try files.manifests(file) { () throws(Diagnostics) in try parse(file, files: files) }
    }

    static func parse(_ file: ManifestFile, files: SourceFiles) throws(Diagnostics) -> [ManifestObject] {
        let bytes: [UInt8]
        let stream: YAMLStream
        do {
            bytes = try files.read(file.path, display: file.displayPath)
            stream = try YAMLReader.read(bytes, file: file.displayPath)
        } catch {
            throw Diagnostics([error])
        }
        var objects: [ManifestObject] = []
        var errors: [Diagnostic] = []
        for document in stream.documents {
            if document.kind == .scalar, (try? document.resolved()) == .null { continue }  // empty document
            collect(document, file: file, into: &objects, errors: &errors)
        }
        if !errors.isEmpty { throw Diagnostics(errors) }
        return objects
    }

    static func collect(
        _ node: YAMLNode, file: ManifestFile, into objects: inout [ManifestObject], errors: inout [Diagnostic]
    ) {
        guard node.kind == .mapping else {
            errors.append(
                Diagnostic(
                    .manifest, at: node.location,
                    "a manifest document must be a mapping (a Kubernetes object), not \(node.kind == .sequence ? "a list" : "a scalar")"
                ))
            return
        }
        func text(_ key: String, in parent: YAMLNode) -> (String?, YAMLNode?) {
            guard let value = parent[key] else { return (nil, nil) }
            if case .string(let s)? = try? value.resolved(), !s.isEmpty { return (s, value) }
            return (nil, value)
        }
        let (apiVersion, apiVersionNode) = text("apiVersion", in: node)
        let (kind, kindNode) = text("kind", in: node)
        var ok = true
        if apiVersion == nil {
            ok = false
            errors.append(
                Diagnostic(
                    .manifest, at: apiVersionNode?.location ?? node.location,
                    apiVersionNode == nil ? "the object has no apiVersion" : "apiVersion must be a non-empty string"))
        }
        if kind == nil {
            ok = false
            errors.append(
                Diagnostic(
                    .manifest, at: kindNode?.location ?? node.location,
                    kindNode == nil ? "the object has no kind" : "kind must be a non-empty string"))
        }
        if let kind, kind == "List" || (kind.hasSuffix("List") && node["items"] != nil) {
            guard let items = node["items"], items.kind == .sequence else {
                errors.append(Diagnostic(.manifest, at: node.location, "a \(kind) needs items, a list of objects"))
                return
            }
            for item in items.items { collect(item, file: file, into: &objects, errors: &errors) }
            return
        }
        let what = [apiVersion, kind].compactMap { $0 }.joined(separator: " ")
        let subject = what.isEmpty ? "the object" : "the \(what)"
        guard let metadata = node["metadata"], metadata.kind == .mapping else {
            errors.append(
                Diagnostic(
                    .manifest, at: node["metadata"]?.location ?? node.location,
                    node["metadata"] == nil
                        ? "\(subject) has no metadata.name (or metadata.generateName)"
                        : "metadata must be a mapping with a name"))
            return
        }
        let (name, nameNode) = text("name", in: metadata)
        let (generateName, _) = text("generateName", in: metadata)
        guard let name = name ?? (nameNode == nil ? generateName : nil) else {
            errors.append(
                Diagnostic(
                    .manifest, at: nameNode?.location ?? metadata.location,
                    nameNode == nil
                        ? "\(subject) has no metadata.name (or metadata.generateName)"
                        : "metadata.name must be a non-empty string"))
            return
        }
        guard ok, let apiVersion, let kind else { return }
        let (namespace, _) = text("namespace", in: metadata)
        var object = ManifestObject(
            apiVersion: apiVersion, kind: kind, name: name, namespace: namespace, node: node, file: file)
        object.generated = nameNode == nil
        objects.append(object)
    }
}

extension ManifestObject {
    /// Where a Kubernetes field path (as the API server's errors give it: `spec.ports[0].port`,
    /// `data[my.key]`, with or without a leading dot) is in this object: the deepest node of the
    /// path that the manifest has (a field the server defaulted points at its parent).
    package func location(ofField path: String) -> SourceLocation {
        var node = self.node
        for segment in Self.segments(path) {
            let next: YAMLNode?
            switch segment {
            case .key(let key): next = node.kind == .mapping ? node[key] : nil
            case .index(let index): next = node.kind == .sequence && index < node.items.count ? node.items[index] : nil
            }
            guard let next else { break }
            node = next
        }
        return node.location
    }

    enum FieldSegment: Equatable {
        case key(String)
        case index(Int)
    }

    /// `spec.ports[0].port` → spec, ports, 0, port; `data[a.b]` → data, "a.b".
    static func segments(_ path: String) -> [FieldSegment] {
        var segments: [FieldSegment] = []
        var current = ""
        var index = path.startIndex
        func flush() {
            if !current.isEmpty { segments.append(.key(current)) }
            current = ""
        }
        while index < path.endIndex {
            let character = path[index]
            if character == "." {
                flush()
            } else if character == "[", let close = path[index...].firstIndex(of: "]") {
                flush()
                let inside = String(path[path.index(after: index)..<close])
                segments.append(Int(inside).map { .index($0) } ?? .key(inside))
                index = close
            } else {
                current.append(character)
            }
            index = path.index(after: index)
        }
        flush()
        return segments
    }
}
