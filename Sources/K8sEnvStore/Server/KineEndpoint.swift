/// kine's command-line values: the datastore endpoint and the listen address.
package enum KineEndpoint {
    /// The SQLite file of `sqlite://PATH?params` (params such as `_journal=WAL` are kine's SQL
    /// driver settings; the store sets its own). An empty path is kine's default, `./db/state.db`.
    package static func databasePath(_ endpoint: String) throws(StoreError) -> String {
        guard endpoint.hasPrefix("sqlite://") else {
            throw StoreError(
                .invalidArgument, "k8senv-kine serves SQLite only: --endpoint must be sqlite://PATH, not \(endpoint)")
        }
        let rest = endpoint.dropFirst("sqlite://".count)
        let path =
            rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return path.isEmpty ? "./db/state.db" : path
    }

    /// Where to listen: `HOST:PORT`, `tcp://HOST:PORT`, or a Unix socket `unix://PATH` (as kine).
    package enum ListenAddress: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    /// The address of `--listen-address`.
    package static func listenAddress(_ address: String) throws(StoreError) -> ListenAddress {
        if address.hasPrefix("unix://") {
            let path = String(address.dropFirst("unix://".count))
            guard !path.isEmpty else { throw StoreError(.invalidArgument, "--listen-address unix:// needs a path") }
            return .unix(path: path)
        }
        var text = Substring(address)
        if text.hasPrefix("tcp://") { text = text.dropFirst("tcp://".count) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw StoreError(.invalidArgument, "--listen-address must be HOST:PORT, not \(address)")
        }
        let host = String(text[..<colon])
        return .tcp(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }
}
