import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Synchronization
import Testing

@Suite("The store's etcd semantics", .tags(.fast))
struct KeyValueStoreTests {
    @Test(
        "issue 25: the store's file, its WAL and a VACUUM INTO copy are 0600 whatever the umask (a store holds the seeds' Secrets)"
    )
    func privateFiles() throws {
        let old = umask(0o022)
        defer { umask(old) }
        let t = try TemporaryStore()
        try t.store.put("/a", "secret")
        try t.store.copy(to: t.folder + "/copy.db")
        for name in ["state.db", "state.db-wal", "copy.db"] {
            var info = stat()
            #expect(
                stat(t.folder + "/" + name, &info) == 0 && info.st_mode & 0o777 == 0o600,
                "\(name): \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    @Test("an empty store is at revision 1; each write adds one; reads at a past revision see the past")
    func revisions() throws {
        let t = try TemporaryStore()
        #expect(t.store.revision == 1)
        #expect(try t.store.put("/a", "1") == 2)
        #expect(try t.store.put("/a", "2") == 3)
        #expect(try t.store.get("/a") == "2")
        #expect(try t.store.get("/a", revision: 2) == "1")
        try t.store.delete("/a")
        #expect(try t.store.get("/a") == nil)
        #expect(try t.store.get("/a", revision: 3) == "2")
        #expect(throws: StoreError.futureRevision) { try t.store.get("/a", revision: 99) }
    }

    @Test(
        "a list with a limit says there is more and counts the whole range; continuing from a key at the same revision")
    func pagination() throws {
        let t = try TemporaryStore()
        for i in 1...5 { try t.store.put("/registry/cm/\(i)", "v\(i)") }
        try t.store.put("/registry/other", "x")
        let first = try t.store.list("/registry/cm/", limit: 2)
        #expect(first.kvs.map { text($0.key) } == ["/registry/cm/1", "/registry/cm/2"])
        #expect(first.more)
        #expect(first.count == 5)
        try t.store.put("/registry/cm/6", "late")  // after the first page: not in the continued list
        var next = Etcdserverpb_RangeRequest()
        next.key = bytes("/registry/cm/2\0")
        next.rangeEnd = KeyRange.prefixEnd(bytes("/registry/cm/"))!
        next.revision = first.header.revision
        let rest = try t.store.range(next)
        #expect(rest.kvs.map { text($0.value) } == ["v3", "v4", "v5"])
        #expect(!rest.more)
        var count = Etcdserverpb_RangeRequest()
        count.key = bytes("/registry/cm/")
        count.rangeEnd = KeyRange.prefixEnd(bytes("/registry/cm/"))!
        count.countOnly = true
        let counted = try t.store.range(count)
        #expect(counted.count == 6 && counted.kvs.isEmpty)
        count.countOnly = false
        count.keysOnly = true
        #expect(try t.store.range(count).kvs.allSatisfy { $0.value.isEmpty })
    }

    @Test("kube-apiserver's create, update and delete transactions succeed once and report the current value otherwise")
    func apiServerTransactions() throws {
        let t = try TemporaryStore()
        let created = try t.store.txn(APIServerTxn.create("/registry/pods/a", "v1"))
        #expect(created.succeeded)
        let revision = created.responses[0].responsePut.header.revision
        #expect(revision == 2)
        #expect(try !t.store.txn(APIServerTxn.create("/registry/pods/a", "again")).succeeded)

        let stale = try t.store.txn(APIServerTxn.update("/registry/pods/a", "v2", revision: 1))
        #expect(!stale.succeeded)
        #expect(stale.responses[0].responseRange.kvs.map { text($0.value) } == ["v1"])
        let updated = try t.store.txn(APIServerTxn.update("/registry/pods/a", "v2", revision: revision))
        #expect(updated.succeeded)
        let kv = try t.store.list("/registry/pods/").kvs[0]
        #expect(kv.version == 2 && kv.createRevision == 2 && kv.modRevision == 3)

        #expect(try !t.store.txn(APIServerTxn.delete("/registry/pods/a", revision: revision)).succeeded)
        let deleted = try t.store.txn(APIServerTxn.delete("/registry/pods/a", revision: 3))
        #expect(deleted.succeeded)
        #expect(deleted.responses[0].responseDeleteRange.prevKvs.map { text($0.value) } == ["v2"])
        #expect(try t.store.get("/registry/pods/a") == nil)
    }

    @Test("the compactor's transaction, then Compact: history below is gone with etcd's error, current values stay")
    func compaction() throws {
        let t = try TemporaryStore()
        #expect(try t.store.txn(APIServerTxn.compactor(version: 0)).succeeded)
        #expect(try !t.store.txn(APIServerTxn.compactor(version: 0)).succeeded)
        try t.store.put("/k", "1")
        try t.store.put("/k", "2")
        try t.store.put("/gone", "x")
        try t.store.delete("/gone")
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = t.store.revision
        _ = try t.store.compact(compact)
        #expect(try t.store.get("/k") == "2")
        #expect(try t.store.get("/gone") == nil)
        let error = #expect(throws: StoreError.self) { try t.store.get("/k", revision: 3) }
        #expect(error?.message == "etcdserver: mvcc: required revision has been compacted")
        #expect(throws: StoreError.compacted) { _ = try t.store.compact(compact) }
    }

    @Test("transactions etcd refuses: an empty key, a key written twice, too many operations")
    func refusedRequests() throws {
        let t = try TemporaryStore()
        #expect(throws: StoreError.emptyKey) { try t.store.put("", "x") }
        var twice = Etcdserverpb_TxnRequest()
        twice.success = [APIServerTxn.put("/a", "1"), APIServerTxn.put("/a", "2")]
        #expect(throws: StoreError.duplicateKey) { _ = try t.store.txn(twice) }
        var many = Etcdserverpb_TxnRequest()
        many.success = (0...128).map { APIServerTxn.put("/k\($0)", "v") }
        #expect(throws: StoreError.tooManyOperations) { _ = try t.store.txn(many) }
        #expect(throws: StoreError.leaseNotFound) { try t.store.put("/a", "1", lease: 42) }
        #expect(t.store.revision == 1, "nothing was written")
    }

    @Test("a watcher gets history from its start revision, with prev_kv, then live events in order")
    func watch() throws {
        let t = try TemporaryStore()
        try t.store.put("/w/a", "1")
        try t.store.put("/w/a", "2")
        try t.store.put("/other", "x")
        let seen = Collected()
        let registration = try t.store.watch(.prefix(bytes("/w/")), from: 2, prevKV: true) { events, _ in
            seen.events.withLock { $0 += events }
        }
        try t.store.delete("/w/a")
        try t.store.put("/w/b", "3")
        t.store.cancelWatch(registration)
        try t.store.put("/w/c", "after cancel")
        #expect(seen.summary == ["PUT /w/a=1@2", "PUT /w/a=2@3 prev=1", "DELETE /w/a=@5 prev=2", "PUT /w/b=3@6"])
    }

    @Test("a watch from a compacted revision fails; one from a future revision starts there")
    func watchBounds() throws {
        let t = try TemporaryStore()
        for i in 1...3 { try t.store.put("/k", "\(i)") }
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = 3
        _ = try t.store.compact(compact)
        #expect(throws: StoreError.compacted) {
            _ = try t.store.watch(.prefix(bytes("/")), from: 2, prevKV: false) { _, _ in }
        }
        let seen = Collected()
        _ = try t.store.watch(.prefix(bytes("/")), from: 7, prevKV: false) { events, _ in
            seen.events.withLock { $0 += events }
        }
        for i in 5...7 { try t.store.put("/k", "\(i)") }
        #expect(seen.summary == ["PUT /k=7@7"])
    }

    @Test("revoking a lease deletes its keys as ordinary deletes")
    func leases() throws {
        let t = try TemporaryStore()
        let lease = try t.store.grantLease(id: 0, ttl: 60)
        #expect(lease.ttl == 60)
        try t.store.put("/events/a", "e", lease: lease.id)
        try t.store.put("/kept", "k")
        #expect(try t.store.leaseTimeToLive(lease.id, keys: true)?.keys.map(text) == ["/events/a"])
        let seen = Collected()
        _ = try t.store.watch(.prefix(bytes("/")), from: 0, prevKV: false) { events, _ in
            seen.events.withLock { $0 += events }
        }
        try t.store.revokeLease(lease.id)
        #expect(try t.store.get("/events/a") == nil)
        #expect(try t.store.get("/kept") == "k")
        #expect(seen.summary == ["DELETE /events/a=@4"])
        #expect(try t.store.leaseTimeToLive(lease.id, keys: false) == nil)
        #expect(throws: StoreError.leaseNotFound) { try t.store.revokeLease(lease.id) }
        #expect(throws: StoreError.leaseExists) {
            let again = try t.store.grantLease(id: 7, ttl: 5)
            _ = try t.store.grantLease(id: again.id, ttl: 5)
        }
    }

