/// A Go-style duration (`500ms`, `30s`, `1m30s`, `2h`), as kube-apiserver flags and
/// `time.ParseDuration` take them.
package struct GoDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var nanoseconds: Int64

    package init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    package init(seconds: Double) { self.nanoseconds = Int64(seconds * 1e9) }

    /// Parses `([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+`; nil for anything else or on overflow.
    package init?(_ text: String) {
        var total: Double = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number.first != ".", number.last != ".",
                number.filter({ $0 == "." }).count <= 1, let value = Double(number)
            else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += value * scale
        }
        guard total < 9.2e18 else { return nil }
        nanoseconds = Int64(total)
    }

    package var seconds: Double { Double(nanoseconds) / 1e9 }
    package var duration: Duration { .nanoseconds(nanoseconds) }

    package static func < (a: GoDuration, b: GoDuration) -> Bool { a.nanoseconds < b.nanoseconds }

    /// The shortest Go-style spelling (`1m30s`, `500ms`).
    package var description: String {
        var n = nanoseconds
        if n == 0 { return "0s" }
        if n % 1_000_000_000 != 0 {
            if n % 1_000_000 == 0 { return "\(n / 1_000_000)ms" }
            if n % 1_000 == 0 { return "\(n / 1_000)us" }
            return "\(n)ns"
        }
        n /= 1_000_000_000
        var out = ""
        if n >= 3600 {
            out += "\(n / 3600)h"
            n %= 3600
        }
        if n >= 60 {
            out += "\(n / 60)m"
            n %= 60
        }
        if n > 0 { out += "\(n)s" }
        return out
    }
}
