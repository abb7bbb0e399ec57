import GRPCCore

/// etcd's KV service: Range, Put, DeleteRange, Txn, Compact.
struct KVService: Etcdserverpb_KV.SimpleServiceProtocol {
    let store: KeyValueStore

    func range(request: Etcdserverpb_RangeRequest, context: ServerContext) async throws -> Etcdserverpb_RangeResponse {
        try serving { () throws(StoreError) in try store.range(request) }
    }

    func put(request: Etcdserverpb_PutRequest, context: ServerContext) async throws -> Etcdserverpb_PutResponse {
        if request.key.count + request.value.count > KeyValueStore.maximumRequestBytes {
            throw StoreError.requestTooLarge.rpcError
        }
        return try serving { () throws(StoreError) in try store.put(request) }
    }

    func deleteRange(request: Etcdserverpb_DeleteRangeRequest, context: ServerContext) async throws
        -> Etcdserverpb_DeleteRangeResponse
    {
        try serving { () throws(StoreError) in try store.deleteRange(request) }
    }

    func txn(request: Etcdserverpb_TxnRequest, context: ServerContext) async throws -> Etcdserverpb_TxnResponse {
        try serving { () throws(StoreError) in try store.txn(request) }
    }

    func compact(request: Etcdserverpb_CompactionRequest, context: ServerContext) async throws
        -> Etcdserverpb_CompactionResponse
    {
        try serving { () throws(StoreError) in try store.compact(request) }
    }
}
