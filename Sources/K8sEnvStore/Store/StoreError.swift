/// An error the store returns to a client. The messages are etcd's own, word for word: the Go
/// etcd client (and so kube-apiserver) recognises errors by their text.
package struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The gRPC status an error travels as.
    package enum Status: Sendable, Equatable {
        case invalidArgument, notFound, failedPrecondition, outOfRange, unimplemented, `internal`
    }

    package var status: Status
    package var message: String
    package var description: String { message }

    package init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    package static let compacted = StoreError(.outOfRange, "etcdserver: mvcc: required revision has been compacted")
    package static let futureRevision = StoreError(
        .outOfRange, "etcdserver: mvcc: required revision is a future revision")
    package static let leaseNotFound = StoreError(.notFound, "etcdserver: requested lease not found")
    package static let leaseExists = StoreError(.failedPrecondition, "etcdserver: lease already exists")
    package static let leaseTTLTooLarge = StoreError(.outOfRange, "etcdserver: too large lease TTL")
    package static let keyNotFound = StoreError(.invalidArgument, "etcdserver: key not found")
    package static let emptyKey = StoreError(.invalidArgument, "etcdserver: key is not provided")
    package static let duplicateKey = StoreError(.invalidArgument, "etcdserver: duplicate key given in txn request")
    package static let tooManyOperations = StoreError(
        .invalidArgument, "etcdserver: too many operations in txn request")
    package static let requestTooLarge = StoreError(.invalidArgument, "etcdserver: request is too large")
    package static func notCapable(_ what: String) -> StoreError {
        StoreError(.unimplemented, "etcdserver: \(what) is not supported by the k8senv store")
    }

    static func storage(_ error: SQLiteError) -> StoreError {
        StoreError(.internal, "etcdserver: storage failure: \(error.message)")
    }
}
