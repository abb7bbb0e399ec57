/// A list answer (`GET /api/v1/configmaps`, …) as the runner reads it: each item's metadata.
package struct ObjectList: Sendable, Decodable {
    package struct Item: Sendable, Decodable {
        package var metadata: ObjectMeta
    }

    package var items: [Item]
}

/// The metadata of an API object that the runner reads.
package struct ObjectMeta: Sendable, Decodable {
    package var name: String?
    package var namespace: String?
    package var uid: String?
    package var resourceVersion: String?
    package var finalizers: [String]?
}
