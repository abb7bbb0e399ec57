import Foundation
import K8sEnvRunner
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@Suite("Controllers: --help parsed, names checked", .tags(.fast))
struct ControllerNamesTests {
    static let help = """
        Controller flags:

              --concurrent-deployment-syncs int32        The number of deployment objects that are allowed to sync concurrently. (default 5)
              --controllers strings                      A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' enables the controller named 'foo', '-foo' disables the controller named 'foo'.
                                                         All controllers: attachdetach, bootstrapsigner, cloud-node-lifecycle, clusterrole-aggregation, cronjob, deployment, garbagecollector, namespace, podgc, serviceaccount
                                                         Disabled-by-default controllers: bootstrapsigner, tokencleaner (default [*])
              --external-cloud-volume-plugin string      The plugin to use when cloud provider is set to external.
        """

    @Test("the names of --controllers' \"All controllers:\" line, in order; none without the flag")
    func parse() {
        #expect(
            ControllerNames.parse(help: Self.help) == [
                "attachdetach", "bootstrapsigner", "cloud-node-lifecycle", "clusterrole-aggregation",
                "cronjob", "deployment", "garbagecollector", "namespace", "podgc", "serviceaccount",
            ])
        #expect(ControllerNames.parse(help: "Usage:\n      --v Level   number for the log level verbosity\n").isEmpty)
    }

    @Test(
        "a name the binary lacks is an error at the name with the closest one; default is the documented set the binary has; an extending environment inherits, [] turns them off"
    )
    func resolve() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write(
            "k8senv.yaml",
            """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            environments:
              base:
                controllers: [namespace, garbagecolector]
              child: {extends: base}
              quiet: {extends: base, controllers: []}
              all: {controllers: default}

            """)
        let config = try ConfigLoader(variables: [:]).load(file)
        let available = ControllerNames.parse(help: Self.help)
        let (controllers, errors) = ControllerNames.resolve(
            config, available: available, version: KubeVersion(major: 1, minor: 20, patch: 2))
        #expect(
            errors.map(\.description) == [
                "\(file):5:30: error: controllers: kube-controller-manager v1.20.2 has no controller \"garbagecolector\"; did you mean \"garbagecollector\"?"
            ], "said once, where it was written, though two environments use it")
        #expect(controllers["base"] == ["namespace", "garbagecolector"] && controllers["child"] == controllers["base"])
        #expect(controllers["quiet"] == nil)
        #expect(
            controllers["all"] == [
                "namespace", "garbagecollector", "serviceaccount", "clusterrole-aggregation", "deployment", "cronjob",
            ])
        #expect(config.usesControllers)
    }

    @Test("the schema: controllers is default or a list of distinct lowercase names, each error at its place")
    func schema() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write(
            "k8senv.yaml",
            """
            apiVersion: k8senv.dev/v1alpha1
            kind: Config
            environments:
              a: {controllers: all}
              b: {controllers: [Namespace, namespace, namespace]}

            """)
        do throws(Diagnostics) {
            _ = try ConfigLoader(variables: [:]).load(file)
            Issue.record("invalid controllers were accepted")
        } catch {
            #expect(
                error.items.map(\.description) == [
                    "\(file):4:20: error: environments.a.controllers: must be \"default\", not \"all\"",
                    "\(file):5:21: error: environments.b.controllers[0]: \"Namespace\" is not a controller name such as namespace or garbagecollector",
                    "\(file):5:43: error: environments.b.controllers[2]: \"namespace\" is listed more than once",
                ])
        }
        let plain = try dir.write(
            "plain.yaml", "apiVersion: k8senv.dev/v1alpha1\nkind: Config\nenvironments: {a: {}, b: {controllers: []}}\n"
        )
        #expect(
            !(try ConfigLoader(variables: [:]).load(plain)).usesControllers,
            "no environment, or an empty list, runs none")
    }
}
