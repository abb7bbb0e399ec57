import Foundation
import K8sEnvSpec
import Testing

/// Issue 29: `k8senv run --postmortem DIR` keeps each instance a failed command used as a
/// bundle; `k8senv open` serves it in another folder, where kubectl, `diff` and `audit` show
/// what the test left. On the storage K8SENV_STORAGE names.
@Suite(
    "post-mortem bundles: run --postmortem, open (real kube-apiserver)", .tags(.integration),
    .timeLimit(Workspace.integrationLimit))
struct PostmortemTests {
    /// One environment with the Widget CRD of crds/, a seeded ConfigMap, and an audit log.
    static let config = Workspace.smallConfig("audit: {level: Metadata}").replacingOccurrences(
        of: "    pool: {size: 1}\n",
        with: """
                pool: {size: 1}
                crds: [widgets.yaml]
                seeds:
                  - name: config
                    manifests: [seed.yaml]

            """)

    static let seed = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings, namespace: default}
        data: {color: red}

        """

    static let widget = """
        apiVersion: example.k8senv.dev/v1alpha1
        kind: Widget
        metadata:
          name: stuck
          namespace: evidence
          finalizers: [example.k8senv.dev/hold]
        spec: {color: blue}

        """

    /// The failing test: a namespace, a Widget with a finalizer, the seeded ConfigMap deleted, exit 3.
    static let failingTest = """
        k8senv run --postmortem pm -- sh -c '
          kubectl create namespace evidence >/dev/null || exit 10
          kubectl apply -f widget.yaml >/dev/null || exit 11
          kubectl delete configmap settings >/dev/null || exit 12
          exit 3'
        """

    static func prepare(_ ws: Workspace) throws {
        try ws.write("seed.yaml", Self.seed)
        try ws.write("widget.yaml", Self.widget)
        try FileManager.default.copyItem(
            atPath: Repository.crds + "/widgets.example.k8senv.dev.yaml", toPath: ws("widgets.yaml"))
    }

    @Test(
        "issue 29: a passing command leaves no bundle; a command that exits 3 leaves one; open in another folder with a clean cache serves it: kubectl shows the namespace, the Widget with its finalizer, no ConfigMap; diff lists exactly those three changes; audit lists the requests; down stops it"
    )
    func failedRunIsOpened() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "postmortem") { ws in
            try Self.prepare(ws)
            let passing = try await ws.k8senv("run", "--postmortem", "pm", "--", "true")
            #expect(passing.status == 0, "\(passing)")
            #expect(
                !FileManager.default.fileExists(atPath: ws("pm")), "a passing command leaves no bundle (when: failure)")

            let failed = try await ws.shell(Self.failingTest)
            #expect(failed.status == 3, "the command's status: \(failed)")
            let bundle = ws("pm/one-0.k8senv-bundle")
            #expect(FileManager.default.fileExists(atPath: bundle), "\(failed)")
            #expect(failed.stderr.contains("one-0: post-mortem bundle \(bundle)"), "\(failed)")
            var info = stat()
            #expect(
                stat(bundle, &info) == 0 && info.st_mode & 0o777 == 0o600, "the bundle holds the seeds' Secrets: 0600")

            let list = try await ws.k8senv("open", "--list", bundle)
            #expect(list.status == 0, "\(list)")
            #expect(
                list.stdout.contains("post-mortem bundle of one-0 (environment one)")
                    && list.stdout.contains("the command exited with status 3")
                    && list.stdout.contains("audit.log") && list.stdout.contains("crds.yaml")
                    && list.stdout.contains("k8senv.yaml")
                    && list.stdout.contains("(verified)"), "\(list)")
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: ws.path).filter { $0.hasPrefix("elsewhere") }
                    .isEmpty)

            // Another folder, an empty cache: nothing there but the bundle.
            let opened = try await ws.shell(
                """
                mkdir -p elsewhere && cd elsewhere || exit 20
                export XDG_CACHE_HOME="$PWD/cache"
                eval "$(k8senv open --detach ../pm/one-0.k8senv-bundle)" || exit 21
                echo "namespace: $(kubectl get namespace evidence -o name)"
                echo "finalizers: $(kubectl get widgets -n evidence stuck -o jsonpath='{.metadata.finalizers}')"
                kubectl get configmap settings -n default 2>&1; echo "configmap status $?"
                k8senv diff; echo "diff status $?"
                k8senv audit; echo "audit status $?"
                k8senv env >/dev/null; echo "env status $?"
                k8senv down; echo "down status $?"
                """)
            #expect(opened.status == 0, "\(opened)")
            let out = opened.stdout
            #expect(out.contains("namespace: namespace/evidence\n"), "\(opened)")
            #expect(out.contains(#"finalizers: ["example.k8senv.dev/hold"]"#), "\(opened)")
            #expect(out.contains("NotFound") && out.contains("configmap status 1\n"), "\(opened)")
            #expect(out.contains("one-0: 3 changes since revision "), "\(opened)")
            #expect(
                out.contains("+ created v1/Namespace evidence\n")
                    && out.contains("+ created example.k8senv.dev/v1alpha1/Widget evidence/stuck\n")
                    && out.contains("- deleted v1/ConfigMap default/settings\n") && out.contains("diff status 1\n"),
                "\(opened)")
            let audit = out.components(separatedBy: "diff status 1\n").last ?? ""
            #expect(
                audit.contains("namespaces") && audit.contains("evidence") && audit.contains("widgets")
                    && audit.contains("stuck")
                    && audit.contains("configmaps") && audit.contains("settings") && audit.contains("audit status 0\n"),
                "\(opened)")
            #expect(out.contains("env status 0\n") && out.contains("down status 0\n"), "\(opened)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "issue 29: truncated, corrupt and hostile bundles (a path in a file name, a hostile instance name, a file it may not hold, a crafted store, another kube-apiserver version, a symlinked state folder) are refused naming what is wrong, and write nothing; cache import refuses a post-mortem bundle"
    )
    func badBundlesAreRefused() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "postmortem-bad") { ws in
            try Self.prepare(ws)
            let signing: [String: String?] = ["K8SENV_BUNDLE_KEY": BundleTests.secret]
            let failed = try await ws.k8senv(
                "run", "--postmortem", "pm", "--", "sh", "-c", "exit 1", environment: signing)
            #expect(failed.status == 1, "\(failed)")
            let real = try #require(FileManager.default.contents(atPath: ws("pm/one-0.k8senv-bundle")), "\(failed)")

            func edited(_ change: (inout [String: Any], inout [[String: Any]], inout [String: Data]) -> Void) throws
                -> Data
            {
                try Self.craft(real, secret: BundleTests.secret, change)
            }
            let cases: [(String, Data, String)] = [
                ("truncated", real.prefix(real.count / 2), "truncated"),
                (
                    "corrupt",
                    {
                        var d = real
                        d[d.count / 2] ^= 0xFF
                        return d
                    }(), "signature does not verify"
                ),
                (
                    "traversal",
                    try edited { _, files, data in
                        files.append(["name": "../../escaped", "size": 3])
                        data["../../escaped"] = Data("abc".utf8)
                    }, "is not a snapshot file"
                ),
                (
                    "instance-name",
                    try edited { header, _, _ in
                        var pm = header["postmortem"] as! [String: Any]
                        pm["instance"] = "../../x"
                        header["postmortem"] = pm
                    }, "is not a k8senv instance name"
                ),
                (
                    "extra-file",
                    try edited { _, files, data in
                        files.append(["name": "run.sh", "size": 9])
                        data["run.sh"] = Data("rm -rf /\n".utf8)
                    }, "bundle holds"
                ),
                (
                    "crafted-store",
                    try edited { _, files, data in
                        let store =
                            files.first { ["state.db", "etcd.db"].contains($0["name"] as! String) }!["name"] as! String
                        data[store] = Data("SQLite format 3\u{0}".utf8) + Data(repeating: 0x41, count: 4080)
                    }, "is not"
                ),
                (
                    "version",
                    try edited { header, _, _ in
                        var snapshot = header["snapshot"] as! [String: Any]
                        snapshot["kubeAPIServerVersion"] = "v1.99.0"
                        header["snapshot"] = snapshot
                    }, "ran kube-apiserver v1.99.0"
                ),
            ]
            try FileManager.default.createDirectory(atPath: ws("other"), withIntermediateDirectories: true)
            for (name, data, message) in cases {
                let path = ws.path + "/\(name).k8senv-bundle"
                FileManager.default.createFile(atPath: path, contents: data)
                let refused = try await ws.shell(
                    "cd other && K8SENV_BUNDLE_KEY='\(BundleTests.secret)' k8senv open \(path)")
                #expect(refused.status != 0, "\(name): \(refused)")
                #expect(
                    refused.stderr.contains("refused: \(path)") && refused.stderr.contains(message),
                    "\(name): \(refused)")
                let runs = (try? FileManager.default.contentsOfDirectory(atPath: ws("other/.k8senv/runs"))) ?? []
                #expect(runs.isEmpty, "\(name): nothing is left in open's folder: \(runs)")
                #expect(
                    !FileManager.default.fileExists(atPath: ws.path + "/escaped")
                        && !FileManager.default.fileExists(atPath: ws("escaped")),
                    "\(name)")
            }
            // A state folder planted as a symlink: refused, nothing written where it points.
            try FileManager.default.createDirectory(atPath: ws("planted/target"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: ws("planted/.k8senv"), withDestinationPath: ws("planted/target"))
            let symlinked = try await ws.shell(
                "cd planted && K8SENV_BUNDLE_KEY='\(BundleTests.secret)' k8senv open ../pm/one-0.k8senv-bundle")
            #expect(symlinked.status != 0 && symlinked.stderr.contains("symlink"), "\(symlinked)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: ws("planted/target")).isEmpty, "\(symlinked)")

            let imported = try await ws.k8senv("cache", "import", ws("pm/one-0.k8senv-bundle"), environment: signing)
            #expect(
                imported.status != 0 && imported.stderr.contains("a post-mortem bundle of the instance one-0"),
                "\(imported)")
            #expect(ws.leftovers().isEmpty, "\(ws.leftovers())")
        }
    }

    @Test(
        "issue 29: a command ended by a signal leaves a bundle that names the signal; with postmortem.when: always a passing command leaves one too"
    )
    func signalAndAlways() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "postmortem-signal") { ws in
            try Self.prepare(ws)
            let killed = try await ws.k8senv("run", "--postmortem", "killed", "--", "sh", "-c", "kill -TERM $$")
            #expect(killed.status == 143, "\(killed)")
            let list = try await ws.k8senv("open", "--list", ws("killed/one-0.k8senv-bundle"))
            #expect(list.stdout.contains("the command was ended by signal 15 (exit status 143)"), "\(list)")

            try ws.write(
                "always.yaml",
                Self.config.replacingOccurrences(
                    of: "audit: {level: Metadata}",
                    with: "audit: {level: Metadata}\npostmortem: {dir: always, when: always}"))
            let passed = try await ws.k8senv("run", "-f", "always.yaml", "--", "true")
            #expect(passed.status == 0, "\(passed)")
            let always = try await ws.k8senv("open", "--list", ws("always/one-0.k8senv-bundle"))
            #expect(always.stdout.contains("the command passed (postmortem.when: always)"), "\(always)")
        }
    }

    @Test(
        "issue 29: postmortem.maxSize bounds a bundle: a store larger than it gets no bundle (said, the exit status stays the command's); with room for the store and a little more, the logs are cut or left out and the bundle says so"
    )
    func sizeBound() async throws {
        _ = try RealBinaries.require()
        try await Workspace.with(config: Self.config, name: "postmortem-size") { ws in
            try Self.prepare(ws)
            func config(_ size: String) -> String {
                Self.config.replacingOccurrences(
                    of: "audit: {level: Metadata}",
                    with: "audit: {level: Metadata}\npostmortem: {dir: pm, maxSize: \"\(size)\"}")
            }
            try ws.write("tiny.yaml", config("1K"))
            let tiny = try await ws.k8senv("run", "-f", "tiny.yaml", "--", "sh", "-c", "exit 4")
            #expect(tiny.status == 4, "\(tiny)")
            #expect(!FileManager.default.fileExists(atPath: ws("pm/one-0.k8senv-bundle")), "\(tiny)")
            let said = try #require(
                tiny.stderr.split(separator: "\n").first { $0.contains("no post-mortem bundle: its store is ") },
                "\(tiny)")
            #expect(said.contains("more than postmortem.maxSize (1024 bytes)"), "\(said)")
            let store = try #require(
                Int(said.components(separatedBy: "its store is ")[1].prefix { $0.isNumber }), "\(said)")

            // A page or two more of store by the second run, the CRDs and config, part of the logs.
            let limit = store + 10_000
            try ws.write("fit.yaml", config(String(limit)))
            let fit = try await ws.k8senv("run", "-f", "fit.yaml", "--", "sh", "-c", "exit 5")
            #expect(fit.status == 5, "\(fit)")
            let list = try await ws.k8senv("open", "--list", ws("pm/one-0.k8senv-bundle"))
            #expect(
                list.status == 0 && list.stdout.contains("left out: ")
                    && list.stdout.contains("postmortem.maxSize reached"), "\(list)")
            let sizes = list.stdout.split(separator: "\n").filter { $0.hasSuffix(" bytes") && $0.hasPrefix("    ") }
                .compactMap { Int($0.split(separator: " ").dropLast().last ?? "") }
            #expect(!sizes.isEmpty && sizes.reduce(0, +) <= limit, "at most \(limit) bytes: \(list)")
        }
    }

    @Test(
        "issue 29: a lease released with mode keep is written as a bundle into postmortem.dir (it holds what the holder did); the next holder gets a clean instance"
    )
    func releaseKeep() async throws {
        _ = try RealBinaries.require()
        let config = Self.config.replacingOccurrences(
            of: "audit: {level: Metadata}", with: "audit: {level: Metadata}\npostmortem: {dir: kept}")
        try await Workspace.with(config: config, name: "postmortem-keep") { ws in
            try Self.prepare(ws)
            let up = try await ws.k8senv("up", "--detach", "--quiet")
            try #require(up.status == 0, "\(up)")
            let leased = try await ws.shell(
                """
                eval "$(k8senv acquire -e one)" || exit 10
                kubectl create namespace from-lease >/dev/null || exit 11
                k8senv release --mode keep || exit 12
                eval "$(k8senv acquire -e one)" || exit 13
                kubectl get namespace from-lease 2>&1; echo "next holder: $?"
                kubectl get configmap settings -o name || exit 14
                k8senv release || exit 15
                """)
            #expect(leased.status == 0, "\(leased)")
            let bundle = ws("kept/one-0.k8senv-bundle")
            #expect(leased.stdout.hasPrefix(bundle + "\n"), "release --mode keep prints the bundle: \(leased)")
            #expect(
                leased.stdout.contains("NotFound") && leased.stdout.contains("next holder: 1\n")
                    && leased.stdout.contains("configmap/settings"),
                "the next holder gets a clean instance: \(leased)")
            let list = try await ws.k8senv("open", "--list", bundle)
            #expect(list.status == 0 && list.stdout.contains("released with mode keep"), "\(list)")
            let opened = try await ws.shell(
                """
                mkdir -p elsewhere && cd elsewhere || exit 20
                eval "$(k8senv open --detach \(bundle))" || exit 21
                kubectl get namespace from-lease -o name
                k8senv down >/dev/null
                """)
            #expect(opened.status == 0 && opened.stdout.contains("namespace/from-lease"), "\(opened)")
            let down = try await ws.k8senv("down")
            #expect(down.status == 0, "\(down)")
        }
    }

    /// `real` with its header and files changed by `change` (the header, the file list, the
    /// files' bytes by name), the checksum recomputed and signed with `secret`, as someone who
    /// knows the format and the key would make it (docs/reference/cache-layout.md).
    static func craft(
        _ real: Data, secret: String,
        _ change: (inout [String: Any], inout [[String: Any]], inout [String: Data]) -> Void
    ) throws -> Data {
        let bytes = [UInt8](real)
        let first = try #require(bytes.firstIndex(of: 0x0A))
        let second = try #require(bytes[(first + 1)...].firstIndex(of: 0x0A))
        var header = try #require(
            try JSONSerialization.jsonObject(with: Data(bytes[(first + 1)..<second])) as? [String: Any])
        var files = try #require(header["files"] as? [[String: Any]])
        var data: [String: Data] = [:]
        var offset = second + 1
        for file in files {
            let size = try #require(file["size"] as? Int)
            data[file["name"] as! String] = Data(bytes[offset..<offset + size])
            offset += size
        }
        change(&header, &files, &data)
        let hasher = SHA256Hasher()
        for index in files.indices {
            let name = files[index]["name"] as! String
            let content = data[name] ?? Data()
            files[index]["size"] = content.count
            hasher.update("\(name)\n\(content.count)\n")
            hasher.update([UInt8](content))
        }
        var snapshot = try #require(header["snapshot"] as? [String: Any])
        snapshot["checksum"] = hasher.finalize()
        header["snapshot"] = snapshot
        header["files"] = files
        var output = Data(bytes[...first])
        output.append(
            try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        output.append(0x0A)
        for file in files { output.append(data[file["name"] as! String] ?? Data()) }
        let key = HMACSHA256.mac(key: Array(secret.utf8), Array("k8senv bundle signing key v1".utf8))
        let mac = HMACSHA256.mac(key: key, [UInt8](output))
        output.append(Data(("hmac-sha256 " + mac.map { String(format: "%02x", $0) }.joined() + "\n").utf8))
        return output
    }
}
