import ArgumentParser
import K8sEnvRunner
import K8sEnvSpec

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a k8senv.yaml: its shape against the schema, references, cycles, paths and manifests.",
        discussion:
            "Without --profile the file is checked as it is and with each of its profiles. apiServer.featureGates (controllers) are checked against the gates of the kube-apiserver (the controllers of the kube-controller-manager) the config names, when it can be found and may be run (else a note says the check was skipped). A program inside the config's folder, or one the config names by a path, is run only with --probe-binaries; one found on PATH or named by a variable of your environment (K8SENV_KUBE_APISERVER) outside the folder is run. Exit status: 0 valid, 1 invalid, 2 usage error."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @OptionGroup var probe: ProbeOption

    func run() async throws {
        let report = await Self.check(options.file, profile: options.profile, probe: probe.binaryProbe)
        switch format {
        case .text: print(report.text)
        case .json: print(report.json)
        }
        if !report.isValid { throw ExitCode(1) }
    }

    /// Every check of `validate` (also `init`'s of the file it wrote): the loader's, then the
    /// feature gates against the kube-apiserver the config names, the controllers against the
    /// kube-controller-manager, each only if `probe` lets it run.
    static func check(_ file: String, profile: String?, probe: BinaryProbe) async -> ValidationReport {
        var report = ConfigLoader().validate(file, profile: profile)
        if report.isValid {
            let gates = await FeatureGates.validate(report.configs, probe: probe)
            report.diagnostics += gates.errors
            report.notes += gates.notes
            let controllers = await ControllerNames.validate(report.configs, probe: probe)
            report.diagnostics += controllers.errors
            report.notes += controllers.notes
        }
        return report
    }
}
