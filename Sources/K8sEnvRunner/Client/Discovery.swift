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
        // Byte by byte, not through Foundation's percent-encoding: every seeded object's path
        // goes through here.
        var encoded = ""
        for byte in text.utf8 {
            if isUnreserved(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true)
                    + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return encoded
    }

    /// RFC 3986's unreserved characters, and `:` and `@`, which a path segment may hold as they are.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"),
            UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }
}

/// `GET /apis`: the API groups a server serves, with their versions.
package struct APIGroupList: Sendable, Decodable {
    package struct Group: Sendable, Decodable {
        package var name: String
        package var versions: [Version]
        package var preferredVersion: Version?

        /// The preferred version first, then the others in the server's order.
        package var versionsPreferredFirst: [String] {
            let preferred = preferredVersion?.version
            return (preferred.map { [$0] } ?? []) + versions.map(\.version).filter { $0 != preferred }
        }
    }

    package struct Version: Sendable, Decodable {
        package var version: String
    }

    package var groups: [Group]
}

/// `GET /api/v1`, `GET /apis/GROUP/VERSION`: the resources a group version serves.
package struct APIResourceList: Sendable, Decodable {
    package struct Resource: Sendable, Decodable {
        /// The plural (`configmaps`); a subresource is `configmaps/status`.
        package var name: String
        package var kind: String
        package var namespaced: Bool?
        package var verbs: [String]?
        /// Which version the objects are stored in, hashed (``Cleanup/storageVersionHash(group:version:kind:)``).
        package var storageVersionHash: String?

        package var isSubresource: Bool { name.contains("/") }
    }

    package var resources: [Resource]
}

/// Maps apiVersion + kind to resources by asking the server; refresh after CRDs are added.
/// Its static readers are the one way the runner reads discovery documents.
package actor Discovery {
    private let client: KubeClient
    private var byGroupVersion: [String: [String: ResourceInfo]] = [:]
    /// Lookups on their way, by apiVersion: the objects of a seed set that start together ask
    /// for the same group version at once, and share one GET instead of sending one each.
    private var pending: [String: Task<Result<[String: ResourceInfo], KubeClientError>, Never>] = [:]

    package init(client: KubeClient) {
        self.client = client
    }

    /// Forgets what was learned (after new CRDs are established).
    package func reset() {
        byGroupVersion.removeAll()
        pending.removeAll()
    }

    /// - Returns: nil when the server does not serve that kind in that group/version.
    package func resource(apiVersion: String, kind: String, timeout: Duration = .seconds(30))
        async throws(KubeClientError) -> ResourceInfo?
    {
        if let known = byGroupVersion[apiVersion] { return known[kind] }
        let lookup: Task<Result<[String: ResourceInfo], KubeClientError>, Never>
        if let onItsWay = pending[apiVersion] {
            lookup = onItsWay
        } else {
            let client = client
            lookup = Task { () async -> Result<[String: ResourceInfo], KubeClientError> in
                do throws(KubeClientError) {
                    return .success(try await Self.fetch(client, apiVersion: apiVersion, timeout: timeout))
                } catch {
                    return .failure(error)
                }
            }
            pending[apiVersion] = lookup
        }
        let result = await lookup.value
        // Still the lookup on its way (not one that ``reset()`` forgot meanwhile): keep what it found.
        if pending[apiVersion] == lookup {
            pending[apiVersion] = nil
            // A failure is not kept: the next object asks again.
            if case .success(let resources) = result { byGroupVersion[apiVersion] = resources }
        }
        return try result.get()[kind]
    }

    /// The kinds a group version serves (not its subresources), by kind.
    private static func fetch(_ client: KubeClient, apiVersion: String, timeout: Duration)
        async throws(KubeClientError) -> [String: ResourceInfo]
    {
        let parts = apiVersion.split(separator: "/", maxSplits: 1)
        let group = parts.count == 2 ? String(parts[0]) : ""
        let version = String(parts.last ?? "")
        var resources: [String: ResourceInfo] = [:]
        for r in try await Self.resources(client, group: group, version: version, timeout: timeout)?.resources ?? []
        where !r.isSubresource {
            resources[r.kind] = ResourceInfo(
                group: group, version: version, resource: r.name, kind: r.kind, namespaced: r.namespaced ?? false)
        }
        return resources
    }

    /// The API groups the server serves (`GET /apis`).
    /// - Throws: ``KubeClientError`` when the server cannot be reached or answers anything but a list.
    package static func groups(_ client: KubeClient, timeout: Duration = .seconds(30)) async throws(KubeClientError)
        -> APIGroupList
    {
        let response = try await client.send("GET", "/apis", timeout: timeout)
        guard response.status == 200, let list = response.decode(APIGroupList.self) else {
            throw KubeClientError(
                status: response.status, message: "discovery of /apis failed: \(response.status)", body: response.body)
        }
        return list
    }

    /// The resources of a group version (`""` is the core group), or nil when the server does
    /// not serve that group version (404).
    /// - Throws: ``KubeClientError`` when the server cannot be reached or answers anything else.
    package static func resources(
        _ client: KubeClient, group: String, version: String,
        timeout: Duration = .seconds(30)
    ) async throws(KubeClientError) -> APIResourceList? {
        let path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        let response = try await client.send("GET", path, timeout: timeout)
        if response.status == 404 { return nil }
        guard response.status == 200, let list = response.decode(APIResourceList.self) else {
            let what = group.isEmpty ? version : group + "/" + version
            throw KubeClientError(
                status: response.status, message: "discovery of \(what) failed: \(response.status)", body: response.body
            )
        }
        return list
    }
}
