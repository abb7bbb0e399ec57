import Foundation

/// Where a kind is served: its resource name and whether it is namespaced.
package struct ResourceInfo: Sendable, Hashable {
    package var group: String
    package var version: String
    package var resource: String
    package var kind: String
    package var namespaced: Bool

    package init(group: String, version: String, resource: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
    }

    /// `/api/v1` or `/apis/GROUP/VERSION`.
    package var basePath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The path of a named object (namespace required when namespaced). Names and namespaces
    /// are percent-encoded as path segments: `x?dryRun=All#` names an object, not a query.
    package func path(name: String?, namespace: String?) -> String {
        var path = basePath
        if namespaced, let namespace { path += "/namespaces/\(Self.segment(namespace))" }
        path += "/\(resource)"
        if let name { path += "/\(Self.segment(name))" }
        return path
    }

    /// `text` as one URL path segment: everything but RFC 3986's unreserved characters encoded.
    package static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~:@")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// Maps apiVersion + kind to resources by asking the server; refresh after CRDs are added.
package actor Discovery {
    private let client: KubeClient
    private var byGroupVersion: [String: [String: ResourceInfo]] = [:]

    package init(client: KubeClient) {
        self.client = client
    }

    /// Forgets what was learned (after new CRDs are established).
    package func reset() {
        byGroupVersion.removeAll()
    }

    /// - Returns: nil when the server does not serve that kind in that group/version.
    package func resource(apiVersion: String, kind: String, timeout: Duration = .seconds(30)) async throws(KubeClientError) -> ResourceInfo? {
        if let known = byGroupVersion[apiVersion] { return known[kind] }
        let parts = apiVersion.split(separator: "/", maxSplits: 1)
        let group = parts.count == 2 ? String(parts[0]) : ""
        let version = String(parts.last ?? "")
        let path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        let response = try await client.send("GET", path, timeout: timeout)
        var resources: [String: ResourceInfo] = [:]
        if response.status == 200, let list = response.json?["resources"] as? [[String: Any]] {
            for r in list {
                guard let name = r["name"] as? String, !name.contains("/"), let kind = r["kind"] as? String else { continue }
                resources[kind] = ResourceInfo(group: group, version: version, resource: name, kind: kind,
                                               namespaced: r["namespaced"] as? Bool ?? false)
            }
        } else if response.status != 404 {
            throw KubeClientError(status: response.status, message: "discovery of \(apiVersion) failed: \(response.status)", body: response.body)
        }
        byGroupVersion[apiVersion] = resources
        return resources[kind]
    }
}
