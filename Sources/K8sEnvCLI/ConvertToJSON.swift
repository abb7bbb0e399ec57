import ArgumentParser
import Foundation
import K8sEnvSpec

struct ConvertToJSON: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "Print each YAML document of the files as one line of JSON, as k8senv sends it to the API server.",
        discussion:
            "Scalars resolve by the YAML 1.1 rules kubectl uses (\(DocsLink.page("reference/yaml.md"))). Empty documents print nothing."
    )

    @Argument(help: "YAML files; - reads standard input.")
    var files: [String]

    @Flag(help: "Parse and convert, but print only the number of bytes and documents (for benchmarks).")
    var count = false

    func run() throws {
        var failed = false
        var totalIn = 0
        var totalOut = 0
        var documents = 0
        // One output buffer for every document: its memory is reused, not allocated again.
        var writer = JSONWriter()
        for file in files {
            guard let input = Input(file) else {
                printError("\(file): error: cannot read the file")
                failed = true
                continue
            }
            do {
                try input.withBytes { (bytes) throws(Diagnostic) in
                    totalIn += bytes.count
                    // One document at a time: a large stream needs the memory of one document.
                    try YAMLReader.forEachDocument(bytes, file: file) { (document) throws(Diagnostic) in
                        if document.kind == .scalar, (try? document.resolved()) == .null { return }
                        writer.removeAll()
                        try writer.write(document)
                        totalOut += writer.count
                        documents += 1
                        if !count {
                            var line = writer.withOutput { Data(buffer: $0) }
                            line.append(10)
                            FileHandle.standardOutput.write(line)
                        }
                    }
                }
            } catch {
                printError(DiagnosticRenderer(sources: [file: input.array]).render(error))
                failed = true
            }
        }
        if count { print("bytes_in=\(totalIn) bytes_out=\(totalOut) documents=\(documents)") }
        if failed { throw ExitCode(1) }
    }
}

/// A file's bytes: mapped when it is a regular file (no copy), read otherwise (standard input).
private enum Input {
    case mapped(MappedFile)
    case read([UInt8])

    init?(_ file: String) {
        if file == "-" {
            self = .read([UInt8](FileHandle.standardInput.readDataToEndOfFile()))
        } else if let mapped = MappedFile(path: file) {
            self = .mapped(mapped)
        } else if let bytes = FileBytes.read(file) {
            self = .read(bytes)
        } else {
            return nil
        }
    }

    func withBytes(_ body: (UnsafeBufferPointer<UInt8>) throws(Diagnostic) -> Void) throws(Diagnostic) {
        switch self {
        case .mapped(let file): try withExtendedLifetime(file) { () throws(Diagnostic) in try body(file.bytes) }
        case .read(let bytes): try bytes.withUnsafeBufferPointer(body)
        }
    }

    /// A copy of the bytes, for an error's snippet.
    var array: [UInt8] {
        switch self {
        case .mapped(let file): return Array(file.bytes)
        case .read(let bytes): return bytes
        }
    }
}
