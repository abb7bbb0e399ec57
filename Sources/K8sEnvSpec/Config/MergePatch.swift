/// JSON merge patch (RFC 7386) over positioned values: mappings merge key by key, `null`
/// removes a key, anything else replaces. Values keep the position they were written at, so an
/// error in a profile's value points into the profile.
package enum MergePatch {
    package static func apply(_ patch: YAMLValue, to target: YAMLValue) -> YAMLValue {
        guard let patchEntries = patch.entries else { return patch }
        var result = target
        var entries = target.entries ?? []
        if target.entries == nil { result = YAMLValue(.mapping([]), at: patch.location) }
        for p in patchEntries {
            let index = entries.firstIndex { $0.key == p.key }
            if p.value.content == .null {
                if let index { entries.remove(at: index) }
            } else if let index {
                entries[index].value = apply(p.value, to: entries[index].value)
            } else {
                entries.append(YAMLValue.Entry(key: p.key, keyLocation: p.keyLocation, value: apply(p.value, to: YAMLValue(.null, at: p.value.location))))
            }
        }
        result.content = .mapping(entries)
        return result
    }
}
