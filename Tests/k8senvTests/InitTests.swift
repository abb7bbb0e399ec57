import Foundation
import K8sEnvTestSupport
import Testing

/// `k8senv init` on repository layouts, as a user runs it: the file it writes, then validate and
/// up on that file.
@Suite("k8senv init", .tags(.integration), .serialized, .timeLimit(Workspace.integrationLimit))
struct InitTests {
    /// A kubebuilder-like tree: the repository's sample CRDs in config/crd/bases, the
    /// controller's ClusterRole in config/rbac/role.yaml, plus files init must not pick up.
    static func kubebuilderTree(_ ws: Workspace) throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: Repository.crds) where file.hasSuffix(".yaml") {
            try ws.write(
                "config/crd/bases/" + file, String(contentsOfFile: Repository.crds + "/" + file, encoding: .utf8))
        }
        try ws.write(
            "config/rbac/role.yaml",
            """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: manager-role
            rules:
            - apiGroups: ["example.k8senv.dev"]
              resources: ["widgets"]
              verbs: ["get", "list", "watch"]
            """)
        // kustomize input, not appliable as it is: init leaves it out.
        try ws.write(
            "config/rbac/leader_election_role.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: leader-election-role\n  namespace: system\n"
        )
        try ws.write("PROJECT", "layout:\n- go.kubebuilder.io/v4\nprojectName: widgets\n")
        // What controller-gen writes: a service reference k8senv points at the test process.
        try ws.write(
            "config/webhook/manifests.yaml",
            """
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata:
              name: validating-webhook-configuration
            webhooks:
            - admissionReviewVersions: ["v1"]
              clientConfig:
                service:
                  name: webhook-service
                  namespace: system
                  path: /validate-example-k8senv-dev-v1-widget
              failurePolicy: Fail
              name: vwidget.kb.io
              rules:
              - apiGroups: ["example.k8senv.dev"]
                apiVersions: ["v1"]
                operations: ["CREATE", "UPDATE"]
                resources: ["widgets"]
              sideEffects: None
            """)
    }

    @Test(
        "a kubebuilder tree: init writes a k8senv.yaml (and the schema for the modeline) that validates and brings its CRDs and ClusterRole up; a second init refuses and changes nothing; --dry-run writes nothing"
    )
    func kubebuilder() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(name: "init-kubebuilder") { ws in
            try Self.kubebuilderTree(ws)
            let preview = try await ws.k8senv("init", "--dry-run")
            #expect(preview.status == 0, "\(preview)")
            #expect(!FileManager.default.fileExists(atPath: ws("k8senv.yaml")), "--dry-run writes nothing")

            let written = try await ws.k8senv("init")
            #expect(written.status == 0, "\(written)")
            #expect(
                written.stdout.contains("wrote ./k8senv.yaml (kubebuilder layout)") && written.stdout.contains("valid"),
                "\(written)")
            let text = try String(contentsOfFile: ws("k8senv.yaml"), encoding: .utf8)
            #expect(text == preview.stdout, "--dry-run prints what init writes")
            #expect(text.hasPrefix("# yaml-language-server: $schema=./k8senv.schema.json\n"))
            #expect(
                text.contains("      - config/crd/bases/") && text.contains("          - config/rbac/role.yaml")
                    && text.contains("    webhooks:\n      - config/webhook/manifests.yaml"), "\(text)")
            #expect(!text.contains("leader_election_role"), "\(text)")
            let schema = try String(contentsOfFile: ws("k8senv.schema.json"), encoding: .utf8)
            let bundled = try await ws.k8senv("schema")
            #expect(schema == bundled.stdout, "the schema beside it is this version's")

            let validate = try await ws.k8senv("validate", "-f", "k8senv.yaml")
            #expect(validate.status == 0, "\(validate)")
            let up = try await ws.shell(
                """
                k8senv up --detach --quiet -f k8senv.yaml > up.env || exit 10
                . ./up.env
                kubectl get crd -o name | sort
                kubectl get clusterrole manager-role -o name
                kubectl get validatingwebhookconfiguration validating-webhook-configuration -o 'jsonpath={.webhooks[0].clientConfig.url}{"\\n"}'
                echo "https://$K8SENV_WEBHOOK_HOST:$K8SENV_WEBHOOK_PORT/validate-example-k8senv-dev-v1-widget"
                k8senv down -f k8senv.yaml >/dev/null
                """)
            #expect(up.status == 0, "\(up)")
            let lines = up.stdout.split(separator: "\n").map(String.init)
            #expect(
                lines.count == 6 && lines[4] == lines[5] && lines[4].hasPrefix("https://127.0.0.1:"),
                "the webhook calls the test process at the exported address: \(up)")
            #expect(
                lines.prefix(4).joined(separator: "\n") + "\n" == """
                    customresourcedefinition.apiextensions.k8s.io/gadgets.example.k8senv.dev
                    customresourcedefinition.apiextensions.k8s.io/ledgers.example.k8senv.dev
                    customresourcedefinition.apiextensions.k8s.io/widgets.example.k8senv.dev
                    clusterrole.rbac.authorization.k8s.io/manager-role

                    """, "\(up)")

            try ws.write("k8senv.yaml", "# mine\n")
            let again = try await ws.k8senv("init")
            #expect(again.status == 1 && again.stderr.contains("k8senv.yaml exists; it is left as it is"), "\(again)")
            #expect(try String(contentsOfFile: ws("k8senv.yaml"), encoding: .utf8) == "# mine\n")
        }
    }

    @Test("a plain crds/ folder, and a folder with nothing k8senv knows: each gets a file that validates")
    func plainAndEmpty() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(name: "init-plain", apiServers: false) { ws in
            try ws.write(
                "crds/widgets.yaml",
                String(contentsOfFile: Repository.crds + "/widgets.example.k8senv.dev.yaml", encoding: .utf8))
            let written = try await ws.k8senv("init")
            #expect(written.status == 0 && written.stdout.contains("(plain layout)"), "\(written)")
            #expect(try String(contentsOfFile: ws("k8senv.yaml"), encoding: .utf8).contains("    crds:\n      - crds/"))
        }
        try await Workspace.with(name: "init-empty", apiServers: false) { ws in
            let written = try await ws.k8senv("init")
            #expect(
                written.status == 0 && written.stdout.contains("(empty layout)") && written.stdout.contains("valid"),
                "\(written)")
            let nowhere = try await ws.k8senv("init", "--dir", "no-such-folder")
            #expect(nowhere.status == 1 && nowhere.stderr.contains("no-such-folder is not a folder"), "\(nowhere)")
        }
    }

    @Test(".gitignore: init adds .k8senv/ to the folder's .gitignore outside a git work tree, creating it (0644)")
    func gitignoreCreated() async throws {
        try await Workspace.with(name: "init-ignore-new", apiServers: false) { ws in
            let written = try await ws.k8senv("init")
            #expect(written.status == 0, "\(written)")
            #expect(written.stdout.contains("added .k8senv/ to ./.gitignore"), "\(written)")
            #expect(try String(contentsOfFile: ws(".gitignore"), encoding: .utf8) == ".k8senv/\n")
            var info = stat()
            #expect(lstat(ws(".gitignore"), &info) == 0 && info.st_mode & 0o777 == 0o644)
            try FileManager.default.createDirectory(atPath: ws("other"), withIntermediateDirectories: true)
            let dry = try await ws.k8senv("init", "--dir", "other", "--dry-run")
            #expect(
                dry.status == 0 && !FileManager.default.fileExists(atPath: ws("other/.gitignore")),
                "--dry-run writes nothing: \(dry)")
        }
    }

    @Test(
        ".gitignore: inside a git work tree, the line goes to the tree's top .gitignore, appended after what is there (a missing final newline added), once; not when the folder's own .gitignore ignores it"
    )
    func gitignoreAtTop() async throws {
        try await Workspace.with(name: "init-ignore-top", apiServers: false) { ws in
            try FileManager.default.createDirectory(atPath: ws(".git"), withIntermediateDirectories: true)
            try ws.write(".gitignore", "/build\n*.o")
            try FileManager.default.createDirectory(atPath: ws("operators/widgets"), withIntermediateDirectories: true)
            let written = try await ws.k8senv("init", "--dir", "operators/widgets")
            #expect(written.status == 0, "\(written)")
            let top = URL(fileURLWithPath: ws.path).resolvingSymlinksInPath().path
            #expect(written.stdout.contains("added .k8senv/ to \(top)/.gitignore"), "\(written)")
            #expect(try String(contentsOfFile: ws(".gitignore"), encoding: .utf8) == "/build\n*.o\n.k8senv/\n")
            #expect(!FileManager.default.fileExists(atPath: ws("operators/widgets/.gitignore")))
            // A second config elsewhere in the tree: the line is there already.
            try FileManager.default.createDirectory(atPath: ws("operators/gadgets"), withIntermediateDirectories: true)
            let again = try await ws.k8senv("init", "--dir", "operators/gadgets")
            #expect(again.status == 0 && again.stdout.contains("already ignores .k8senv/"), "\(again)")
            #expect(try String(contentsOfFile: ws(".gitignore"), encoding: .utf8) == "/build\n*.o\n.k8senv/\n")
            // A folder whose own .gitignore ignores it: that line covers its config, the top is left alone.
            try ws.write(".gitignore", "/build\n")
            try ws.write("operators/things/.gitignore", "/.k8senv/\n")
            let own = try await ws.k8senv("init", "--dir", "operators/things")
            #expect(
                own.status == 0 && own.stdout.contains("operators/things/.gitignore already ignores .k8senv/"), "\(own)"
            )
            #expect(try String(contentsOfFile: ws(".gitignore"), encoding: .utf8) == "/build\n")
        }
    }

    @Test(
        ".gitignore: a line that already ignores the state folder (.k8senv, .k8senv/, /.k8senv/) is recognised; nothing is added"
    )
    func gitignoreRecognised() async throws {
        for line in [".k8senv", ".k8senv/", "/.k8senv/", "/.k8senv", ".k8senv/  ", "**/.k8senv/"] {
            try await Workspace.with(name: "init-ignore-known", apiServers: false) { ws in
                let before = "# tools\n\(line)\nvendor/\n"
                try ws.write(".gitignore", before)
                let written = try await ws.k8senv("init")
                #expect(
                    written.status == 0 && written.stdout.contains("already ignores .k8senv/"), "\(line): \(written)")
                #expect(try String(contentsOfFile: ws(".gitignore"), encoding: .utf8) == before, "\(line)")
            }
        }
    }

    @Test(
        ".gitignore: a symlink is not followed; init says so, exits 1 and leaves the link and its target alone (k8senv.yaml is still written)"
    )
    func gitignoreSymlink() async throws {
        try await Workspace.with(name: "init-ignore-link", apiServers: false) { ws in
            let target = try ws.write("../elsewhere", "secret\n")
            #expect(symlink(target, ws(".gitignore")) == 0)
            let written = try await ws.k8senv("init")
            #expect(written.status == 1, "\(written)")
            #expect(
                written.stderr.contains("./.gitignore is a symlink")
                    && written.stderr.contains("add the line .k8senv/ yourself"), "\(written)")
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "secret\n")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: ws(".gitignore"))) == target)
            #expect(FileManager.default.fileExists(atPath: ws("k8senv.yaml")))
        }
    }
}
