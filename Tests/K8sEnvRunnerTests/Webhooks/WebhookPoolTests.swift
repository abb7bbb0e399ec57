import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

let validatingPath = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/forbid-label"
let mutatingPath = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/add-label"
let gizmosCRDPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.conversion.k8senv.dev"
let gizmosPath = "/apis/conversion.k8senv.dev/v1/namespaces/hooked/gizmos"

/// What a user of an instance with the project's webhooks installed sees: both configurations and
/// the CRD's conversion pointed at 127.0.0.1:port with the run's CA, and admission calling them
/// (nothing listens: a ConfigMap in the webhooks' namespace is refused, one elsewhere is not).
func expectWebhooksInstalled(
    _ client: KubeClient, _ webhook: WebhookEndpoint, sourceLocation: Testing.SourceLocation = #_sourceLocation
) async throws {
    let ca = try String(contentsOfFile: webhook.certDirectory + "/ca.crt", encoding: .utf8)
    let caBundle = Data(ca.utf8).base64EncodedString()
    let base = "https://127.0.0.1:\(webhook.port)"
    for (path, url) in [
        (validatingPath, base + "/validate"), (mutatingPath, base + "/mutate"), (gizmosCRDPath, base + "/convert"),
    ] {
        let config = clientConfig(try await client.object(path))
        #expect(config["url"] as? String == url, "\(path): \(config)", sourceLocation: sourceLocation)
        #expect(config["caBundle"] as? String == caBundle, "\(path)", sourceLocation: sourceLocation)
        #expect(config["service"] == nil, "\(path): \(config)", sourceLocation: sourceLocation)
    }
    let name = "probe-\(UInt32.random(in: 0...UInt32.max))"
    let refused = try await client.send(
        "POST", "/api/v1/namespaces/hooked/configmaps",
        body: Array(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"}}"#.utf8))
    let message = String(decoding: refused.body, as: UTF8.self)
    #expect(
        refused.status >= 400 && message.contains("failed calling webhook") && message.contains("connection refused"),
        "\(refused.status) \(message)", sourceLocation: sourceLocation)
}

@Suite(
    "Webhooks: installed on every instance after the snapshot, kept across releases", .tags(.integration), .serialized,
    .timeLimit(Integration.timeLimit), .integrationSlot)
struct WebhookPoolTests {
    @Test(
        "the snapshot holds the CRD as declared and no webhook configuration; every instance gets them pointed at 127.0.0.1:port; a release by reset or clean keeps them (and the seeded custom resource), and removes what the holder made"
    )
    func poolKeepsWebhooks() async throws {
        _ = try await TestBinaries.resolved()
        let fixture = try WebhookFixture()
        let configuration = try K8sEnvConfiguration.load(fixture.config)
        let pool = try configuration.pool(for: "hooks", options: PoolOptions(size: 2, cacheDirectory: fixture.cache))
        do {
            let lease = try await pool.acquire()
            let webhook = try #require(lease.webhook)
            #expect(webhook.host == "127.0.0.1")
            try await expectWebhooksInstalled(lease.client, webhook)

            // The holder makes things; a release by reset takes them away and keeps the webhooks.
            let client = lease.client
            try await create(
                client, "/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"scratch"}}"#)
            try await create(
                client, gizmosPath,
                #"{"apiVersion":"conversion.k8senv.dev/v1","kind":"Gizmo","metadata":{"name":"temp"},"spec":{"size":1}}"#
            )
            try await create(
                client, "/api/v1/namespaces/default/configmaps",
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"temp"}}"#)
            let id = lease.id
            try await lease.release(.reset)

            let again = try await pool.acquire()
            #expect(again.id == id, "the pool lends the instance it got back")
            try await expectWebhooksInstalled(again.client, webhook)
            #expect(try await names(again.client, gizmosPath) == ["seeded"], "the seed kept, the holder's gizmo gone")
            #expect(try await again.client.object("/api/v1/namespaces/default/configmaps/temp") == nil)
            let scratch = try await again.client.object("/api/v1/namespaces/scratch")
            #expect(
                scratch == nil || (scratch?["metadata"] as? [String: Any])?["deletionTimestamp"] != nil,
                "\(String(describing: scratch))")

            // A second instance, started from the snapshot while the first is lent, gets them too.
            let second = try await pool.acquire()
            #expect(second.id != id)
            #expect(second.webhook == webhook, "one port and certificate for the run")
            try await expectWebhooksInstalled(second.client, webhook)
            try await second.release()

            // A release by clean (deletes through the API what was created) keeps them as well.
            try await create(
                again.client, gizmosPath,
                #"{"apiVersion":"conversion.k8senv.dev/v1","kind":"Gizmo","metadata":{"name":"temp2"},"spec":{"size":1}}"#
            )
            try await again.release(.clean)
            let third = try await pool.acquire()
            try await expectWebhooksInstalled(third.client, webhook)
            #expect(try await names(third.client, gizmosPath) == ["seeded"])
            try await third.release()
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
    }

    @Test(
        "an instance started from the snapshot without the install step has no webhook configuration and the CRD's conversion as declared: they are not in the snapshot; a seed that needs the conversion webhook fails at its apiVersion, saying why"
    )
    func notInSnapshot() async throws {
        _ = try await TestBinaries.resolved()
        let fixture = try WebhookFixture()
        let (plan, files) = try fixture.plan()
        let run = fixture.dir.path + "/run"
        let builder = try await EnvironmentBuilder.prepare(
            plan: plan, files: files, runDirectory: run, useCache: true,
            cacheRoot: fixture.cache, progress: { _ in })
        let snapshot = try #require(try await builder.snapshot(for: "hooks"))
        let instance = try await builder.startInstance("hooks", suffix: "bare", snapshot: snapshot)
        do {
            let validating = try await instance.client.object(
                "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations")
            let mutating = try await instance.client.object(
                "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations")
            #expect((validating?["items"] as? [Any])?.isEmpty == true, "\(String(describing: validating))")
            #expect((mutating?["items"] as? [Any])?.isEmpty == true, "\(String(describing: mutating))")
            let conversion = clientConfig(try await instance.client.object(gizmosCRDPath))
            #expect(
                conversion["url"] == nil
                    && (conversion["service"] as? [String: Any])?["name"] as? String == "webhook-service",
                "\(conversion)")
            #expect(try await names(instance.client, gizmosPath) == ["seeded"])

            // A seed the conversion webhook would have to convert (validate stops this one; the
            // apply's own message is for what slips past it): named, at its apiVersion, with why.
            let v2 = try fixture.dir.write(
                "v2.yaml",
                "apiVersion: conversion.k8senv.dev/v2\nkind: Gizmo\nmetadata: {name: v2, namespace: hooked}\nspec: {replicas: 1}\n"
            )
            let applier = Applier(
                client: instance.client, files: files, serverVersion: builder.binaries.kubeAPIServerVersion)
            do throws(Diagnostics) {
                try await applier.applySeedSet([ManifestFile(relativePath: "v2.yaml", displayPath: "v2.yaml", path: v2)]
                )
                Issue.record("a v2 Gizmo cannot be stored without its conversion webhook")
            } catch {
                let item = try #require(error.items.first)
                #expect(item.location.file == "v2.yaml" && item.location.mark == Mark(line: 1, column: 13), "\(item)")
                #expect(
                    item.message.hasPrefix(
                        "Gizmo \"v2\" (conversion.k8senv.dev/v2) needs its CRD's conversion webhook, which does not run while k8senv builds the snapshot; write it in the CRD's storage version"
                    ), "\(item)")
                #expect(
                    item.message.contains("conversion webhook for conversion.k8senv.dev/v2, Kind=Gizmo failed"),
                    "\(item)")
            }
        } catch {
            await instance.stop()
            throw error
        }
        await instance.stop()
    }
}
