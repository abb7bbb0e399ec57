import Foundation
import K8sEnvTestSupport
import Testing

/// Issue 28, item 2: the storage decides how an instance goes back, so nothing outside
/// `Sources/K8sEnvRunner/Storage/` (and the store itself, with `k8senv-kine`) reaches into the
/// embedded store or asks which storage it is (docs/explanation/architecture.md, "Storage backends").
@Suite("The storage boundary in the sources", .tags(.fast))
struct StorageBoundaryTests {
    /// Every Swift source line outside the storage's own folders, with its place.
    static func linesOutsideStorage() throws -> [(place: String, line: String)] {
        let sources = PackageLocations.root + "/Sources"
        let inside = ["K8sEnvRunner/Storage/", "K8sEnvStore/", "K8sEnvKine/"]
        var lines: [(String, String)] = []
        let files = FileManager.default.enumerator(atPath: sources)?.compactMap { $0 as? String } ?? []
        for file in files.sorted() where file.hasSuffix(".swift") && !inside.contains(where: file.hasPrefix) {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                lines.append(("Sources/\(file):\(number + 1)", String(line)))
            }
        }
        return lines
    }

    @Test("no file outside Storage/ imports K8sEnvStore")
    func noStoreImport() throws {
        let found = try Self.linesOutsideStorage().filter {
            $0.line.trimmingCharacters(in: .whitespaces).hasSuffix("import K8sEnvStore")
        }
        #expect(found.isEmpty, "\(found.map(\.place))")
    }

    @Test("no code outside Storage/ switches on or compares the storage kind")
    func noStorageKindCase() throws {
        let kind = /(case|[=!]=)\s*\.(etcd|kine|embedded)\b|StorageKind\.(etcd|kine|embedded)/
        let found = try Self.linesOutsideStorage().filter {
            !$0.line.trimmingCharacters(in: .whitespaces).hasPrefix("//") && $0.line.contains(kind)
        }
        #expect(found.isEmpty, "\(found.map { "\($0.place): \($0.line)" })")
    }
}
