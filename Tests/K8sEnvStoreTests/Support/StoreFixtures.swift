import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Synchronization
import Testing

/// A store in a fresh temporary folder, removed on every path.
final class TemporaryStore: Sendable {
    private let temporary: TemporaryFolder
    var folder: String { temporary.path }
    let store: KeyValueStore

    init() throws {
        temporary = try TemporaryFolder()
        store = try KeyValueStore(path: temporary.path + "/state.db")
    }
}

func bytes(_ s: String) -> Data { Data(s.utf8) }
func text(_ d: Data) -> String { String(decoding: d, as: UTF8.self) }

extension KeyValueStore {
    @discardableResult
    func put(_ key: String, _ value: String, lease: Int64 = 0) throws -> Int64 {
        var r = Etcdserverpb_PutRequest()
        r.key = bytes(key)
        r.value = bytes(value)
        r.lease = lease
        return try put(r).header.revision
    }

    func get(_ key: String, revision: Int64 = 0) throws -> String? {
        var r = Etcdserverpb_RangeRequest()
        r.key = bytes(key)
        r.revision = revision
        return try range(r).kvs.first.map { text($0.value) }
    }

    func list(_ prefix: String, limit: Int64 = 0, revision: Int64 = 0) throws -> Etcdserverpb_RangeResponse {
        var r = Etcdserverpb_RangeRequest()
        r.key = bytes(prefix)
        r.rangeEnd = KeyRange.prefixEnd(bytes(prefix)) ?? Data([0])
        r.limit = limit
        r.revision = revision
        return try range(r)
    }

    func delete(_ key: String) throws {
        var r = Etcdserverpb_DeleteRangeRequest()
        r.key = bytes(key)
        _ = try deleteRange(r)
    }
}

/// The transactions kube-apiserver v1.20 sends (k8s.io/apiserver/pkg/storage/etcd3/store.go).
enum APIServerTxn {
    static func compare(_ key: String, modRevision: Int64) -> Etcdserverpb_Compare {
        var c = Etcdserverpb_Compare()
        c.key = bytes(key)
        c.target = .mod
        c.result = .equal
        c.modRevision = modRevision
        return c
    }

    static func put(_ key: String, _ value: String) -> Etcdserverpb_RequestOp {
        var p = Etcdserverpb_PutRequest()
        p.key = bytes(key)
        p.value = bytes(value)
        var op = Etcdserverpb_RequestOp()
        op.request = .requestPut(p)
        return op
    }

    static func get(_ key: String) -> Etcdserverpb_RequestOp {
        var g = Etcdserverpb_RangeRequest()
        g.key = bytes(key)
        var op = Etcdserverpb_RequestOp()
        op.request = .requestRange(g)
        return op
    }

    static func delete(_ key: String) -> Etcdserverpb_RequestOp {
        var d = Etcdserverpb_DeleteRangeRequest()
        d.key = bytes(key)
        d.prevKv = true
        var op = Etcdserverpb_RequestOp()
        op.request = .requestDeleteRange(d)
        return op
    }

    /// Create: If(mod_revision(key) == 0) Then(Put).
    static func create(_ key: String, _ value: String) -> Etcdserverpb_TxnRequest {
        var t = Etcdserverpb_TxnRequest()
        t.compare = [compare(key, modRevision: 0)]
        t.success = [put(key, value)]
        return t
    }

    /// Update: If(mod_revision(key) == rev) Then(Put) Else(Get).
    static func update(_ key: String, _ value: String, revision: Int64) -> Etcdserverpb_TxnRequest {
        var t = Etcdserverpb_TxnRequest()
        t.compare = [compare(key, modRevision: revision)]
        t.success = [put(key, value)]
        t.failure = [get(key)]
        return t
    }

    /// Delete: If(mod_revision(key) == rev) Then(Delete) Else(Get).
    static func delete(_ key: String, revision: Int64) -> Etcdserverpb_TxnRequest {
        var t = Etcdserverpb_TxnRequest()
        t.compare = [compare(key, modRevision: revision)]
        t.success = [delete(key)]
        t.failure = [get(key)]
        return t
    }

    /// The compactor: If(version("compact_rev_key") == v) Then(Put) Else(Get).
    static func compactor(version: Int64) -> Etcdserverpb_TxnRequest {
        var c = Etcdserverpb_Compare()
        c.key = bytes("compact_rev_key")
        c.target = .version
        c.result = .equal
        c.version = version
        var t = Etcdserverpb_TxnRequest()
        t.compare = [c]
        t.success = [put("compact_rev_key", "")]
        t.failure = [get("compact_rev_key")]
        return t
    }
}

/// Collects what a watcher is sent.
final class Collected: Sendable {
    let events = Mutex<[Mvccpb_Event]>([])
    var all: [Mvccpb_Event] { events.withLock { $0 } }
    var summary: [String] {
        all.map {
            "\($0.type == .put ? "PUT" : "DELETE") \(text($0.kv.key))=\(text($0.kv.value))@\($0.kv.modRevision)"
                + ($0.hasPrevKv ? " prev=\(text($0.prevKv.value))" : "")
        }
    }
}