    @Test(
        "reset to a revision deletes what was created since, restores what was changed or deleted, and watchers see it")
    func reset() throws {
        let t = try TemporaryStore()
        try t.store.put("/seeded/changed", "seed")
        try t.store.put("/seeded/deleted", "seed")
        try t.store.put("/seeded/same", "seed")
        try t.store.put("/seeded/flipped", "seed")
        let snapshot = t.store.revision
        let seen = Collected()
        _ = try t.store.watch(.prefix(bytes("/")), from: 0, prevKV: true) { events, _ in
            seen.events.withLock { $0 += events }
        }
        try t.store.put("/seeded/changed", "edited")
        try t.store.delete("/seeded/deleted")
        try t.store.put("/new/a", "created")
        try t.store.put("/new/b", "created")
        try t.store.delete("/new/b")
        try t.store.put("/seeded/flipped", "other")
        try t.store.put("/seeded/flipped", "seed")
        seen.events.withLock { $0.removeAll() }

        #expect(
            try t.store.reset(to: snapshot).map { text($0.key) } == ["/new/a", "/seeded/changed", "/seeded/deleted"])
        let now = try t.store.list("/")
        #expect(
            now.kvs.map { "\(text($0.key))=\(text($0.value))" }
                == ["/seeded/changed=seed", "/seeded/deleted=seed", "/seeded/flipped=seed", "/seeded/same=seed"])
        #expect(
            seen.summary.sorted()
                == [
                    "DELETE /new/a=@13 prev=created", "PUT /seeded/changed=seed@14 prev=edited",
                    "PUT /seeded/deleted=seed@15",
                ].sorted())
        #expect(try t.store.reset(to: t.store.revision).isEmpty)
        #expect(throws: StoreError.futureRevision) { try t.store.reset(to: 999) }
    }

    @Test("compaction keeps the history a reset to a retained revision needs")
    func retainedRevision() throws {
        let t = try TemporaryStore()
        try t.store.put("/seed", "v1")
        let snapshot = t.store.revision
        t.store.retain(revision: snapshot)
        try t.store.put("/seed", "changed")
        try t.store.put("/new", "x")
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = t.store.revision
        _ = try t.store.compact(compact)
        #expect(t.store.compactRevision == snapshot)
        try t.store.reset(to: snapshot)
        #expect(try t.store.list("/").kvs.map { "\(text($0.key))=\(text($0.value))" } == ["/seed=v1"])
    }

    @Test("a history floor survives compactions and resets that move the retained revision: a read at it still answers")
    func historyFloor() throws {
        let t = try TemporaryStore()
        try t.store.put("/seed", "v1")
        let baseline = t.store.revision
        t.store.keepHistory(from: baseline)
        t.store.retain(revision: baseline)
        try t.store.put("/seed", "changed")
        try t.store.reset(to: baseline)
        t.store.retain(revision: t.store.revision)  // as a pool's reset moves its mark
        try t.store.put("/seed", "again")
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = t.store.revision
        _ = try t.store.compact(compact)
        #expect(t.store.compactRevision == baseline)
        #expect(try t.store.get("/seed", revision: baseline) == "v1")
    }

    @Test("the store reopens with its data and revision; a copy holds the same data")
    func persistence() throws {
        let t = try TemporaryStore()
        try t.store.put("/a", "1")
        try t.store.put("/b", "2")
        try t.store.copy(to: t.folder + "/copy.db")
        try t.store.put("/c", "after the copy")
        let reopened = try KeyValueStore(path: t.folder + "/state.db")
        #expect(reopened.revision == 4)
        #expect(try reopened.get("/c") == "after the copy")
        let copy = try KeyValueStore(path: t.folder + "/copy.db")
        #expect(copy.revision == 3)
        #expect(try copy.list("/").kvs.map { text($0.value) } == ["1", "2"])
        #expect(try copy.put("/d", "4") == 4)
    }

    @Test(
        "a copy from a second connection (kine's snapshot) holds what was committed while its owner keeps writing; a missing file is named"
    )
    func copyFromOutside() throws {
        let t = try TemporaryStore()
        for i in 1...50 { try t.store.put("/k/\(i)", "\(i)") }
        try SQLiteCopy.copy(database: t.folder + "/state.db", to: t.folder + "/copy.db")
        try t.store.put("/k/after", "not in the copy")
        let copy = try KeyValueStore(path: t.folder + "/copy.db")
        #expect(copy.revision == 51)
        #expect(try copy.list("/k/").count == 50)
        #expect(try copy.get("/k/after") == nil)
        #expect(try t.store.get("/k/after") == "not in the copy")
        let missing = t.folder + "/nothing.db"
        let error = #expect(throws: StoreError.self) { try SQLiteCopy.copy(database: missing, to: t.folder + "/x.db") }
        #expect(error?.message.contains(missing) == true)
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test("kine's endpoint and listen address flags are read as kine reads them")
    func kineFlags() throws {
        #expect(
            try KineEndpoint.databasePath("sqlite:///tmp/x/state.db?_journal=WAL&cache=shared") == "/tmp/x/state.db")
        #expect(try KineEndpoint.databasePath("sqlite://") == "./db/state.db")
        #expect(throws: StoreError.self) { try KineEndpoint.databasePath("mysql://root@tcp(localhost)/k") }
        #expect(try KineEndpoint.listenAddress("127.0.0.1:2379") == .tcp(host: "127.0.0.1", port: 2379))
        #expect(try KineEndpoint.listenAddress("tcp://0.0.0.0:12379") == .tcp(host: "0.0.0.0", port: 12379))
        #expect(try KineEndpoint.listenAddress("unix:///run/i/kine.sock") == .unix(path: "/run/i/kine.sock"))
        #expect(throws: StoreError.self) { try KineEndpoint.listenAddress("unix://") }
        #expect(throws: StoreError.self) { try KineEndpoint.listenAddress("localhost") }
    }
}
