import Foundation

/// The log-structured key-value store behind the etcd API, on one SQLite connection.
///
/// Every write is a row of `kv` and its row id is the revision; a delete is a tombstone row; each
/// row points at the key's previous row (`prev_revision`), which gives `prev_kv`. Reads at a
/// revision take, per key, the newest row at or below it. Not thread-safe: ``KeyValueStore``
/// owns it behind a lock, which also makes it the single writer.
final class StoreEngine {
    let db: SQLiteDatabase
    private(set) var revision: Int64 = 1
    private(set) var compactRevision: Int64 = 0
    private var leases: [Int64: Lease] = [:]
    private var watchers: [WatcherKey: Watcher] = [:]
    private var nextWatcherKey: Int64 = 1
    /// Events of the transaction in progress; published to watchers when it commits.
    private var pending: [Mvccpb_Event] = []
    private var inTransaction = false

    struct Lease {
        var ttl: Int64
        var expiresAt: ContinuousClock.Instant
    }

    /// One row of the log.
    struct Row {
        var revision: Int64
        var key: Data
        var deleted: Bool
        var createRevision: Int64
        var version: Int64
        var lease: Int64
        var value: Data

        var keyValue: Mvccpb_KeyValue {
            var kv = Mvccpb_KeyValue()
            kv.key = key
            kv.createRevision = createRevision
            kv.modRevision = revision
            kv.version = version
            kv.lease = lease
            kv.value = value
            return kv
        }
    }

