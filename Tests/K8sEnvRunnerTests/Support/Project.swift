import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// A project folder with the repository's CRDs and a few seeds, its own state and cache folders.
final class Project: Sendable {
    let dir: TemporaryDirectory
    var path: String { dir.path }
    var cache: String { dir.path + "/cache" }

    static let repository = PackageLocations.root

    init(config: String, seeds: [String: String] = [:]) throws {
        dir = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.repository + "/crds", toPath: dir.path + "/crds")
        try dir.write("k8senv.yaml", config)
        for (name, text) in seeds { try dir.write(name, text) }
    }

    func options(_ environments: [String] = [], noCache: Bool = false) -> Lifecycle.Options {
        Lifecycle.Options(
            file: path + "/k8senv.yaml", profile: nil, environments: environments, stateDirectory: path + "/.k8senv",
            quiet: false, noCache: noCache, cacheDirectory: cache, poolSize: 1)
    }

    /// Starts, runs `body` with the session, and stops on every path.
    func withSession<T>(
        _ environments: [String] = [], noCache: Bool = false, transcript: Transcript = Transcript(),
        _ body: (Session, RunRecord) async throws -> T
    ) async throws -> T {
        let session: Session
        do {
            session = try await Lifecycle.start(
                options(environments, noCache: noCache), detached: false, output: transcript.output)
        } catch {
            Issue.record("start failed: \(error.message)\n\(transcript.text)")
            throw error
        }
        let record = await session.record(config: path + "/k8senv.yaml", profile: nil, detached: false)
        do {
            let result = try await body(session, record)
            await Lifecycle.finish(session, state: StateFolder(path: path + "/.k8senv"), keepFiles: false)
            return result
        } catch {
            await Lifecycle.finish(session, state: StateFolder(path: path + "/.k8senv"), keepFiles: false)
            throw error
        }
    }

    /// Starts and expects a failure; returns its message as `up` prints it.
    func startFailure(_ environments: [String] = []) async throws -> String {
        try await startError(environments)?.report ?? ""
    }

    /// Starts and expects a failure; returns it.
    func startError(_ environments: [String] = []) async throws -> K8sEnvError? {
        do {
            let session = try await Lifecycle.start(options(environments), detached: false, output: { _ in })
            await session.stop()
            Issue.record("the start should have failed")
            return nil
        } catch {
            return error
        }
    }

    func kubectl(_ kubeconfig: String, _ arguments: [String]) throws -> String {
        let kubectl = try #require(TestBinaries.kubectl, "kubectl is needed")
        // Its own discovery cache: kubectl keys it by host:port, and ports are reused by later
        // instances that serve other CRDs.
        let result = try runTool(
            kubectl, ["--kubeconfig", kubeconfig, "--cache-dir", path + "/kubectl-cache"] + arguments)
        #expect(result.status == 0, "kubectl \(arguments.joined(separator: " ")): \(result.output)")
        return result.output
    }
}
