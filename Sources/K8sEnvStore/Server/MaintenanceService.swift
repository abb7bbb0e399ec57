import GRPCCore

/// etcd's Maintenance service: Status (version, database size), and no-ops where a single
/// SQLite member has nothing to do (alarms, defragmentation).
struct MaintenanceService: Etcdserverpb_Maintenance.SimpleServiceProtocol {
    let store: KeyValueStore

    func status(request: Etcdserverpb_StatusRequest, context: ServerContext) async throws -> Etcdserverpb_StatusResponse
    {
        let size = try serving { () throws(StoreError) in try store.size() }
        var response = Etcdserverpb_StatusResponse()
        response.header = store.header()
        response.version = KeyValueStore.etcdVersion
        response.dbSize = size.total
        response.dbSizeInUse = size.inUse
        response.leader = KeyValueStore.memberID
        response.raftIndex = UInt64(response.header.revision)
        response.raftAppliedIndex = UInt64(response.header.revision)
        response.raftTerm = 1
        return response
    }

    func alarm(request: Etcdserverpb_AlarmRequest, context: ServerContext) async throws -> Etcdserverpb_AlarmResponse {
        var response = Etcdserverpb_AlarmResponse()
        response.header = store.header()
        return response
    }

    func defragment(request: Etcdserverpb_DefragmentRequest, context: ServerContext) async throws
        -> Etcdserverpb_DefragmentResponse
    {
        var response = Etcdserverpb_DefragmentResponse()
        response.header = store.header()
        return response
    }

    func hash(request: Etcdserverpb_HashRequest, context: ServerContext) async throws -> Etcdserverpb_HashResponse {
        throw StoreError.notCapable("Hash").rpcError
    }

    func hashKV(request: Etcdserverpb_HashKVRequest, context: ServerContext) async throws -> Etcdserverpb_HashKVResponse
    {
        throw StoreError.notCapable("HashKV").rpcError
    }

    func snapshot(
        request: Etcdserverpb_SnapshotRequest, response: RPCWriter<Etcdserverpb_SnapshotResponse>,
        context: ServerContext
    ) async throws {
        throw StoreError.notCapable("Snapshot (copy the SQLite file instead)").rpcError
    }

    func moveLeader(request: Etcdserverpb_MoveLeaderRequest, context: ServerContext) async throws
        -> Etcdserverpb_MoveLeaderResponse
    {
        throw StoreError.notCapable("MoveLeader").rpcError
    }
}
