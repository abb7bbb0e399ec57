import ArgumentParser
import Foundation
import K8sEnvRunner
import K8sEnvSpec

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a commented k8senv.yaml for the repository in the current folder (or --dir).",
        discussion: """
            Recognises a kubebuilder/operator-sdk layout (config/crd/bases, config/webhook/manifests.yaml, \
            config/rbac/role.yaml) or a plain CRD folder (crds/, config/crds/, deploy/crds/). Writes k8senv.yaml and, \
            unless one is there, k8senv.schema.json (for the editor modeline), then checks the new file as \
            `k8senv validate` does. Adds .k8senv/ to the .gitignore at the top of the git work tree (else the folder's), \
            unless a line there ignores it; a .gitignore that is a symlink is not followed (init says so). \
            Never overwrites a k8senv.yaml. Exit status: 0 written and valid, 1 refused, written but invalid \
            (the report says why), or the .gitignore left alone, 2 usage error.
            """
    )

    @Option(help: "The repository's folder.")
    var dir: String = "."

    @Flag(help: "Print the file instead of writing anything.")
    var dryRun = false

    func run() async throws {
        var folder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &folder), folder.boolValue else {
            throw K8sEnvError(.fileExists, "k8senv init: \(dir) is not a folder")
        }
        let root = (dir as NSString).standardizingPath
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        let name = ((absolute as NSString).standardizingPath as NSString).lastPathComponent
        let layout = Scaffold.detect(in: root)
        let text = Scaffold.render(layout, name: name)
        if dryRun {
            print(text, terminator: "")
            return
        }
        let target = root + "/k8senv.yaml"
        if FileManager.default.fileExists(atPath: target) {
            throw K8sEnvError(
                .fileExists,
                "k8senv init: \(target) exists; it is left as it is (remove it, or use --dry-run to see what init would write)"
            )
        }
        // O_EXCL: a file that appeared meanwhile is not overwritten either.
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw K8sEnvError(.fileExists, "k8senv init: cannot write \(target): \(String(cString: strerror(errno)))")
        }
        let written = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        written.write(Data(text.utf8))
        try? written.close()
        let schema = root + "/k8senv.schema.json"
        if FileManager.default.fileExists(atPath: schema) {
            print("kept \(schema) as it is (`k8senv schema > \(schema)` writes this version's)")
        } else {
            FileManager.default.createFile(atPath: schema, contents: Data((BundledSchema.text + "\n").utf8))
        }
        print("wrote \(target) (\(layout.kind.rawValue) layout)")
        // The state folder (.k8senv/ beside the config) is the machine's, not the repository's.
        var ignored = true
        do throws(ProcessError) {
            switch try GitIgnore.ignoreStateFolder(in: root) {
            case .added(let file): print("added \(GitIgnore.entry) to \(file)")
            case .present(let file): print("\(file) already ignores \(GitIgnore.entry)")
            }
        } catch {
            printError("k8senv init: \(error.message)")
            ignored = false
        }
        // The file init wrote names programs by ${K8SENV_*:-name}: nothing of the folder's is run.
        let report = await Validate.check(target, profile: nil, probe: BinaryProbe(probeRepositoryPrograms: false))
        print(report.text)
        if !report.isValid || !ignored { throw ExitCode(1) }
    }
}
