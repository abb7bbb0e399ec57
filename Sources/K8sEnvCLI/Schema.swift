import ArgumentParser
import K8sEnvSpec

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the JSON Schema of k8senv.yaml (the same file as schemas/k8senv.schema.json)."
    )

    func run() {
        print(BundledSchema.text)
    }
}
