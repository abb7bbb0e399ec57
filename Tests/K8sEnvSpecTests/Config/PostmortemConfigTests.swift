import Foundation
import K8sEnvSpec
import K8sEnvTestSupport
import Testing

/// `postmortem:` in k8senv.yaml and in a profile: decoding, and errors at file:line:col.
@Suite("postmortem in k8senv.yaml", .tags(.fast))
struct PostmortemConfigTests {
    @Test(
        "issue 29: dir (relative to the config's folder), when (failure by default), maxSize; a profile turns it on; none by default"
    )
    func decode() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                postmortem: {dir: out/pm, maxSize: 64Mi}
                environments:
                  base: {}
                profiles:
                  ci: {postmortem: {dir: /tmp/ci-pm, when: always}}

                """)
            let config = try ConfigLoader(variables: [:]).load(path)
            #expect(
                config.postmortem == PostmortemSettings(dir: folder.path + "/out/pm", when: .failure, maxSize: "64Mi"))
            let ci = try ConfigLoader(variables: [:]).load(path, profile: "ci")
            #expect(ci.postmortem == PostmortemSettings(dir: "/tmp/ci-pm", when: .always, maxSize: "64Mi"))
            let none = try ConfigLoader(variables: [:]).load(
                try folder.config("environments: {base: {}}\n", name: "none.yaml"))
            #expect(none.postmortem == nil)
        }
    }

    @Test(
        "issue 29: an unknown when (with a suggestion), a size that is not one, an unknown key: errors at file:line:col, in the file and in a profile"
    )
    func errors() throws {
        try TemporaryFolder.with { folder in
            let path = try folder.config(
                """
                postmortem: {dir: pm, when: failures}
                environments:
                  base: {}
                profiles:
                  ci: {postmortem: {maxSize: 12 parsecs}}
                  other: {postmortem: {dir: pm, keep: yes}}

                """)
            let errors = validationErrors(path)
            #expect(
                errors.map(\.message) == [
                    #"postmortem.when: "failures" is not one of "failure", "always"; did you mean "failure"?"#,
                    #"profiles.ci.postmortem.maxSize: "12 parsecs" is not a size such as 256Mi, 1G or 1048576"#,
                    #"unknown key "keep" in profiles.other.postmortem"#,
                ], "\(errors)")
            #expect(
                errors.map { $0.location.mark } == [
                    Mark(line: 3, column: 29), Mark(line: 7, column: 30), Mark(line: 8, column: 33),
                ],
                "\(errors)")
        }
    }
}
