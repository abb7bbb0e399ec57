import GRPCCore
import Synchronization

/// etcd's Cluster service for a cluster of one member. Membership cannot change.
struct ClusterService: Etcdserverpb_Cluster.SimpleServiceProtocol {
    let store: KeyValueStore
    let name: String
    /// The client URL, known once the server has bound its port.
    let endpoint: Endpoint

    func memberList(request: Etcdserverpb_MemberListRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberListResponse
    {
        var member = Etcdserverpb_Member()
        member.id = KeyValueStore.memberID
        member.name = name
        let url = endpoint.url.withLock { $0 }
        member.clientUrls = [url]
        member.peerUrls = [url]
        var response = Etcdserverpb_MemberListResponse()
        response.header = store.header()
        response.members = [member]
        return response
    }

    func memberAdd(request: Etcdserverpb_MemberAddRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberAddResponse
    {
        throw StoreError.notCapable("adding members").rpcError
    }

    func memberRemove(request: Etcdserverpb_MemberRemoveRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberRemoveResponse
    {
        throw StoreError.notCapable("removing members").rpcError
    }

    func memberUpdate(request: Etcdserverpb_MemberUpdateRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberUpdateResponse
    {
        throw StoreError.notCapable("updating members").rpcError
    }

    func memberPromote(request: Etcdserverpb_MemberPromoteRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberPromoteResponse
    {
        throw StoreError.notCapable("promoting members").rpcError
    }
}

/// The server's client URL, set once its port is bound.
final class Endpoint: Sendable {
    let url = Mutex("")
}
