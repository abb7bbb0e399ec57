import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// The one parser of audit logs (``AuditLog``), the table, `--since`, and the flags and policy an
/// auditing instance starts with. Without binaries: the logs here are written as kube-apiserver
/// 1.20 writes them.
@Suite("audit log parser, table and flags", .tags(.fast))
struct AuditLogTests {
    /// A ResponseComplete event as kube-apiserver v1.20 writes it (one line).
    static func line(
        _ verb: String, _ resource: String, namespace: String? = "default", name: String? = "x", code: Int = 201,
        stage: String = "ResponseComplete", received: String = "2026-12-01T19:29:41.100000Z",
        completed: String = "2026-12-01T19:29:41.105250Z", extra: String = ""
    ) -> String {
        var object = #""resource":"\#(resource)","apiVersion":"v1""#
        if let namespace { object += #","namespace":"\#(namespace)""# }
        if let name { object += #","name":"\#(name)""# }
        return
            #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"id-\#(verb)","stage":"\#(stage)","requestURI":"/api/v1/namespaces/default/\#(resource)?fieldManager=kubectl","verb":"\#(verb)","user":{"username":"k8senv-admin","groups":["system:masters","system:authenticated"]},"sourceIPs":["127.0.0.1"],"userAgent":"kubectl/v1.32.0","objectRef":{\#(object)},"responseStatus":{"metadata":{},"code":\#(code)},"requestReceivedTimestamp":"\#(received)","stageTimestamp":"\#(completed)"\#(extra)}"#
    }

    @Test(
        "events in order with verb, resource, namespace/name, code, latency; other stages, garbage and a truncated last line skipped; unknown fields ignored"
    )
    func parse() {
        let create = Self.line(
            "create", "configmaps",
            extra: #","annotations":{"authorization.k8s.io/decision":"allow"},"futureField":[1,2]"#)
        let received = Self.line("create", "configmaps", stage: "RequestReceived")
        let missing = Self.line(
            "get", "configmaps", name: "nope", code: 404, received: "2026-12-01T19:29:42Z",
            completed: "2026-12-01T19:29:42.002Z")
        let truncated = String(Self.line("delete", "configmaps").prefix(120))
        let log = [received, create, "not json at all", "{}", missing, truncated].joined(separator: "\n")
        let events = AuditLog.parse(Array(log.utf8), instance: "base-0")
        #expect(events.map(\.verb) == ["create", "get"])
        #expect(events.map(\.code) == [201, 404])
        #expect(events.map(\.objectName) == ["default/x", "default/nope"])
        #expect(events.map(\.resource) == ["configmaps", "configmaps"])
        #expect(events.allSatisfy { $0.instance == "base-0" && $0.user == "k8senv-admin" })
        #expect(events.first?.latency == .microseconds(5250))
        #expect(events.first?.timestamp == "2026-12-01T19:29:41.100000Z")
        #expect(events.map(\.isMutating) == [true, false])
        // A log that ends while kube-apiserver writes: the same events, no error.
        #expect(AuditLog.parse(Array((log + "\n" + truncated).utf8), instance: "base-0") == events)
        #expect(AuditLog.parse([], instance: "base-0").isEmpty)
    }

    @Test(
        "reading from an earlier size of the log: only what was written after it (a lease's requests, not those of the leases before); a line cut at the offset is skipped"
    )
    func fromOffset() throws {
        let dir = try TemporaryDirectory()
        let earlier = Self.line("create", "configmaps", name: "before") + "\n"
        let path = try dir.write("audit.log", earlier)
        #expect(AuditLog.size(path) == UInt64(earlier.utf8.count))
        #expect(AuditLog.size(dir.path + "/none.log") == 0)
        let offset = AuditLog.size(path)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((Self.line("delete", "configmaps", name: "after", code: 200) + "\n").utf8))
        try handle.close()
        #expect(AuditLog.read(path, instance: "i").map(\.objectName) == ["default/before", "default/after"])
        #expect(AuditLog.read(path, instance: "i", from: offset).map(\.objectName) == ["default/after"])
        #expect(
            AuditLog.read(path, instance: "i", from: offset / 2).map(\.objectName) == ["default/after"],
            "the cut line is skipped")
        #expect(AuditLog.read(dir.path + "/none.log", instance: "i", from: 10).isEmpty)
    }

    @Test(
        "the JSON of the CLI and the pool API reads back as the same events (an attached run decodes the service's answer)"
    )
    func roundTrip() throws {
        let events = AuditLog.parse(
            Array(
                (Self.line("create", "configmaps") + "\n"
                    + Self.line("get", "/version", namespace: nil, name: nil, code: 200) + "\n").utf8),
            instance: "base-0")
        let data = Data(JSONOutput.encode(events).utf8)
        let decoded = try JSONDecoder().decode([AuditEvent].self, from: data)
        #expect(decoded == events)
        #expect(decoded.map(\.namespace) == ["default", nil])
    }

    @Test("a group and a subresource name the resource; a path that is no resource is shown as the path")
    func resources() {
        let status =
            #"{"kind":"Event","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/a/deployments/d/status","verb":"update","user":{"username":"alice"},"objectRef":{"resource":"deployments","namespace":"a","name":"d","apiGroup":"apps","subresource":"status"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-12-01T19:29:41.1Z","stageTimestamp":"2026-12-01T19:29:41.2Z"}"#
        let version =
            #"{"kind":"Event","stage":"ResponseComplete","requestURI":"/version?timeout=32s","verb":"get","user":{"username":"alice"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-12-01T19:29:41.3Z","stageTimestamp":"2026-12-01T19:29:41.3Z"}"#
        let events = AuditLog.parse(Array((status + "\n" + version + "\n").utf8), instance: "i")
        #expect(events.map(\.resource) == ["deployments.apps/status", "/version"])
        #expect(events.map(\.objectName) == ["a/d", ""])
    }

    @Test("the table has the columns, an instance column only when asked, one row per event")
    func table() {
        let events = AuditLog.parse(
            Array(
                (Self.line("create", "configmaps") + "\n" + Self.line("delete", "configmaps", code: 200) + "\n").utf8),
            instance: "base-0")
        let lines = AuditTable.render(events, showInstance: true)
        #expect(lines.count == 3)
        #expect(
            lines[0].split(separator: " ", omittingEmptySubsequences: true) == [
                "TIME", "INSTANCE", "USER", "VERB", "RESOURCE", "NAMESPACE/NAME", "CODE", "LATENCY",
            ])
        #expect(
            lines[1].split(separator: " ", omittingEmptySubsequences: true) == [
                "19:29:41.100", "base-0", "k8senv-admin", "create", "configmaps", "default/x", "201", "5.2ms",
            ])
        #expect(!AuditTable.render(events, showInstance: false)[0].contains("INSTANCE"))
    }

    @Test("RFC 3339 times: fractions, Z and offsets; nonsense is nil; --since takes a Go duration back from now too")
    func times() {
        #expect(RFC3339.parse("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(RFC3339.parse("2026-12-01T19:29:41.5Z") == Date(timeIntervalSince1970: 1_796_153_381.5))
        #expect(RFC3339.parse("2026-12-01T20:29:41.5+01:00") == Date(timeIntervalSince1970: 1_796_153_381.5))
        #expect(RFC3339.parse("2000-02-29T12:00:00-00:30") == Date(timeIntervalSince1970: 951_825_600 + 1800))
        for bad in [
            "", "2026-12-01", "2026-12-01T19:29:41", "2026-13-01T00:00:00Z", "2026-12-01T19:29:41.Z",
            "2026-12-01T19:29:41Zjunk",
        ] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
        let now = Date(timeIntervalSince1970: 1000)
        #expect(AuditSince.parse("5m", now: now) == Date(timeIntervalSince1970: 700))
        #expect(AuditSince.parse("1970-01-01T00:00:10Z", now: now) == Date(timeIntervalSince1970: 10))
        #expect(AuditSince.parse("yesterday", now: now) == nil)
    }

    @Test(
        "an auditing instance gets the policy, a JSON log in blocking mode, before extraArgs; the built-in policy has one stage and leaves out probes and discovery"
    )
    func flagsAndPolicy() {
        let args = APIServerArguments.make(
            version: KubeVersion(major: 1, minor: 20), layout: FlagTests.layout(),
            audit: AuditFiles(policy: "/d/pki/audit-policy.yaml", log: "/d/logs/audit.log"),
            extraArgs: ["--audit-log-mode=batch"])
        let flags = [
            "--audit-policy-file=/d/pki/audit-policy.yaml", "--audit-log-path=/d/logs/audit.log",
            "--audit-log-format=json", "--audit-log-mode=blocking",
        ]
        for flag in flags { #expect(args.contains(flag), "\(flag)") }
        #expect(args.last == "--audit-log-mode=batch", "extraArgs win")
        let plain = APIServerArguments.make(
            version: KubeVersion(major: 1, minor: 20), layout: FlagTests.layout(), extraArgs: [])
        #expect(!plain.contains { $0.hasPrefix("--audit") })

        let policy = AuditPolicy.builtIn(.request)
        #expect(policy.contains(#"omitStages: ["RequestReceived"]"#))
        #expect(policy.hasSuffix("- level: Request\n\n") || policy.hasSuffix("- level: Request\n"))
        for path in ["/livez", "/readyz", "/healthz", "/apis", "/version"] {
            #expect(policy.contains("\"\(path)\""), "\(path)")
        }
    }
}
