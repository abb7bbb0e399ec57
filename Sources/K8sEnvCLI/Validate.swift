import ArgumentParser
import K8sEnvSpec

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a k8senv.yaml: its shape against the schema, references, cycles, paths and manifests.",
        discussion: "Without --profile the file is checked as it is and with each of its profiles. Exit status: 0 valid, 1 invalid, 2 usage error."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let report = ConfigLoader().validate(options.file, profile: options.profile)
        switch format {
        case .text: print(report.text)
        case .json: print(report.json)
        }
        if !report.isValid { throw ExitCode(1) }
    }
}
