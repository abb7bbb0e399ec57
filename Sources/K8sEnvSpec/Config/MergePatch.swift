/// JSON merge patch (RFC 7386) over positioned values: mappings merge key by key, `null`
/// removes a key, anything else replaces. Values keep the position they were written at, so an
/// error in a profile's value points into the profile.
package enum MergePatch {
    package static func apply(_ patch: YAMLValue, to target: YAMLValue) -> YAMLValue {
        guard let patchEntries = patch.entries else { return patch }
        var result = target
        var entries = target.entries ?? []
        if target.entries == nil { result = YAMLValue(.mapping([]), at: patch.location) }
        // By key, so a profile that touches every one of 16,000 environments stays linear.
        var position: [String: Int] = [:]
        for (i, entry) in entries.enumerated() where position[entry.key] == nil { position[entry.key] = i }
        var removed = Set<Int>()
        for p in patchEntries {
            let index = position[p.key].flatMap { removed.contains($0) ? nil : $0 }
            if p.value.content == .null {
                if let index { removed.insert(index) }
            } else if let index {
                entries[index].value = apply(p.value, to: entries[index].value)
            } else {
                entries.append(
                    YAMLValue.Entry(
                        key: p.key, keyLocation: p.keyLocation,
                        value: apply(p.value, to: YAMLValue(.null, at: p.value.location))))
                position[p.key] = entries.count - 1
            }
        }
        if !removed.isEmpty { entries = entries.indices.filter { !removed.contains($0) }.map { entries[$0] } }
        result.content = .mapping(entries)
        return result
    }
}
