import Foundation

/// The keys a request names, in etcd's encoding: `end` empty means the single key `start`;
/// `end` = "\0" means every key from `start` on; otherwise the half-open range [start, end).
package struct KeyRange: Sendable, Equatable {
    package var start: Data
    /// nil: no upper bound.
    package var end: Data?

    package init(key: Data, rangeEnd: Data) {
        start = key
        if rangeEnd.isEmpty {
            var next = key
            next.append(0)
            end = next  // [key, key+"\0") holds key alone
        } else if rangeEnd == Data([0]) {
            end = nil
        } else {
            end = rangeEnd
        }
    }

    package init(start: Data, end: Data?) {
        self.start = start
        self.end = end
    }

    /// All keys starting with `prefix`.
    package static func prefix(_ prefix: Data) -> KeyRange {
        KeyRange(start: prefix, end: prefixEnd(prefix))
    }

    /// The first key after every key that starts with `prefix`, or nil when there is none.
    package static func prefixEnd(_ prefix: Data) -> Data? {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.index(before: end.endIndex)] = last + 1
                return end
            }
            end.removeLast()
        }
        return nil
    }

    /// The key, when the range holds that one key alone ([key, key+"\0")).
    var singleKey: Data? {
        guard let end, end.count == start.count + 1, end.last == 0, end.starts(with: start) else { return nil }
        return start
    }

    func contains(_ key: Data) -> Bool {
        guard Self.compare(key, start) >= 0 else { return false }
        guard let end else { return true }
        return Self.compare(key, end) < 0
    }

    /// Byte order, as etcd (and SQLite's BLOB comparison) orders keys: memcmp, then length.
    /// (Data's own lexicographicallyPrecedes walks an iterator a byte at a time; every watcher
    /// checks every event's key, so this is on the write path.)
    static func compare(_ a: Data, _ b: Data) -> Int {
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                let common = min(x.count, y.count)
                if common > 0, let p = x.baseAddress, let q = y.baseAddress {
                    let order = memcmp(p, q, common)
                    if order != 0 { return Int(order) }
                }
                return x.count - y.count
            }
        }
    }
}
