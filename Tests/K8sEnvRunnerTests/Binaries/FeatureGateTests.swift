import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

@testable import K8sEnvRunner

@Suite("Feature gates and runtime config: --help, the flags", .tags(.fast))
struct FeatureGateTests {
    @Test("the gates of --feature-gates in kube-apiserver v1.20.2's --help, and nothing from the flags around it")
    func parseRealHelp() {
        let gates = FeatureGates.parse(help: KubeAPIServerHelp.v1_20_2Excerpt)
        #expect(gates.count == 89)
        #expect(gates.first == FeatureGate(name: "APIListChunking", stage: "BETA", defaultValue: true))
        #expect(gates.last == FeatureGate(name: "WindowsEndpointSliceProxying", stage: "ALPHA", defaultValue: false))
        #expect(gates.contains(FeatureGate(name: "APIPriorityAndFairness", stage: "BETA", defaultValue: true)))
        #expect(gates.contains(FeatureGate(name: "EphemeralContainers", stage: "ALPHA", defaultValue: false)))
        #expect(gates.contains(FeatureGate(name: "AllAlpha", stage: "ALPHA", defaultValue: false)))
        #expect(gates.contains { $0.name == "CSIMigrationvSphere" })
        // GA gates are not listed by this release's --help (TokenRequest is one it still takes).
        #expect(!gates.contains { $0.name == "TokenRequest" })
        #expect(Set(gates.map(\.name)).count == gates.count)
    }

    @Test("1.31's form (kube: before the name, the first gate on the Options line) and help without the flag")
    func parseOtherForms() {
        let help = """
            Feature gate flags:

                  --feature-gates colonSeparatedMultimapStringString
                                Comma-separated list of component:key=value pairs that describe feature gates for alpha/experimental features of different components.
                                If the component is not specified, defaults to "kube". Options are:kube:APIResponseCompression=true|false (BETA - default=true)
                                kube:AllAlpha=true|false (ALPHA - default=false)
                                wardle:BanFlunder=true|false (ALPHA - default=false)

            Generic flags:

                  --goaway-chance float   Not a gate: Foo=true|false (ALPHA - default=false)
            """
        #expect(
            FeatureGates.parse(help: help) == [
                FeatureGate(name: "APIResponseCompression", stage: "BETA", defaultValue: true),
                FeatureGate(name: "AllAlpha", stage: "ALPHA", defaultValue: false),
                FeatureGate(name: "wardle:BanFlunder", stage: "ALPHA", defaultValue: false),
            ])
        #expect(
            FeatureGates.parse(
                help: "Usage:\n  kube-apiserver [flags]\n      --v Level   number for the log level verbosity\n"
            ).isEmpty)
        #expect(FeatureGates.parse(help: "").isEmpty)
    }

    @Test("the cache file holds what --help listed")
    func cacheFile() {
        let gates = FeatureGates.parse(help: KubeAPIServerHelp.v1_20_2Excerpt)
        #expect(FeatureGates.decode(FeatureGates.encode(gates)) == gates)
        #expect(FeatureGates.decode(FeatureGates.encode([])) == [])
        #expect(FeatureGates.decode("APIListChunking BETA true\n") == nil, "a file without the format line is not used")
        #expect(FeatureGates.decode("k8senv-feature-gates/v1\nAPIListChunking BETA maybe\n") == nil)
    }

    @Test("gates and runtime config become one flag each, sorted by name, before extraArgs")
    func arguments() {
        let args = APIServerArguments.make(
            version: KubeVersion(major: 1, minor: 20), layout: FlagTests.layout(),
            featureGates: ["EphemeralContainers": true, "APIPriorityAndFairness": false, "AllAlpha": true],
            runtimeConfig: ["batch/v1beta1": false, "api/alpha": true, "autoscaling/v2beta2": false],
            extraArgs: ["--v=2"])
        #expect(
            args.filter { $0.hasPrefix("--feature-gates") } == [
                "--feature-gates=APIPriorityAndFairness=false,AllAlpha=true,EphemeralContainers=true"
            ])
        #expect(
            args.filter { $0.hasPrefix("--runtime-config") } == [
                "--runtime-config=api/alpha=true,autoscaling/v2beta2=false,batch/v1beta1=false"
            ])
        #expect(
            Array(args.suffix(3)) == [
                "--feature-gates=APIPriorityAndFairness=false,AllAlpha=true,EphemeralContainers=true",
                "--runtime-config=api/alpha=true,autoscaling/v2beta2=false,batch/v1beta1=false",
                "--v=2",
            ])
        let none = APIServerArguments.make(
            version: KubeVersion(major: 1, minor: 20), layout: FlagTests.layout(), extraArgs: [])
        #expect(!none.contains { $0.hasPrefix("--feature-gates") || $0.hasPrefix("--runtime-config") })
    }
}
