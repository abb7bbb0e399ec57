import Foundation
import K8sEnvTestSupport
import Testing

/// `--trace FILE` on `up` and `run` (docs/how-to/see-where-start-time-goes.md): the start's
/// phases, one track per instance, in a file Perfetto and chrome://tracing open.
@Suite(
    "k8senv up/run --trace: where a start's time goes (real kube-apiserver)", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct TraceRunTests {
    /// The complete events ("X") of `events`, by track name.
    static func spans(_ events: [[String: Any]]) -> [String: [(name: String, start: Int, end: Int)]] {
        let tracks = TraceFile.tracks(events)
        var byTrack: [String: [(name: String, start: Int, end: Int)]] = [:]
        for event in events where event["ph"] as? String == "X" {
            guard let tid = event["tid"] as? Int, let track = tracks[tid], let name = event["name"] as? String,
                let ts = event["ts"] as? Int, let dur = event["dur"] as? Int
            else { continue }
            byTrack[track, default: []].append((name, ts, ts + dur))
        }
        return byTrack
    }

    /// Pairs of spans on one track that overlap without one holding the other.
    static func partialOverlaps(_ byTrack: [String: [(name: String, start: Int, end: Int)]]) -> [String] {
        var found: [String] = []
        for (track, spans) in byTrack {
            for (i, a) in spans.enumerated() {
                for b in spans.dropFirst(i + 1) {
                    let disjoint = a.end <= b.start || b.end <= a.start
                    let nested = (a.start <= b.start && b.end <= a.end) || (b.start <= a.start && a.end <= b.end)
                    if !disjoint && !nested {
                        found.append("\(track): \(a.name) [\(a.start), \(a.end)] and \(b.name) [\(b.start), \(b.end)]")
                    }
                }
            }
        }
        return found
    }

    /// What every instance's start records, from the snapshot or building it.
    static let everyStart = [
        "snapshot lookup", "instance start", "instance files (certificates, tokens, users)", "store start",
        "store serving", "kube-apiserver start to ready",
    ]

    @Test(
        "up --detach --trace on the example with an empty cache (a miss: the snapshots of base and payments are built): after down the file is whole JSON with every phase of each instance of the run and of a replacement started later, the run's own phases, acquires and releases as instants, and no partly overlapping spans on a track; a run --trace whose k8senv is SIGKILLed (a cache hit now) leaves a readable prefix"
    )
    func upTraceAndKilledRun() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(example: true, name: "trace") { ws in
            let file = ws("up-trace.json")
            let up = try await ws.k8senv("up", "--detach", "-f", "k8senv.yaml", "--trace", "up-trace.json")
            try #require(up.status == 0, "\(up)")
            let status = try await ws.k8senv("status", "-f", "k8senv.yaml")
            let instances = status.stdout.split(separator: "\n").dropFirst().compactMap {
                $0.split(separator: " ").first.map(String.init)
            }
            #expect(instances == ["base-0", "base-1", "payments-0"], "\(status)")
            // payments-0 released with mode stop: the next lease of payments starts a replacement,
            // payments-1, later and outside the start, and it is traced too.
            let stopped = try await ws.shell(
                #"""
                eval "$(k8senv acquire -f k8senv.yaml -e payments --holder $$)" && k8senv release -f k8senv.yaml --mode stop &&
                eval "$(k8senv acquire -f k8senv.yaml -e payments --holder $$)" && k8senv release -f k8senv.yaml
                """#)
            #expect(stopped.status == 0, "\(stopped)")
            // A run attached to the pool leases an instance and releases it.
            let attached = try await ws.k8senv("run", "-f", "k8senv.yaml", "--", "true")
            #expect(attached.status == 0, "\(attached)")
            let down = try await ws.k8senv("down", "-f", "k8senv.yaml")
            #expect(down.status == 0, "\(down)")

            // Closed by the supervisor's finish: JSON without help.
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            let events = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            let byTrack = Self.spans(events)
            func names(_ track: String) -> Set<String> { Set((byTrack[track] ?? []).map(\.name)) }
            #expect(
                names("k8senv").isSuperset(of: ["config load and plan", "binary probe", "cache key"]),
                "\(names("k8senv"))")
            for instance in instances + ["payments-1"] {
                let missing = Set(Self.everyStart).subtracting(names(instance))
                #expect(missing.isEmpty, "\(instance) lacks \(missing.sorted()): \(names(instance).sorted())")
            }
            // The cache was empty: base's snapshot was built once — by base-0, or, when payments'
            // start took base's key lock first (it needs base's snapshot as its parent), on a
            // track of its own, base-build, and base-0 started from it. payments-0 built
            // payments' (from base's); base-1 started from base's snapshot and applied nothing.
            let builtBase: Set = [
                "CRDs applied and Established", "seed set base/namespaces", "seed set base/config", "snapshot save",
            ]
            #expect(
                ["base-0", "base-build"].filter { names($0).isSuperset(of: builtBase) }.count == 1,
                "base-0: \(names("base-0").sorted()); base-build: \(names("base-build").sorted())")
            #expect(
                names("payments-0").isSuperset(of: ["seed set payments/payments-fixtures", "snapshot save"]),
                "\(names("payments-0").sorted())")
            #expect(
                !names("base-1").contains { $0.hasPrefix("seed set") || $0 == "snapshot save" },
                "\(names("base-1").sorted())")
            #expect(names("base pool") == ["pool warm-up"] && names("payments pool") == ["pool warm-up"])
            // The example runs no controllers and no webhooks: no such spans.
            #expect(!byTrack.values.joined().contains { $0.name == "kube-controller-manager" || $0.name == "webhooks" })
            // Seed sets carry their object counts.
            let seed = try #require(events.first { $0["name"] as? String == "seed set base/namespaces" })
            #expect(Int((seed["args"] as? [String: String])?["objects"] ?? "") ?? 0 > 0, "\(seed)")
            #expect(Self.partialOverlaps(byTrack).isEmpty, "\(Self.partialOverlaps(byTrack))")
            // The attached run's lease: acquired and released on an instance's track of each environment.
            let tracks = TraceFile.tracks(events)
            for what in ["acquire", "release"] {
                let instants = events.filter { $0["ph"] as? String == "i" && $0["name"] as? String == what }
                let on = Set(instants.compactMap { ($0["tid"] as? Int).flatMap { tracks[$0] } })
                #expect(on.contains { $0.hasPrefix("base-") } && on.contains("payments-0"), "\(what): \(on)")
            }

            // run --trace, its k8senv SIGKILLed by the command: no closing bracket, every phase of
            // the start readable. The cache holds both snapshots now: no seed set is applied.
            let killed = try await ws.k8senv(
                "run", "--fresh", "-f", "k8senv.yaml", "--trace", ws("run-trace.json"), "--", "sh", "-c",
                "kill -9 $PPID")
            #expect(killed.exit == .signaled(SIGKILL), "\(killed)")
            let text = try String(contentsOfFile: ws("run-trace.json"), encoding: .utf8)
            #expect(text.hasPrefix("[\n") && !text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("]"))
            let prefix = Self.spans(try TraceFile.events(ws("run-trace.json")))
            for instance in instances {
                let missing = Set(Self.everyStart).subtracting((prefix[instance] ?? []).map(\.name))
                #expect(missing.isEmpty, "\(instance) lacks \(missing.sorted())")
                #expect(
                    !(prefix[instance] ?? []).contains { $0.name.hasPrefix("seed set") || $0.name == "snapshot save" },
                    "\(instance): a cache hit")
            }
            #expect(Self.partialOverlaps(prefix).isEmpty, "\(Self.partialOverlaps(prefix))")
        }
    }

    @Test(
        "issue 30: open --detach --trace of a post-mortem bundle: after down the file is whole JSON with the open's own phases (bundle check, store restored) on the k8senv track and every phase of the instance's start (from the restored store) on its track, no partly overlapping spans; a --trace that is a symlink is refused naming the file before anything starts, its target left as it was"
    )
    func openTrace() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Workspace.smallConfig(), name: "trace-open") { ws in
            let failed = try await ws.k8senv("run", "--postmortem", "pm", "--", "false")
            #expect(failed.status == 1, "\(failed)")
            let bundle = ws("pm/one-0.k8senv-bundle")
            try #require(FileManager.default.fileExists(atPath: bundle), "\(failed)")

            let victim = try ws.write("victim.txt", "precious\n")
            try FileManager.default.createDirectory(atPath: ws("other"), withIntermediateDirectories: true)
            symlink(victim, ws("other/t.json"))
            let refused = try await ws.shell(
                "cd other && k8senv open --detach --trace t.json ../pm/one-0.k8senv-bundle")
            #expect(
                refused.status == 1
                    && refused.stderr.contains("cannot write the trace \(ws("other/t.json")): it is a symbolic link"),
                "\(refused)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
            let runs = ((try? FileManager.default.contentsOfDirectory(atPath: ws("other/.k8senv/runs"))) ?? []).filter {
                !$0.hasPrefix(".")
            }
            #expect(runs.isEmpty, "nothing started: \(runs)")

            let opened = try await ws.shell(
                """
                cd other || exit 20
                k8senv open --detach --trace open-trace.json ../pm/one-0.k8senv-bundle >/dev/null || exit 21
                k8senv down || exit 22
                """)
            #expect(opened.status == 0, "\(opened)")
            // Closed by the supervisor's finish: JSON without help.
            let data = try Data(contentsOf: URL(fileURLWithPath: ws("other/open-trace.json")))
            let events = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            let byTrack = Self.spans(events)
            func names(_ track: String) -> Set<String> { Set((byTrack[track] ?? []).map(\.name)) }
            #expect(
                names("k8senv").isSuperset(of: ["bundle check", "binary probe", "store restored"]),
                "\(names("k8senv").sorted())")
            let missing = Set(Self.everyStart).subtracting(names("one-0"))
            #expect(missing.isEmpty, "one-0 lacks \(missing.sorted()): \(names("one-0").sorted())")
            // Started from the bundle's store: nothing applied, nothing saved.
            #expect(
                !names("one-0").contains { $0.hasPrefix("seed set") || $0 == "snapshot save" || $0.hasPrefix("CRDs") },
                "\(names("one-0").sorted())")
            #expect(Self.partialOverlaps(byTrack).isEmpty, "\(Self.partialOverlaps(byTrack))")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "a --trace that cannot be written (its folder missing, a symlink there) is an error naming the file, before anything starts; the symlink's target is left as it was"
    )
    func unwritableTrace() async throws {
        try await Workspace.with(config: Workspace.smallConfig(), name: "trace-bad", apiServers: false) { ws in
            let run = try await ws.k8senv("run", "--trace", ws("missing/t.json"), "--", "true")
            #expect(run.status == 1 && run.stderr.contains("cannot write the trace \(ws("missing/t.json"))"), "\(run)")
            let victim = try ws.write("victim.txt", "precious\n")
            symlink(victim, ws("t.json"))
            let up = try await ws.k8senv("up", "--detach", "--trace", "t.json")
            #expect(
                up.status == 1 && up.stderr.contains("cannot write the trace \(ws("t.json")): it is a symbolic link"),
                "\(up)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
            #expect(ws.runFolders().isEmpty, "\(ws.runFolders())")
        }
    }
}
