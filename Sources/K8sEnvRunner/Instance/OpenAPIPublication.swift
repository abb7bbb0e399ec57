import Foundation
import NIOHTTP1

/// The last piece of work kube-apiserver does on its own after it answers: its OpenAPI document
/// (`/openapi/v2`) is aggregated once at start, before the CRDs are published into it; about a
/// second later (the aggregator checks its local parts once a second) it aggregates the whole
/// document again with the CRDs, and encodes it as protobuf and gzip — a few hundred ms of CPU
/// per instance. Measured on 2 cores, that was most of kube-apiserver's CPU in the second after
/// `up` returned, and it made the pool service's first 200 requests 3–4× slower than the later
/// ones (docs/explanation/performance.md, "The pool service's first requests").
///
/// A pool waits for it before an instance counts as started (``EnvironmentPool``), so that work
/// is done before `up` reports ready, and a holder's `kubectl explain` or client-side
/// validation finds the environment's CRDs from its first request.
enum OpenAPIPublication {
    /// The definitions the document holds once every served version of every Established CRD
    /// is published: `<group reversed>.<version>.<kind>` (`dev.k8senv.example.v1alpha1.Widget`).
    static func expectedDefinitions(_ client: KubeClient, timeout: Duration = .seconds(30))
        async throws(KubeClientError) -> [String]
    {
        let response = try await client.send(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", timeout: timeout)
        // No apiextensions.k8s.io/v1 (older than 1.16): nothing this can wait for.
        guard response.status == 200, let list = response.decode(CRDList.self) else { return [] }
        return list.items.filter(\.isEstablished).flatMap { crd in
            let group = crd.spec.group.split(separator: ".").reversed().joined(separator: ".")
            return crd.spec.versions.filter { $0.served }.map { "\(group).\($0.name).\(crd.spec.names.kind)" }
        }
    }

    /// Waits until `/openapi/v2` holds every definition of ``expectedDefinitions(_:)``; asks with
    /// the document's ETag, so an unchanged document is a 304 without a body.
    /// - Returns: true when published; false when `deadline` passed first (the instance serves
    ///   anyway: this is about when its own work happens, not whether it works).
    /// - Throws: ``KubeClientError`` when kube-apiserver cannot be reached.
    static func wait(_ client: KubeClient, deadline: ContinuousClock.Instant) async throws(KubeClientError) -> Bool {
        // No request outlives the deadline (a kube-apiserver that stopped answering).
        func left() -> Duration { max(deadline - .now, .milliseconds(1)) }
        let expected = try await expectedDefinitions(client, timeout: left()).map { Array("\"\($0)\"".utf8) }
        guard !expected.isEmpty else { return true }
        var etag: String?
        let published = try await Poll(every: .milliseconds(20), until: deadline).until {
            () async throws(KubeClientError) -> Bool in
            var headers = HTTPHeaders()
            if let etag { headers.add(name: "If-None-Match", value: etag) }
            let response = try await client.send("GET", "/openapi/v2", headers: headers, timeout: left())
            guard response.status == 200 else { return false }  // 304: unchanged since the last look
            etag = response.headers.first(name: "ETag")
            return expected.allSatisfy { contains(response.body, $0) }
        }
        if case .success = published { return true }
        return false
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return needle.isEmpty }
        return haystack.withUnsafeBufferPointer { h in
            var i = 0
            let last = h.count - needle.count
            while i <= last {
                if h[i] == first, h[i..<i + needle.count].elementsEqual(needle) { return true }
                i += 1
            }
            return false
        }
    }

    struct CRDList: Decodable {
        struct CRD: Decodable {
            struct Spec: Decodable {
                struct Names: Decodable { var kind: String }
                struct Version: Decodable {
                    var name: String
                    var served: Bool
                }
                var group: String
                var names: Names
                var versions: [Version]
            }
            struct Status: Decodable {
                struct Condition: Decodable {
                    var type: String
                    var status: String
                }
                var conditions: [Condition]?
            }
            var spec: Spec
            var status: Status?

            var isEstablished: Bool {
                status?.conditions?.contains { $0.type == "Established" && $0.status == "True" } ?? false
            }
        }
        var items: [CRD]
    }
}
