import Foundation
import K8sEnvTestSupport
import Synchronization
import Testing

@testable import K8sEnvStore

/// One Watch stream's control messages, as the gRPC service hands them to it.
@Suite("Watch stream messages", .tags(.fast))
struct WatchStreamTests {
    /// What a stream sent, collected by a task as the gRPC writer would drain it.
    final class Outbox: Sendable {
        let continuation: AsyncStream<Etcdserverpb_WatchResponse>.Continuation
        private let task: Task<Void, Never>

        init() {
            let (stream, continuation) = AsyncStream<Etcdserverpb_WatchResponse>.makeStream()
            self.continuation = continuation
            let items = Collector()
            task = Task { for await response in stream { items.append(response) } }
            collector = items
        }

        private let collector: Collector

        /// Waits until `count` responses arrived (or 5 s passed) and returns them.
        func take(_ count: Int) async throws -> [Etcdserverpb_WatchResponse] {
            for _ in 0..<500 where collector.count < count {
                try await Task.sleep(for: .milliseconds(10))
            }
            return collector.all
        }
    }

    final class Collector: Sendable {
        private let items = Mutex<[Etcdserverpb_WatchResponse]>([])
        func append(_ response: Etcdserverpb_WatchResponse) { items.withLock { $0.append(response) } }
        var count: Int { items.withLock { $0.count } }
        var all: [Etcdserverpb_WatchResponse] { items.withLock { $0 } }
    }

    func create(_ key: String, start: Int64 = 0, progress: Bool = false, id: Int64 = 0) -> Etcdserverpb_WatchRequest {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(key.utf8)
        create.rangeEnd = KeyRange.prefixEnd(Data(key.utf8))!
        create.startRevision = start
        create.progressNotify = progress
        create.watchID = id
        var request = Etcdserverpb_WatchRequest()
        request.requestUnion = .createRequest(create)
        return request
    }

    @Test(
        "created, events, a progress notification for watchers that asked, a progress answer with watch id -1, cancel")
    func controlMessages() async throws {
        let t = try TemporaryStore()
        let outbox = Outbox()
        let stream = WatchStream(store: t.store, outbox: outbox.continuation)
        stream.handle(create("/a/", progress: true))
        stream.handle(create("/b/"))
        try t.store.put("/a/1", "x")
        stream.sendProgress()
        var progress = Etcdserverpb_WatchRequest()
        progress.requestUnion = .progressRequest(Etcdserverpb_WatchProgressRequest())
        stream.handle(progress)
        var cancel = Etcdserverpb_WatchRequest()
        var cancelRequest = Etcdserverpb_WatchCancelRequest()
        cancelRequest.watchID = 0
        cancel.requestUnion = .cancelRequest(cancelRequest)
        stream.handle(cancel)
        let responses = try await outbox.take(6)
        stream.close()
        let summary = responses.map { r in
            "id=\(r.watchID) rev=\(r.header.revision)" + (r.created ? " created" : "") + (r.canceled ? " canceled" : "")
                + (r.events.isEmpty ? "" : " events=\(r.events.count)")
        }
        #expect(
            summary == [
                "id=0 rev=1 created", "id=1 rev=1 created", "id=0 rev=2 events=1",
                "id=0 rev=2", "id=-1 rev=2", "id=0 rev=2 canceled",
            ])
    }

    @Test(
        "a watch from a compacted revision is created, then cancelled with the compaction revision; a duplicate id is refused"
    )
    func compactedAndDuplicate() async throws {
        let t = try TemporaryStore()
        for i in 1...3 { try t.store.put("/k", "\(i)") }
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = 3
        _ = try t.store.compact(compact)
        let outbox = Outbox()
        let stream = WatchStream(store: t.store, outbox: outbox.continuation)
        stream.handle(create("/", start: 2, id: 7))
        stream.handle(create("/", id: 8))
        stream.handle(create("/", id: 8))
        let responses = try await outbox.take(4)
        stream.close()
        #expect(responses.count == 4)
        #expect(responses[0].created && responses[0].watchID == 7)
        #expect(
            responses[1].canceled && responses[1].compactRevision == 3
                && responses[1].cancelReason == "mvcc: required revision has been compacted")
        #expect(responses[2].created && responses[2].watchID == 8)
        #expect(responses[3].canceled && responses[3].cancelReason.contains("duplicate watch ID"))
    }
}
