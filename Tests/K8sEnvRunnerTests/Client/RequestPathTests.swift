import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Request paths", .tags(.fast))
struct RequestPathTests {
    @Test(
        "object names and namespaces are one path segment each: ?, #, / and % are encoded, not read as a query or a fragment"
    )
    func encoded() {
        let configMaps = ResourceInfo(
            group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true)
        #expect(
            configMaps.path(name: "x?dryRun=All#", namespace: "default")
                == "/api/v1/namespaces/default/configmaps/x%3FdryRun%3DAll%23")
        #expect(configMaps.path(name: "a/b%c", namespace: "ns") == "/api/v1/namespaces/ns/configmaps/a%2Fb%25c")
        #expect(
            configMaps.path(name: "plain-name.v1", namespace: "ns") == "/api/v1/namespaces/ns/configmaps/plain-name.v1")
        // Letters beyond ASCII and a space are encoded as UTF-8 bytes, however the name is plain elsewhere.
        #expect(
            configMaps.path(name: "caf\u{E9} au lait", namespace: "ns")
                == "/api/v1/namespaces/ns/configmaps/caf%C3%A9%20au%20lait")
        let roles = ResourceInfo(
            group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole",
            namespaced: false)
        #expect(
            roles.path(name: "system:aggregate-to-edit", namespace: "ignored")
                == "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregate-to-edit")
    }
}
