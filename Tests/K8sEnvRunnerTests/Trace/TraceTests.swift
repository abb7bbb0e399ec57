import Foundation
import K8sEnvTestSupport
import Testing

@testable import K8sEnvRunner

/// The trace file `--trace` writes (docs/how-to/see-where-start-time-goes.md): Chrome's JSON array
/// format, readable whole after a clean finish and as a prefix at any moment before.
@Suite("trace: Chrome trace-event JSON, one track per instance, readable even when killed", .tags(.fast))
struct TraceTests {
    @Test(
        "spans land on their instance's track, nested or one after another, with their arguments; a failed phase carries its error; finish closes the array"
    )
    func spansAndTracks() async throws {
        let folder = try TemporaryFolder()
        let trace = try Trace(path: folder("trace.json"))
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        await Trace.withRecorder(trace) {
            await Trace.span("config load") {}
            await Trace.span("start", track: "base-0") {
                await Trace.span("store start", track: "base-0") {}
                await Trace.span("kube-apiserver start", track: "base-0", arguments: ["port": "6443"]) {}
            }
            do {
                try await Trace.span("seed set", track: "base-1") { () async throws(Boom) in throw Boom() }
            } catch {}
            Trace.instant("acquire", track: "base-0", arguments: ["lease": "l1"])
        }
        trace.finish()
        // Whole JSON now, without help.
        let data = try Data(contentsOf: URL(fileURLWithPath: folder("trace.json")))
        let events = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let names = Dictionary(
            events.filter { $0["name"] as? String == "thread_name" }
                .map { (($0["args"] as? [String: Any])?["name"] as? String ?? "", $0["tid"] as? Int ?? -1) },
            uniquingKeysWith: { a, _ in a })
        #expect(Set(names.keys) == ["k8senv", "base-0", "base-1"])
        func span(_ name: String) throws -> [String: Any] {
            try #require(events.first { $0["name"] as? String == name && $0["ph"] as? String == "X" })
        }
        #expect(try span("config load")["tid"] as? Int == names["k8senv"])
        #expect(try span("store start")["tid"] as? Int == names["base-0"])
        #expect((try span("kube-apiserver start")["args"] as? [String: String]) == ["port": "6443"])
        #expect((try span("seed set")["args"] as? [String: String])?["error"] == "boom")
        #expect(try span("seed set")["tid"] as? Int == names["base-1"])
        // The outer span holds the inner ones.
        let outer = try span("start")
        let inner = try span("kube-apiserver start")
        let (os, od, ins, ind) = (outer["ts"] as! Int, outer["dur"] as! Int, inner["ts"] as! Int, inner["dur"] as! Int)
        #expect(os <= ins && ins + ind <= os + od)
        let acquire = try #require(events.first { $0["name"] as? String == "acquire" })
        #expect(acquire["ph"] as? String == "i" && acquire["tid"] as? Int == names["base-0"])
    }

    @Test("before finish (a killed run) the file is a readable prefix: every finished phase is there")
    func prefix() async throws {
        let folder = try TemporaryFolder()
        let trace = try Trace(path: folder("trace.json"))
        await Trace.withRecorder(trace) {
            await Trace.span("snapshot lookup", track: "base-0") {}
        }
        let text = try String(contentsOfFile: folder("trace.json"), encoding: .utf8)
        #expect(text.hasPrefix("[\n") && text.hasSuffix(",\n"))
        #expect(try TraceFile.events(folder("trace.json")).contains { $0["name"] as? String == "snapshot lookup" })
    }

    @Test("without a recorder a span is the plain call and nothing is written")
    func noRecorder() async throws {
        var ran = false
        await Trace.span("config load") { ran = true }
        #expect(ran)
        #expect(Trace.current == nil)
    }

    @Test("a symlink at the trace's name is refused by name, and its target is left as it was")
    func symlinkRefused() throws {
        let folder = try TemporaryFolder()
        let victim = try folder.write("victim.txt", "precious\n")
        symlink(victim, folder("trace.json"))
        #expect { try Trace(path: folder("trace.json")) } throws: {
            "\($0)".contains(folder("trace.json")) && "\($0)".contains("symbolic link")
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
    }
}
