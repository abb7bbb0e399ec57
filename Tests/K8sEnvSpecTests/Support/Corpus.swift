import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// The corpus: Corpus/invalid/{yaml,schema,semantic}/NAME.yaml, each with NAME.expected
/// holding exactly what `k8senv validate -f NAME.yaml` prints when run in NAME.yaml's folder
/// (support files in Corpus/files/, named as ../../files/...: outside the case's folder, so an
/// error in one shows its path and position without its line); Corpus/valid/*.yaml, each valid.
enum Corpus {
    static let stages = ["yaml", "schema", "semantic"]

    /// "invalid/schema/pool-size-zero.yaml", ...
    static let invalidCases: [String] = stages.flatMap { stage in
        Repository.files(under: Repository.corpus + "/invalid/" + stage, suffix: ".yaml").map {
            "invalid/\(stage)/\($0)"
        }
    }

    static let validCases: [String] = Repository.files(under: Repository.corpus + "/valid", suffix: ".yaml").map {
        "valid/\($0)"
    }

    /// What `k8senv validate -f NAME.yaml` prints in NAME.yaml's folder, computed in-process.
    ///
    /// Tests run in parallel, so they cannot change the current folder. Instead the config is
    /// named by its absolute path, and the absolute prefixes are turned back into what the CLI
    /// prints when run in the case's folder: "<case folder>/" is removed (the config and its
    /// siblings), and "<corpus>/files/" becomes "../../files/" (every case is two folders below
    /// the corpus). Messages and positions do not depend on the current folder; only these
    /// prefixes do, so the result is byte for byte the CLI's output.
    static func validationText(_ relative: String) -> String {
        let path = Repository.corpus + "/" + relative
        let folder = (path as NSString).deletingLastPathComponent
        let report = ConfigLoader().validate(path, profile: nil)
        return report.text
            .replacingOccurrences(of: Repository.corpus + "/files/", with: "../../files/")
            .replacingOccurrences(of: folder + "/", with: "")
    }
}