    init(path: String, synchronous: Bool) throws(StoreError) {
        do {
            db = try SQLiteDatabase(path: path)
            try db.execute(
                """
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = \(synchronous ? "NORMAL" : "OFF");
                CREATE TABLE IF NOT EXISTS kv (
                    revision INTEGER PRIMARY KEY AUTOINCREMENT,
                    key BLOB NOT NULL,
                    deleted INTEGER NOT NULL,
                    create_revision INTEGER NOT NULL,
                    prev_revision INTEGER NOT NULL,
                    version INTEGER NOT NULL,
                    lease INTEGER NOT NULL,
                    value BLOB NOT NULL
                );
                CREATE INDEX IF NOT EXISTS kv_key_revision ON kv (key, revision);
                CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease != 0;
                CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS lease (id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL);
                """)
            // An empty store is at revision 1, as etcd's is; the first write makes revision 2.
            try db.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'kv', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'kv')"
            )
            revision = try db.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'kv'")
            compactRevision = try db.scalar(
                "SELECT COALESCE((SELECT value FROM meta WHERE name = 'compact_revision'), 0)")
            // Leases restart their time to live when the store opens, as etcd's do.
            let now = ContinuousClock.now
            let s = try db.statement("SELECT id, ttl FROM lease")
            while try s.step() {
                leases[s.int(0)] = Lease(ttl: s.int(1), expiresAt: now.advanced(by: .seconds(s.int(1))))
            }
        } catch {
            throw .storage(error)
        }
    }

    // MARK: Reads

    private static let columns = "revision, key, deleted, create_revision, version, lease, value"

    private func row(_ s: SQLiteStatement, from column: Int32 = 0) -> Row {
        Row(
            revision: s.int(column), key: s.data(column + 1), deleted: s.int(column + 2) != 0,
            createRevision: s.int(column + 3), version: s.int(column + 4), lease: s.int(column + 5),
            value: s.data(column + 6))
    }

    /// The newest row of `key` (live or a tombstone) at or below `revision` (default: now), if
    /// the key was written by then.
    func latest(_ key: Data, at revision: Int64? = nil) throws(StoreError) -> Row? {
        try wrap {
            let s = try db.statement(
                "SELECT \(Self.columns) FROM kv WHERE key = ?1 AND revision <= ?2 ORDER BY revision DESC LIMIT 1")
            s.bind(1, key).bind(2, revision ?? self.revision)
            defer { s.reset() }  // a statement left on a row holds a read transaction open
            return try s.step() ? row(s) : nil
        }
    }

    /// Checks that `revision` (0 = now) can be read, and returns the revision to read at.
    func readable(_ requested: Int64) throws(StoreError) -> Int64 {
        if requested <= 0 { return revision }
        if requested < compactRevision { throw .compacted }
        if requested > revision { throw .futureRevision }
        return requested
    }

    /// The live key-values in `range` at `revision`, in key order, at most `limit` (0 = all).
    func live(_ range: KeyRange, at revision: Int64, limit: Int64) throws(StoreError) -> [Row] {
        if let key = range.singleKey {
            // One key (kube-apiserver's gets and every compare of its transactions): the newest
            // row at or below the revision, straight from the (key, revision) index.
            guard let row = try latest(key, at: revision), !row.deleted else { return [] }
            return [row]
        }
        return try wrap {
            let bound = range.end == nil ? "" : " AND key < ?3"
            let s = try db.statement(
                """
                SELECT kv.revision, kv.key, kv.deleted, kv.create_revision, kv.version, kv.lease, kv.value
                FROM kv JOIN (SELECT MAX(revision) AS r FROM kv WHERE key >= ?1\(bound) AND revision <= ?2 GROUP BY key) m
                ON kv.revision = m.r WHERE kv.deleted = 0 ORDER BY kv.key LIMIT ?4
                """)
            s.bind(1, range.start).bind(2, revision).bind(4, limit > 0 ? limit : -1)
            if let end = range.end { s.bind(3, end) }
            var rows: [Row] = []
            while try s.step() { rows.append(row(s)) }
            return rows
        }
    }

    /// How many live keys `range` holds at `revision`.
    func count(_ range: KeyRange, at revision: Int64) throws(StoreError) -> Int64 {
        try wrap {
            let bound = range.end == nil ? "" : " AND key < ?3"
            let s = try db.statement(
                """
                SELECT COUNT(*) FROM kv JOIN (SELECT MAX(revision) AS r FROM kv WHERE key >= ?1\(bound) AND revision <= ?2 GROUP BY key) m
                ON kv.revision = m.r WHERE kv.deleted = 0
                """)
            s.bind(1, range.start).bind(2, revision)
            if let end = range.end { s.bind(3, end) }
            defer { s.reset() }
            return try s.step() ? s.int(0) : 0
        }
    }

    /// The events in `range` from revision `from` to now, with each event's previous key-value.
    func events(_ range: KeyRange, from: Int64) throws(StoreError) -> [Mvccpb_Event] {
        try wrap {
            let bound = range.end == nil ? "" : " AND kv.key < ?3"
            let s = try db.statement(
                """
                SELECT kv.revision, kv.key, kv.deleted, kv.create_revision, kv.version, kv.lease, kv.value,
                       p.revision, p.key, p.deleted, p.create_revision, p.version, p.lease, p.value
                FROM kv LEFT JOIN kv p ON p.revision = kv.prev_revision
                WHERE kv.revision >= ?2 AND kv.key >= ?1\(bound) ORDER BY kv.revision
                """)
            s.bind(1, range.start).bind(2, from)
            if let end = range.end { s.bind(3, end) }
            var events: [Mvccpb_Event] = []
            while try s.step() {
                let current = row(s)
                let previous = s.isNull(7) ? nil : row(s, from: 7)
                events.append(Self.event(current, previous: previous.flatMap { $0.deleted ? nil : $0 }))
            }
            return events
        }
    }

    private static func event(_ row: Row, previous: Row?) -> Mvccpb_Event {
        var event = Mvccpb_Event()
        if row.deleted {
            event.type = .delete
            var kv = Mvccpb_KeyValue()
            kv.key = row.key
            kv.modRevision = row.revision
            event.kv = kv
        } else {
            event.type = .put
            event.kv = row.keyValue
        }
        if let previous { event.prevKv = previous.keyValue }
        return event
    }

    // MARK: Writes

    /// Runs `body` as one SQLite transaction; its events reach watchers after it commits. On an
    /// error nothing of it stays: the rows roll back and the revision with them.
    func write<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        if inTransaction { return try body() }
        let start = revision
        try wrap { try db.execute("BEGIN IMMEDIATE") }
        inTransaction = true
        defer { inTransaction = false }
        do {
            let result = try body()
            try wrap { try db.execute("COMMIT") }
            let events = pending
            pending = []
            if !events.isEmpty { publish(events) }
            return result
        } catch {
            try? db.execute("ROLLBACK")
            revision = start
            pending = []
            throw error
        }
    }

    /// Appends a put of `key`; returns the new key-value and the previous live one.
    @discardableResult
    func put(_ key: Data, value: Data, lease: Int64) throws(StoreError) -> (Mvccpb_KeyValue, Row?) {
        if lease != 0 && leases[lease] == nil { throw .leaseNotFound }
        let previous = try latest(key)
        let live = previous.flatMap { $0.deleted ? nil : $0 }
        let new = Row(
            revision: revision + 1, key: key, deleted: false,
            createRevision: live?.createRevision ?? revision + 1,
            version: (live?.version ?? 0) + 1, lease: lease, value: value)
        try append(new, previous: previous?.revision ?? 0)
        pending.append(Self.event(new, previous: live))
        return (new.keyValue, live)
    }

    /// Appends a tombstone for the live key `row`.
    func delete(_ row: Row) throws(StoreError) {
        let tombstone = Row(
            revision: revision + 1, key: row.key, deleted: true, createRevision: 0, version: 0,
            lease: 0, value: Data())
        try append(tombstone, previous: row.revision)
        pending.append(Self.event(tombstone, previous: row))
    }

    private func append(_ row: Row, previous: Int64) throws(StoreError) {
        try wrap {
            let s = try db.statement(
                """
                INSERT INTO kv (revision, key, deleted, create_revision, prev_revision, version, lease, value)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """)
            s.bind(1, row.revision).bind(2, row.key).bind(3, row.deleted ? 1 : 0).bind(4, row.createRevision)
                .bind(5, previous).bind(6, row.version).bind(7, row.lease).bind(8, row.value)
            try s.run()
        }
        revision = row.revision
    }

    // MARK: Compaction

    /// Drops history at and below `target`: every row a newer row of its key (at or below
    /// `target`) supersedes, and tombstones. The newest live row of each key stays.
    /// The oldest revision a reset may go back to: compaction keeps what it needs (0: none).
    var retainedRevision: Int64 = 0
    /// The oldest revision a read at a revision may ask for (`k8senv diff`'s baseline): kept
    /// through compactions like ``retainedRevision``, but never moved by a reset (0: none).
    var historyFloor: Int64 = 0

    func compact(_ requested: Int64) throws(StoreError) {
        if requested <= compactRevision { throw .compacted }
        if requested > revision { throw .futureRevision }
        // Below a retained revision the history a reset needs stays; the compaction is done
        // as far as it may go, which the client cannot tell from a whole one.
        let target = [retainedRevision, historyFloor].filter { $0 > 0 }.reduce(requested, min)
        if target <= compactRevision { return }
        try write { () throws(StoreError) in
            try wrap {
                let s = try db.statement(
                    """
                    DELETE FROM kv WHERE revision <= ?1 AND (deleted = 1 OR revision <
                        (SELECT MAX(k.revision) FROM kv k WHERE k.key = kv.key AND k.revision <= ?1))
                    """)
                s.bind(1, target)
                try s.run()
                let m = try db.statement(
                    "INSERT INTO meta (name, value) VALUES ('compact_revision', ?1) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
                )
                m.bind(1, target)
                try m.run()
            }
        }
        compactRevision = target
    }

    // MARK: Reset

    /// Writes, as new revisions, what brings every key back to its state at `target`: a delete
    /// for each key created since, the old value for each key changed or deleted since. Returns
    /// the keys it wrote.
    @discardableResult
    func reset(to target: Int64) throws(StoreError) -> [ResetChange] {
        if target < compactRevision { throw .compacted }
        if target > revision { throw .futureRevision }
        return try write { () throws(StoreError) -> [ResetChange] in
            struct Change {
                var current: Row
                var old: Row?
            }
            let changes: [Change] = try wrap {
                let s = try db.statement(
                    """
                    SELECT c.revision, c.key, c.deleted, c.create_revision, c.version, c.lease, c.value,
                           o.revision, o.key, o.deleted, o.create_revision, o.version, o.lease, o.value
                    FROM (SELECT key, MAX(revision) AS r FROM kv WHERE revision > ?1 GROUP BY key) k
                    JOIN kv c ON c.revision = k.r
                    LEFT JOIN kv o ON o.revision = (SELECT MAX(revision) FROM kv WHERE key = k.key AND revision <= ?1)
                    ORDER BY k.key
                    """)
                s.bind(1, target)
                var changes: [Change] = []
                while try s.step() {
                    let old = s.isNull(7) ? nil : row(s, from: 7)
                    changes.append(Change(current: row(s), old: old.flatMap { $0.deleted ? nil : $0 }))
                }
                return changes
            }
            var written: [ResetChange] = []
            for change in changes {
                switch (change.current.deleted, change.old) {
                case (false, nil):
                    try delete(change.current)
                    written.append(ResetChange(key: change.current.key, deletedValue: change.current.value))
                case (_, let old?):
                    if !change.current.deleted && change.current.value == old.value && change.current.lease == old.lease
                    {
                        continue  // changed and changed back: nothing to undo
                    }
                    let lease = leases[old.lease] == nil ? 0 : old.lease
                    try put(old.key, value: old.value, lease: lease)
                    written.append(ResetChange(key: old.key, deletedValue: nil))
                case (true, nil):
                    continue  // created and deleted since: absent then and now
                }
            }
            return written
        }
    }

    // MARK: Leases

    func grantLease(id requested: Int64, ttl: Int64, now: ContinuousClock.Instant) throws(StoreError) -> (
        id: Int64, ttl: Int64
    ) {
        let ttl = max(ttl, Self.minimumLeaseTTL)
        if ttl > Self.maximumLeaseTTL { throw .leaseTTLTooLarge }
        var id = requested
        if id == 0 {
            repeat { id = Int64.random(in: 1...Int64.max) } while leases[id] != nil
        } else if leases[id] != nil {
            throw .leaseExists
        }
        try wrap {
            let s = try db.statement("INSERT INTO lease (id, ttl) VALUES (?1, ?2)")
            s.bind(1, id).bind(2, ttl)
            try s.run()
        }
        leases[id] = Lease(ttl: ttl, expiresAt: now.advanced(by: .seconds(ttl)))
        return (id, ttl)
    }

    /// etcd's smallest TTL with its default election timeout (1.5 s, rounded up).
    static let minimumLeaseTTL: Int64 = 2
    /// etcd's largest TTL (9,000,000,000 s).
    static let maximumLeaseTTL: Int64 = 9_000_000_000

    func lease(_ id: Int64) -> Lease? { leases[id] }
    var leaseIDs: [Int64] { leases.keys.sorted() }

    /// Renews a lease for its whole TTL; nil when there is no such lease.
    func renewLease(_ id: Int64, now: ContinuousClock.Instant) -> Int64? {
        guard var lease = leases[id] else { return nil }
        lease.expiresAt = now.advanced(by: .seconds(lease.ttl))
        leases[id] = lease
        return lease.ttl
    }

    /// The live keys attached to a lease.
    func keys(ofLease id: Int64) throws(StoreError) -> [Row] {
        try wrap {
            let s = try db.statement(
                """
                SELECT \(Self.columns) FROM kv WHERE lease = ?1 AND deleted = 0
                AND revision = (SELECT MAX(k.revision) FROM kv k WHERE k.key = kv.key) ORDER BY key
                """)
            s.bind(1, id)
            var rows: [Row] = []
            while try s.step() { rows.append(row(s)) }
            return rows
        }
    }

    /// Revokes a lease: its keys are deleted, as ordinary deletes.
    func revokeLease(_ id: Int64) throws(StoreError) {
        guard leases[id] != nil else { throw .leaseNotFound }
        try write { () throws(StoreError) in
            for row in try keys(ofLease: id) { try delete(row) }
            try wrap {
                let s = try db.statement("DELETE FROM lease WHERE id = ?1")
                s.bind(1, id)
                try s.run()
            }
        }
        leases[id] = nil
    }

    /// Revokes every lease whose time ran out; returns their ids.
    func expireLeases(now: ContinuousClock.Instant) throws(StoreError) -> [Int64] {
        let expired = leases.filter { $0.value.expiresAt <= now }.map(\.key).sorted()
        for id in expired { try revokeLease(id) }
        return expired
    }

    // MARK: Watchers

    struct WatcherKey: Hashable { var raw: Int64 }

    struct Watcher {
        var range: KeyRange
        var prevKV: Bool
        var noPut: Bool
        var noDelete: Bool
        /// Called with each batch of matching events, in revision order, under the store's lock:
        /// it must not block (it hands the batch to the watch stream's buffer).
        var send: @Sendable ([Mvccpb_Event], _ revision: Int64) -> Void
        /// Events below this revision are not sent (a watch may start in the future).
        var from: Int64 = 0
    }

    /// Registers a watcher that first receives the events since `from` (if not 0), then every
    /// new one. The caller has checked that `from` is not below the compaction revision.
    func addWatcher(_ watcher: Watcher, from: Int64) throws(StoreError) -> WatcherKey {
        if from > 0 && from <= revision {
            let history = try events(watcher.range, from: from).compactMap { filter($0, for: watcher) }
            if !history.isEmpty { watcher.send(history, revision) }
        }
        let key = WatcherKey(raw: nextWatcherKey)
        nextWatcherKey += 1
        watchers[key] = watcher
        return key
    }

    func removeWatcher(_ key: WatcherKey) {
        watchers[key] = nil
    }

    private func filter(_ event: Mvccpb_Event, for watcher: Watcher) -> Mvccpb_Event? {
        if event.kv.modRevision < watcher.from { return nil }
        if event.type == .put && watcher.noPut { return nil }
        if event.type == .delete && watcher.noDelete { return nil }
        guard watcher.range.contains(event.kv.key) else { return nil }
        if watcher.prevKV { return event }
        var stripped = event
        stripped.clearPrevKv()
        return stripped
    }

    private func publish(_ events: [Mvccpb_Event]) {
        for watcher in watchers.values {
            let matching = events.compactMap { filter($0, for: watcher) }
            if !matching.isEmpty { watcher.send(matching, revision) }
        }
    }

    // MARK: Files

    func copy(to path: String) throws(StoreError) {
        do { try db.copy(to: path) } catch {
            throw StoreError(.internal, error.message)
        }
    }

    func size() throws(StoreError) -> (total: Int64, inUse: Int64) {
        try wrap { try db.size() }
    }

    /// Runs SQLite calls; their errors become the store's.
    private func wrap<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do { return try body() } catch let error as SQLiteError {
            throw .storage(error)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.internal, "etcdserver: \(error)")
        }
    }
}

/// A key a reset wrote: deleted (with the value it had) or given its old value back.
package struct ResetChange: Sendable, Equatable {
    package var key: Data
    /// The value the key had when the reset deleted it; nil when the reset restored a value.
    package var deletedValue: Data?
}
