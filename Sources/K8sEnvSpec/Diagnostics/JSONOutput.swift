import Foundation

/// The one way k8senv writes JSON for people and programs (`--format json`): an Encodable value,
/// keys sorted, on one line, every string escaped by JSONEncoder.
package enum JSONOutput {
    package static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Encoding plain structs of strings, numbers and dates does not fail.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
