import Foundation
import Testing

/// scripts/trace-render.py, which draws a `--trace` file as the HTML page
/// scripts/trace-screenshot.sh photographs for docs/how-to/see-where-start-time-goes.md. The
/// browser part is run by hand; what the page holds is checked here.
@Suite("scripts/trace-render.py: a trace drawn as one row per track and one bar per phase", .tags(.cli))
struct TraceRenderTests {
    static let script = Repository.root + "/scripts/trace-render.py"

    /// Three tracks as k8senv writes them (metadata first, a phase per line), without the closing
    /// `]`, as a killed run leaves the file: two phases on k8senv, three on base-0 (instance
    /// start holding store start), one on base-1 whose seed set's name holds markup, an acquire.
    static let trace = """
        [
        {"args":{"name":"k8senv"},"name":"process_name","ph":"M","pid":1,"tid":0},
        {"args":{"name":"k8senv"},"name":"thread_name","ph":"M","pid":1,"tid":1},
        {"args":{"sort_index":1},"name":"thread_sort_index","ph":"M","pid":1,"tid":1},
        {"cat":"k8senv","dur":12000,"name":"config load and plan","ph":"X","pid":1,"tid":1,"ts":100},
        {"cat":"k8senv","dur":30000,"name":"binary probe","ph":"X","pid":1,"tid":1,"ts":13000},
        {"args":{"name":"base-0"},"name":"thread_name","ph":"M","pid":1,"tid":2},
        {"args":{"sort_index":2},"name":"thread_sort_index","ph":"M","pid":1,"tid":2},
        {"args":{"name":"base-1"},"name":"thread_name","ph":"M","pid":1,"tid":3},
        {"args":{"sort_index":3},"name":"thread_sort_index","ph":"M","pid":1,"tid":3},
        {"cat":"k8senv","dur":300000,"name":"store start","ph":"X","pid":1,"tid":2,"ts":50000},
        {"cat":"k8senv","dur":2000000,"name":"instance start","ph":"X","pid":1,"tid":2,"ts":45000},
        {"args":{"objects":"3"},"cat":"k8senv","dur":500000,"name":"seed set base/defaults","ph":"X","pid":1,"tid":2,"ts":2100000},
        {"args":{"objects":"1"},"cat":"k8senv","dur":400000,"name":"seed set base/<b>bold</b>","ph":"X","pid":1,"tid":3,"ts":2200000},
        {"args":{"lease":"l-1"},"cat":"k8senv","name":"acquire","ph":"i","s":"t","pid":1,"tid":2,"ts":2700000},

        """

    /// How often `needle` occurs in `text`.
    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test(
        "issue 30: a trace without its closing bracket becomes one page: one row per track in the file's order, one bar per complete event with its name, one mark per instant, a name's markup escaped, the page's size printed for chromium --window-size"
    )
    func rowsAndBars() async throws {
        try await Workspace.with(name: "trace-render", apiServers: false) { ws in
            try ws.write("t.json", Self.trace)
            let out = try await ws.finish(
                ws.launch("/usr/bin/env", ["python3", Self.script, "t.json", "t.html", "--title", "a small start"]))
            #expect(out.status == 0, "\(out)")
            let size = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap {
                Int($0)
            }
            #expect(size.count == 2 && size[0] == 1400 && size[1] > 100, "\(out)")
            let page = try String(contentsOfFile: ws("t.html"), encoding: .utf8)
            #expect(Self.count(#"<g class="track""#, in: page) == 3, "\(page)")
            let order = ["k8senv", "base-0", "base-1"].map { page.range(of: #"data-track="\#($0)""#)?.lowerBound }
            #expect(
                order.allSatisfy { $0 != nil } && order.map { $0! } == order.map { $0! }.sorted(),
                "tracks in sort-index order")
            #expect(Self.count(#"<rect class="span""#, in: page) == 6, "\(page)")
            for name in [
                "config load and plan", "binary probe", "instance start", "store start", "seed set base/defaults",
            ] {
                #expect(Self.count(#"data-name="\#(name)""#, in: page) == 1, "\(name)")
            }
            #expect(Self.count(#"class="instant" data-name="acquire""#, in: page) == 1)
            #expect(
                !page.contains("<b>bold</b>") && page.contains("seed set base/&lt;b&gt;bold&lt;/b&gt;"),
                "markup in a name is text")
            #expect(page.contains("a small start"))
        }
    }

    @Test("issue 30: a file that is not trace-event JSON is an error naming it (exit 1), and writes no page")
    func notATrace() async throws {
        try await Workspace.with(name: "trace-render-bad", apiServers: false) { ws in
            try ws.write("bad.json", "{\"traceEvents\": oops")
            let out = try await ws.finish(ws.launch("/usr/bin/env", ["python3", Self.script, "bad.json", "bad.html"]))
            #expect(out.status == 1 && out.stderr.contains("trace-render: bad.json: not trace-event JSON"), "\(out)")
            #expect(!FileManager.default.fileExists(atPath: ws("bad.html")))
        }
    }
}
