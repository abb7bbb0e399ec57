import GRPCCore

extension StoreError {
    /// The gRPC status etcd sends for this error, with etcd's message.
    var rpcError: RPCError {
        let code: RPCError.Code =
            switch status {
            case .invalidArgument: .invalidArgument
            case .notFound: .notFound
            case .failedPrecondition: .failedPrecondition
            case .outOfRange: .outOfRange
            case .unimplemented: .unimplemented
            case .internal: .internalError
            }
        return RPCError(code: code, message: message)
    }
}

/// Runs a store call, turning a ``StoreError`` into the gRPC status etcd would send.
func serving<T>(_ body: () throws(StoreError) -> T) throws(RPCError) -> T {
    do { return try body() } catch { throw error.rpcError }
}
