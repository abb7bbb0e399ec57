import GRPCCore

/// etcd's Lease service. Expiry itself runs in ``StoreServer``.
struct LeaseService: Etcdserverpb_Lease.SimpleServiceProtocol {
    let store: KeyValueStore

    func leaseGrant(request: Etcdserverpb_LeaseGrantRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseGrantResponse
    {
        let granted = try serving { () throws(StoreError) in try store.grantLease(id: request.id, ttl: request.ttl) }
        var response = Etcdserverpb_LeaseGrantResponse()
        response.header = store.header()
        response.id = granted.id
        response.ttl = granted.ttl
        return response
    }

    func leaseRevoke(request: Etcdserverpb_LeaseRevokeRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseRevokeResponse
    {
        try serving { () throws(StoreError) in try store.revokeLease(request.id) }
        var response = Etcdserverpb_LeaseRevokeResponse()
        response.header = store.header()
        return response
    }

    func leaseKeepAlive(
        request: RPCAsyncSequence<Etcdserverpb_LeaseKeepAliveRequest, any Error>,
        response: RPCWriter<Etcdserverpb_LeaseKeepAliveResponse>,
        context: ServerContext
    ) async throws {
        for try await keepAlive in request {
            var reply = Etcdserverpb_LeaseKeepAliveResponse()
            reply.id = keepAlive.id
            reply.ttl = store.renewLease(keepAlive.id) ?? 0  // etcd answers TTL 0 for an unknown lease
            reply.header = store.header()
            try await response.write(reply)
        }
    }

    func leaseTimeToLive(request: Etcdserverpb_LeaseTimeToLiveRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseTimeToLiveResponse
    {
        var response = Etcdserverpb_LeaseTimeToLiveResponse()
        response.header = store.header()
        response.id = request.id
        let lease = try serving { () throws(StoreError) in try store.leaseTimeToLive(request.id, keys: request.keys) }
        if let lease {
            response.ttl = lease.remaining
            response.grantedTtl = lease.granted
            response.keys = lease.keys
        } else {
            response.ttl = -1  // etcd's answer for a lease that does not exist
        }
        return response
    }

    func leaseLeases(request: Etcdserverpb_LeaseLeasesRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseLeasesResponse
    {
        var response = Etcdserverpb_LeaseLeasesResponse()
        response.header = store.header()
        response.leases = store.leaseIDs.map { id in
            var status = Etcdserverpb_LeaseStatus()
            status.id = id
            return status
        }
        return response
    }
}
