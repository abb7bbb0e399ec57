import Foundation
import Synchronization

/// The etcd v3 key-value semantics over ``StoreEngine``: Range, Put, DeleteRange, Txn, Compact,
/// leases, watchers and reset. Thread-safe: one lock serialises every call, so there is one
/// writer and reads see whole transactions.
package final class KeyValueStore: Sendable {
    private let engine: Mutex<StoreEngine>
    package let path: String
    package static let clusterID: UInt64 = 0x6b38_7365_6e76_0001  // "k8senv" and 1
    package static let memberID: UInt64 = 0x6b38_7365_6e76_0002
    /// The etcd version the store reports; the API it serves is etcd v3.4's.
    package static let etcdVersion = "3.4.13"
    /// etcd's limit on operations in one transaction (`--max-txn-ops`).
    package static let maximumTxnOperations = 128
    /// etcd's limit on a request (`--max-request-bytes`, 1.5 MiB).
    package static let maximumRequestBytes = 1536 * 1024

    /// Opens (or creates) the store in the SQLite file at `path`.
    /// - Parameter synchronous: whether commits wait for the disk (off: a test store trades
    ///   durability across power loss for speed; a crash of the process loses nothing).
    package init(path: String, synchronous: Bool = false) throws(StoreError) {
        self.path = path
        engine = Mutex(try StoreEngine(path: path, synchronous: synchronous))
        var status = stat()
        identity = stat(path, &status) == 0 ? (UInt64(status.st_dev), UInt64(status.st_ino)) : nil
    }

    /// Device and inode of the database file when the store opened it (nil in memory).
    private let identity: (device: UInt64, inode: UInt64)?

    /// Nil while `path` is still the file the store opened; otherwise what became of it.
    package func fileProblem() -> String? {
        guard let identity else { return nil }
        var status = stat()
        guard stat(path, &status) == 0 else {
            return "its database file \(path) was removed while it served (\(String(cString: strerror(errno))))"
        }
        if UInt64(status.st_dev) != identity.device || UInt64(status.st_ino) != identity.inode {
            return "its database file \(path) was replaced while it served"
        }
        return nil
    }

    package var revision: Int64 { engine.withLock { $0.revision } }
    package var compactRevision: Int64 { engine.withLock { $0.compactRevision } }

    /// The header of a response: this member and cluster, at `revision` (default: now).
    package func header(revision: Int64? = nil) -> Etcdserverpb_ResponseHeader {
        Self.header(revision ?? self.revision)
    }

    private static func header(_ revision: Int64) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = clusterID
        header.memberID = memberID
        header.revision = revision
        header.raftTerm = 1
        return header
    }

    // MARK: KV

    package func range(_ request: Etcdserverpb_RangeRequest) throws(StoreError) -> Etcdserverpb_RangeResponse {
        try engine.withLock { engine throws(StoreError) in try Self.range(request, engine) }
    }

    package func put(_ request: Etcdserverpb_PutRequest) throws(StoreError) -> Etcdserverpb_PutResponse {
        try engine.withLock { engine throws(StoreError) in
            try engine.write { () throws(StoreError) in try Self.put(request, engine) }
        }
    }

    package func deleteRange(_ request: Etcdserverpb_DeleteRangeRequest) throws(StoreError)
        -> Etcdserverpb_DeleteRangeResponse
    {
        try engine.withLock { engine throws(StoreError) in
            try engine.write { () throws(StoreError) in try Self.deleteRange(request, engine) }
        }
    }

    package func txn(_ request: Etcdserverpb_TxnRequest) throws(StoreError) -> Etcdserverpb_TxnResponse {
        try Self.checkTxn(request)
        return try engine.withLock { engine throws(StoreError) in
            try engine.write { () throws(StoreError) in try Self.txn(request, engine) }
        }
    }

    package func compact(_ request: Etcdserverpb_CompactionRequest) throws(StoreError)
        -> Etcdserverpb_CompactionResponse
    {
        try engine.withLock { engine throws(StoreError) in
            try engine.compact(request.revision)
            var response = Etcdserverpb_CompactionResponse()
            response.header = Self.header(engine.revision)
            return response
        }
    }

    private static func range(_ request: Etcdserverpb_RangeRequest, _ engine: StoreEngine) throws(StoreError)
        -> Etcdserverpb_RangeResponse
    {
        if request.key.isEmpty { throw .emptyKey }
        let at = try engine.readable(request.revision)
        let range = KeyRange(key: request.key, rangeEnd: request.rangeEnd)
        var response = Etcdserverpb_RangeResponse()
        response.header = header(engine.revision)
        let filtered =
            request.minModRevision != 0 || request.maxModRevision != 0
            || request.minCreateRevision != 0 || request.maxCreateRevision != 0
        let sorted = request.sortOrder != .none && !(request.sortTarget == .key && request.sortOrder == .ascend)
        if request.countOnly && !filtered {
            response.count = try engine.count(range, at: at)
            return response
        }
        // With filters or a sort, etcd applies the limit after them; so do we.
        let fetchLimit = (filtered || sorted || request.limit <= 0) ? 0 : request.limit + 1
        var rows = try engine.live(range, at: at, limit: fetchLimit)
        if filtered {
            rows = rows.filter { row in
                (request.minModRevision == 0 || row.revision >= request.minModRevision)
                    && (request.maxModRevision == 0 || row.revision <= request.maxModRevision)
                    && (request.minCreateRevision == 0 || row.createRevision >= request.minCreateRevision)
                    && (request.maxCreateRevision == 0 || row.createRevision <= request.maxCreateRevision)
            }
        }
        if sorted { sort(&rows, by: request.sortTarget, descending: request.sortOrder == .descend) }
        // The total is what was fetched, unless a limit cut the fetch short: then count it.
        let cut = fetchLimit > 0 && Int64(rows.count) > request.limit
        response.count = cut ? try engine.count(range, at: at) : Int64(rows.count)
        if request.countOnly { return response }
        if request.limit > 0 && Int64(rows.count) > request.limit {
            rows.removeLast(rows.count - Int(request.limit))
            response.more = true
        }
        response.kvs = rows.map { row in
            var kv = row.keyValue
            if request.keysOnly { kv.value = Data() }
            return kv
        }
        return response
    }

    private static func sort(
        _ rows: inout [StoreEngine.Row], by target: Etcdserverpb_RangeRequest.SortTarget, descending: Bool
    ) {
        func less(_ a: StoreEngine.Row, _ b: StoreEngine.Row) -> Bool {
            switch target {
            case .version: a.version < b.version
            case .create: a.createRevision < b.createRevision
            case .mod: a.revision < b.revision
            case .value: a.value.lexicographicallyPrecedes(b.value)
            default: a.key.lexicographicallyPrecedes(b.key)
            }
        }
        rows.sort { descending ? less($1, $0) : less($0, $1) }
    }

    private static func put(_ request: Etcdserverpb_PutRequest, _ engine: StoreEngine) throws(StoreError)
        -> Etcdserverpb_PutResponse
    {
        if request.key.isEmpty { throw .emptyKey }
        var value = request.value
        var lease = request.lease
        if request.ignoreValue || request.ignoreLease {
            guard let current = try engine.latest(request.key), !current.deleted else { throw .keyNotFound }
            if request.ignoreValue { value = current.value }
            if request.ignoreLease { lease = current.lease }
        }
        let (_, previous) = try engine.put(request.key, value: value, lease: lease)
        var response = Etcdserverpb_PutResponse()
        response.header = header(engine.revision)
        if request.prevKv, let previous { response.prevKv = previous.keyValue }
        return response
    }

    private static func deleteRange(_ request: Etcdserverpb_DeleteRangeRequest, _ engine: StoreEngine)
        throws(StoreError) -> Etcdserverpb_DeleteRangeResponse
    {
        if request.key.isEmpty { throw .emptyKey }
        let rows = try engine.live(
            KeyRange(key: request.key, rangeEnd: request.rangeEnd), at: engine.revision, limit: 0)
        for row in rows { try engine.delete(row) }
        var response = Etcdserverpb_DeleteRangeResponse()
        response.header = header(engine.revision)
        response.deleted = Int64(rows.count)
        if request.prevKv { response.prevKvs = rows.map(\.keyValue) }
        return response
    }

    private static func txn(_ request: Etcdserverpb_TxnRequest, _ engine: StoreEngine) throws(StoreError)
        -> Etcdserverpb_TxnResponse
    {
        var succeeded = true
        for compare in request.compare where !(try holds(compare, engine)) {
            succeeded = false
            break
        }
        var responses: [Etcdserverpb_ResponseOp] = []
        for op in succeeded ? request.success : request.failure {
            var response = Etcdserverpb_ResponseOp()
            switch op.request {
            case .requestRange(let r)?: response.response = .responseRange(try range(r, engine))
            case .requestPut(let r)?: response.response = .responsePut(try put(r, engine))
            case .requestDeleteRange(let r)?: response.response = .responseDeleteRange(try deleteRange(r, engine))
            case .requestTxn(let r)?: response.response = .responseTxn(try txn(r, engine))
            case nil: break
            }
            responses.append(response)
        }
        var response = Etcdserverpb_TxnResponse()
        response.header = header(engine.revision)
        response.succeeded = succeeded
        response.responses = responses
        return response
    }

    private static func holds(_ compare: Etcdserverpb_Compare, _ engine: StoreEngine) throws(StoreError) -> Bool {
        let rows = try engine.live(
            KeyRange(key: compare.key, rangeEnd: compare.rangeEnd), at: engine.revision, limit: 0)
        if rows.isEmpty {
            // A missing key has version, revisions and lease 0; its value compares false.
            if compare.target == .value { return false }
            return holds(compare, against: nil)
        }
        return rows.allSatisfy { holds(compare, against: $0) }
    }

    private static func holds(_ compare: Etcdserverpb_Compare, against row: StoreEngine.Row?) -> Bool {
        let order: Int
        switch compare.target {
        case .value:
            let a = row?.value ?? Data()
            let b = compare.value
            order = a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
        case .version: order = cmp(row?.version ?? 0, compare.version)
        case .create: order = cmp(row?.createRevision ?? 0, compare.createRevision)
        case .mod: order = cmp(row?.revision ?? 0, compare.modRevision)
        case .lease: order = cmp(row?.lease ?? 0, compare.lease)
        case .UNRECOGNIZED: return false
        }
        switch compare.result {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .greater: return order > 0
        case .less: return order < 0
        case .UNRECOGNIZED: return false
        }
    }

    private static func cmp(_ a: Int64, _ b: Int64) -> Int { a == b ? 0 : (a < b ? -1 : 1) }

    /// etcd's checks before a transaction runs: not too many operations, no key written twice.
    private static func checkTxn(_ request: Etcdserverpb_TxnRequest) throws(StoreError) {
        if request.compare.count > maximumTxnOperations || request.success.count > maximumTxnOperations
            || request.failure.count > maximumTxnOperations
        {
            throw .tooManyOperations
        }
        for ops in [request.success, request.failure] {
            var written = Set<Data>()
            for op in ops {
                if case .requestPut(let put)? = op.request {
                    if !written.insert(put.key).inserted { throw .duplicateKey }
                }
                if case .requestTxn(let inner)? = op.request { try checkTxn(inner) }
            }
        }
    }

    // MARK: Leases

    package func grantLease(id: Int64, ttl: Int64) throws(StoreError) -> (id: Int64, ttl: Int64) {
        try engine.withLock { engine throws(StoreError) in try engine.grantLease(id: id, ttl: ttl, now: .now) }
    }

    package func revokeLease(_ id: Int64) throws(StoreError) {
        try engine.withLock { engine throws(StoreError) in try engine.revokeLease(id) }
    }

    /// Renews a lease; its TTL, or nil when there is no such lease.
    package func renewLease(_ id: Int64) -> Int64? {
        engine.withLock { $0.renewLease(id, now: .now) }
    }

    /// Remaining seconds, granted TTL and (if asked) keys of a lease; nil when there is none.
    package func leaseTimeToLive(_ id: Int64, keys: Bool) throws(StoreError) -> (
        remaining: Int64, granted: Int64, keys: [Data]
    )? {
        try engine.withLock { engine throws(StoreError) in
            guard let lease = engine.lease(id) else { return nil }
            let left = ContinuousClock.now.duration(to: lease.expiresAt).components.seconds
            return (max(0, left), lease.ttl, keys ? try engine.keys(ofLease: id).map(\.key) : [])
        }
    }

    package var leaseIDs: [Int64] { engine.withLock { $0.leaseIDs } }

    /// Revokes the leases whose time ran out; returns their ids.
    @discardableResult
    package func expireLeases() throws(StoreError) -> [Int64] {
        try engine.withLock { engine throws(StoreError) in try engine.expireLeases(now: .now) }
    }

    // MARK: Watch

    package struct WatchRegistration: Sendable {
        fileprivate var key: StoreEngine.WatcherKey
    }

    /// Registers a watcher on `range`. `before` runs under the lock first (to send "created"
    /// ahead of any event); `send` then gets the history since `from` (if not 0) and every new
    /// batch. Throws `compacted` if `from` is below the compaction revision.
    package func watch(
        _ range: KeyRange, from: Int64, prevKV: Bool, noPut: Bool = false, noDelete: Bool = false,
        before: (Int64) -> Void = { _ in },
        send: @escaping @Sendable ([Mvccpb_Event], _ revision: Int64) -> Void
    ) throws(StoreError) -> WatchRegistration {
        try engine.withLock { engine throws(StoreError) in
            if from > 0 && from < engine.compactRevision { throw .compacted }
            before(engine.revision)
            let watcher = StoreEngine.Watcher(
                range: range, prevKV: prevKV, noPut: noPut, noDelete: noDelete, send: send, from: from)
            return WatchRegistration(key: try engine.addWatcher(watcher, from: from))
        }
    }

    package func cancelWatch(_ registration: WatchRegistration) {
        engine.withLock { $0.removeWatcher(registration.key) }
    }

    // MARK: Reset and files

    /// Brings every key back to its state at `revision`, as new revisions that watchers see as
    /// ordinary puts and deletes. Returns the keys it wrote.
    @discardableResult
    package func reset(to revision: Int64) throws(StoreError) -> [ResetChange] {
        try engine.withLock { engine throws(StoreError) in try engine.reset(to: revision) }
    }

    /// The modification revisions of the live keys created after `revision`: what an API
    /// server reports as the `resourceVersion` of each object created since (every write of
    /// kube-apiserver is a revision of one key).
    package func revisionsOfKeys(createdAfter revision: Int64) throws(StoreError) -> Set<Int64> {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data([0])
        request.rangeEnd = Data([0])  // every key
        request.keysOnly = true
        request.minCreateRevision = revision + 1
        return Set(try range(request).kvs.map(\.modRevision))
    }

    /// Keeps the history from `revision` on through compactions, so a reset to it stays
    /// possible (0: no such floor).
    package func retain(revision: Int64) {
        engine.withLock { $0.retainedRevision = revision }
    }

    /// Keeps the history from `revision` on through compactions for as long as the store runs,
    /// whatever ``retain(revision:)`` says later: reads at `revision` (a list with
    /// `resourceVersionMatch=Exact`) stay possible. What it costs: the rows written since stay
    /// on disk until the store stops.
    package func keepHistory(from revision: Int64) {
        engine.withLock { $0.historyFloor = revision }
    }

    /// Writes a consistent copy of the whole store to a new file at `path`.
    package func copy(to path: String) throws(StoreError) {
        try engine.withLock { engine throws(StoreError) in try engine.copy(to: path) }
    }

    package func size() throws(StoreError) -> (total: Int64, inUse: Int64) {
        try engine.withLock { engine throws(StoreError) in try engine.size() }
    }
}
