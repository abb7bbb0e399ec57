import Foundation
import K8sEnvSpec

/// Applies an environment's CRDs and seed sets to an instance: server-side apply with field
/// manager `k8senv` (and a fallback where the server cannot apply an object), CRDs waited until
/// Established, objects of a set in kind order.
package struct Applier: Sendable {
    package let client: KubeClient
    package let discovery: Discovery
    package let files: SourceFiles
    package let serverVersion: KubeVersion
    /// kube-apiserver's log, quoted when the server fails on an object.
    package let serverLog: ServerLog?
    /// Only server-side apply, no fallback: what `kubectl apply --server-side` does (tests use it
    /// to meet the server's own failures).
    package var serverSideApplyOnly = false
    /// When seeding must end (`timeouts.seeds`) and the words naming that limit: every
    /// request's deadline is the sooner of this and ``requestTimeout``.
    package var deadline: (instant: ContinuousClock.Instant, name: String)?
    /// How long one request may wait for an answer.
    package var requestTimeout: Duration = .seconds(30)
    /// Requests in flight while a seed set is applied. kube-apiserver's create rate on two cores
    /// rises up to about this many (scripts/bench/bench-seed-limit.sh, see
    /// docs/explanation/performance.md#seeding); more only queues inside the server.
    package var seedConcurrency = 32

    package init(client: KubeClient, files: SourceFiles, serverVersion: KubeVersion, serverLog: ServerLog? = nil) {
        self.client = client
        self.serverLog = serverLog
        self.discovery = Discovery(client: client)
        self.files = files
        self.serverVersion = serverVersion
    }

    /// Reads the objects of files, in order.
    func objects(_ manifestFiles: [ManifestFile]) throws(Diagnostics) -> [ManifestObject] {
        var all: [ManifestObject] = []
        var errors: [Diagnostic] = []
        for file in manifestFiles {
            do { all += try Manifests.read(file, files: files) } catch { errors += error.items }
        }
        if !errors.isEmpty { throw Diagnostics(errors) }
        return all
    }

    /// Applies CRDs and waits until each is Established.
    /// - Returns: how many were applied.
    /// - Throws: ``Diagnostics``, each at the manifest it concerns.
    @discardableResult
    package func applyCRDs(_ manifestFiles: [ManifestFile], timeout: Duration) async throws(Diagnostics) -> Int {
        let crds = try objects(manifestFiles)
        guard !crds.isEmpty else { return 0 }
        var errors: [Diagnostic] = []
        await withTaskGroup(of: Diagnostic?.self) { group in
            for crd in crds {
                group.addTask { await self.apply(crd) }
            }
            for await error in group { if let error { errors.append(error) } }
        }
        if !errors.isEmpty { throw Diagnostics(errors) }
        try await waitEstablished(crds, timeout: timeout)
        await discovery.reset()
        return crds.count
    }

    /// Applies the objects of one seed set in kind order.
    @discardableResult
    package func applySeedSet(_ manifestFiles: [ManifestFile]) async throws(Diagnostics) -> Int {
        let sorted = ApplyOrder.sorted(try objects(manifestFiles))
        // Objects of one kind are independent: apply each kind's objects concurrently, kinds in
        // order (a kind's objects are all answered before the next kind starts).
        var index = 0
        while index < sorted.count {
            let kind = sorted[index].kind
            var end = index
            while end < sorted.count, sorted[end].kind == kind { end += 1 }
            let errors = await applyConcurrently(sorted[index..<end])
            if !errors.isEmpty { throw Diagnostics(errors) }
            index = end
        }
        return sorted.count
    }

    /// Applies objects with up to ``seedConcurrency`` requests in flight: a new one starts as
    /// soon as one is answered, so the server always has as many as it can take.
    /// - Returns: what went wrong, one diagnostic per object that failed. Past the deadline,
    ///   the objects in flight are named and the rest are not tried.
    ///
    /// The objects' tasks run on the event loop of the client's connection (``KubeClient/executor``):
    /// an answer is checked and the next object sent from the thread that read it, without waking
    /// another one in between (see docs/explanation/performance.md#seeding).
    func applyConcurrently(_ objects: ArraySlice<ManifestObject>) async -> [Diagnostic] {
        await withTaskExecutorPreference(client.executor) { await sendConcurrently(objects) }
    }

    private func sendConcurrently(_ objects: ArraySlice<ManifestObject>) async -> [Diagnostic] {
        var errors: [Diagnostic] = []
        await withTaskGroup(of: Diagnostic?.self) { group in
            var next = objects.startIndex
            func startNext() {
                guard next < objects.endIndex else { return }
                let object = objects[next]
                next += 1
                group.addTask { await self.seed(object) }
            }
            for _ in 0..<max(1, seedConcurrency) { startNext() }
            for await error in group {
                if let error { errors.append(error) }
                if let deadline, deadline.instant <= .now, !errors.isEmpty { continue }
                startNext()
            }
        }
        return errors
    }

    /// Installs what an environment's instances get after they start (see
    /// docs/explanation/webhooks.md): each CRD's conversion webhook pointed at the run's webhook
    /// server (a JSON merge patch of its clientConfig), then the webhook configurations,
    /// rewritten, mutating before validating.
    /// - Returns: how many webhook configurations and CRD conversions were installed.
    /// - Throws: ``Diagnostics``, each at the manifest it concerns.
    package func applyWebhooks(_ install: WebhookInstall) async throws(Diagnostics) -> (
        configurations: Int, conversions: Int
    ) {
        var errors: [Diagnostic] = []
        await withTaskGroup(of: Diagnostic?.self) { group in
            for (crd, conversion) in install.conversions {
                group.addTask {
                    let path =
                        "/apis/\(conversion.apiVersion)/customresourcedefinitions/\(conversion.name)?fieldManager=k8senv"
                    let mark = self.serverLog?.mark()
                    let result = await self.attempt(
                        "PATCH", path, conversion.patch, contentType: "application/merge-patch+json")
                    return self.outcome(result, crd, nil, mark)
                }
            }
            for await error in group { if let error { errors.append(error) } }
        }
        if !errors.isEmpty { throw Diagnostics(errors) }
        for kind in WebhookRewrite.kinds {
            await withTaskGroup(of: Diagnostic?.self) { group in
                for (object, json) in install.configurations where object.kind == kind {
                    group.addTask { await self.apply(object, body: json) }
                }
                for await error in group { if let error { errors.append(error) } }
            }
            if !errors.isEmpty { throw Diagnostics(errors) }
        }
        return (install.configurations.count, install.conversions.count)
    }

    /// Where an object goes on this server, and what is sent.
    struct Target {
        /// Its namespace; nil for a cluster-scoped kind.
        var namespace: String?
        var json: [UInt8]
        /// The path of its kind's collection (what a create is sent to).
        var collection: String
        /// The path of the object itself.
        var path: String
    }

    /// The object's kind found on the server (discovery), its path and its JSON.
    /// - Throws: the diagnostic to report for the object (an unknown kind, a deadline passed).
    func target(_ object: ManifestObject, body: [UInt8]?) async throws(Diagnostic) -> Target {
        guard let timeout = timeLeft() else { throw noAnswer(pastDeadline(), object, nil) }
        let resource: ResourceInfo?
        do {
            resource = try await discovery.resource(apiVersion: object.apiVersion, kind: object.kind, timeout: timeout)
        } catch {
            if error.timedOut { throw noAnswer(error, object, nil) }
            throw Diagnostic(.manifest, at: object.location, "\(object.kind) \(object.quotedName): \(error.message)")
        }
        guard let resource else {
            throw Diagnostic(
                .manifest, at: object.kindLocation,
                "the server does not serve kind \(object.kind) in \(object.apiVersion) (\(object.name)); is its CRD listed in crds, or the apiVersion right for Kubernetes \(serverVersion)?"
            )
        }
        let namespace = resource.namespaced ? (object.namespace ?? "default") : nil
        let json: [UInt8]
        if let body { json = body } else { json = try object.json() }
        return Target(
            namespace: namespace, json: json,
            collection: resource.path(name: nil, namespace: namespace),
            path: resource.path(name: object.name, namespace: namespace))
    }

    /// Applies one object; nil on success, else what went wrong at the object's position.
    ///
    /// Server-side apply (field manager `k8senv`, conflicts forced) first. When the server
    /// cannot apply it (a 5xx such as v1.20's "failed to create typed patch object" for a list
    /// item that omits a key field, or a stream reset by a panic inside apply), the object is
    /// created when absent and merge-patched (same field manager) when present, as
    /// `kubectl apply` would land it. An object with only `metadata.generateName` is created.
    /// See docs/explanation/apply.md.
    /// - Parameter body: the JSON to send instead of the object's own (a rewritten webhook
    ///   configuration); errors still point into the object's file.
    func apply(_ object: ManifestObject, body: [UInt8]? = nil) async -> Diagnostic? {
        let target: Target
        do { target = try await self.target(object, body: body) } catch { return error }
        return await apply(object, to: target)
    }

    func apply(_ object: ManifestObject, to target: Target) async -> Diagnostic? {
        let namespace = target.namespace
        let json = target.json
        let mark = serverLog?.mark()
        if object.generated {
            return outcome(
                await attempt("POST", target.collection + "?fieldManager=k8senv", json, contentType: nil), object,
                namespace, mark)
        }
        let applied = await attempt(
            "PATCH", target.path + "?fieldManager=k8senv&force=true", json,
            contentType: "application/apply-patch+yaml")
        // A field this server is too old for is reported, not left to a create that would drop
        // it without a word (CRD validation rules lost: tests would pass that should not).
        guard applied.serverFailed, !serverSideApplyOnly, !names(tooNewFieldIn: applied),
            conversionFailure(in: applied) == nil
        else {
            return outcome(applied, object, namespace, mark)
        }
        // The server could not apply it: create or update it without server-side apply.
        var result = await attempt("GET", target.path, nil, contentType: nil)
        if case .answered(let response) = result, response.status == 404 {
            result = await attempt("POST", target.collection + "?fieldManager=k8senv", json, contentType: nil)
            guard case .answered(let created) = result, created.status == 409 else {
                return outcome(result, object, namespace, mark)
            }
            // Created meanwhile: update it.
        } else if !result.succeeded {
            return outcome(result, object, namespace, mark)
        }
        result = await attempt(
            "PATCH", target.path + "?fieldManager=k8senv", json, contentType: "application/merge-patch+json")
        return outcome(result, object, namespace, mark)
    }

    /// Lands one object of a seed set: created when it is new (kube-apiserver takes a create
    /// for about two thirds of what a server-side apply costs it), applied as ``apply(_:body:)``
    /// does when it exists. What lands is what server-side apply would have landed
    /// (docs/explanation/apply.md):
    /// - a create that the server stored without a field of the manifest (v1.20 drops fields
    ///   it does not know from a create without a word; server-side apply names some) is
    ///   applied after it, whose answer decides;
    /// - an object that exists is applied; when k8senv's create made it (an earlier seed set,
    ///   or the environment this one extends), the fields that create set are first made
    ///   k8senv's applied fields, so that this apply removes the ones it leaves out, as a second
    ///   server-side apply does;
    /// - a create the server refuses is applied instead, so the error is server-side apply's.
    func seed(_ object: ManifestObject) async -> Diagnostic? {
        guard !serverSideApplyOnly, !object.generated else { return await apply(object) }
        let target: Target
        do { target = try await self.target(object, body: nil) } catch { return error }
        let mark = serverLog?.mark()
        let created = await attempt("POST", target.collection + "?fieldManager=k8senv", target.json, contentType: nil)
        switch created {
        case .answered(let response) where (200..<300).contains(response.status):
            guard let sent = JSONValue.parse(target.json), let stored = JSONValue.parse(response.body),
                Self.droppedField(sent: sent, stored: stored) == nil
            else { return await apply(object, to: target) }
            return nil
        case .answered(let response) where response.status == 409:
            await adoptCreatedFields(target)
            return await apply(object, to: target)
        case .unanswered(let error) where error.timedOut:
            return outcome(created, object, target.namespace, mark)
        default:
            return await apply(object, to: target)
        }
    }

    /// The first field of the manifest (`.spec.foo`) that the server did not store, or nil.
    /// Values are not compared (the server normalises quantities, defaults fields); a field
    /// whose value is empty, null, false or zero may be left out by the server's encoding, and
    /// `status` and a Secret's `stringData` are never stored as sent.
    static func droppedField(sent: JSONValue, stored: JSONValue, path: String = "") -> String? {
        switch (sent, stored) {
        case (.object(let sentMembers), .object(let storedMembers)):
            for (key, value) in sentMembers.sorted(by: { $0.key < $1.key }) {
                if path.isEmpty && (key == "status" || key == "stringData") { continue }
                if value.isZero { continue }
                guard let kept = storedMembers[key] else { return path + "." + key }
                if let dropped = droppedField(sent: value, stored: kept, path: path + "." + key) { return dropped }
            }
        case (.array(let sentItems), .array(let storedItems)):
            for (index, item) in sentItems.enumerated() where !item.isZero {
                guard index < storedItems.count else { return "\(path)[\(index)]" }
                if let dropped = droppedField(sent: item, stored: storedItems[index], path: "\(path)[\(index)]") {
                    return dropped
                }
            }
        default:
            break
        }
        return nil
    }

    /// Makes the fields k8senv's create set on an object (manager `k8senv`, operation `Update`)
    /// its applied fields (operation `Apply`), so the server-side apply that follows owns them
    /// and removes those it leaves out. Nothing is changed when another create or update of
    /// k8senv's is recorded too, or the object changed meanwhile; the apply goes on either way.
    func adoptCreatedFields(_ target: Target) async {
        guard case .answered(let response) = await attempt("GET", target.path, nil, contentType: nil),
            response.status == 200, let live = JSONValue.parse(response.body),
            let version = live["metadata"]?["resourceVersion"]?.string,
            let entries = live["metadata"]?["managedFields"]?.array
        else { return }
        let ours = entries.indices.filter { entries[$0]["manager"]?.string == "k8senv" }
        guard ours.count == 1, let index = ours.first, entries[index]["operation"]?.string == "Update" else { return }
        let patch: JSONValue = .array([
            .object(["op": .string("test"), "path": .string("/metadata/resourceVersion"), "value": .string(version)]),
            .object([
                "op": .string("replace"), "path": .string("/metadata/managedFields/\(index)/operation"),
                "value": .string("Apply"),
            ]),
        ])
        _ = await attempt(
            "PATCH", target.path + "?fieldManager=k8senv", Array(patch.description.utf8),
            contentType: "application/json-patch+json")
    }

    /// What one request gave: the server's answer, or no answer (reset stream, dropped connection).
    enum Attempt {
        case answered(KubeClient.Response)
        case unanswered(KubeClientError)

        var succeeded: Bool {
            if case .answered(let response) = self { return (200..<300).contains(response.status) }
            return false
        }

        /// The server failed (5xx) or did not answer: not a verdict on the object. A request
        /// that ran out of time is not: trying another way would only wait again.
        var serverFailed: Bool {
            switch self {
            case .answered(let response): return response.status >= 500
            case .unanswered(let error): return !error.timedOut
            }
        }
    }

    /// A request's timeout: the sooner of ``requestTimeout`` and the deadline; nil when the
    /// deadline has passed.
    func timeLeft() -> Duration? {
        guard let deadline else { return requestTimeout }
        let left = deadline.instant - .now
        return left > .zero ? min(requestTimeout, left) : nil
    }

    func pastDeadline() -> KubeClientError {
        var error = KubeClientError(status: nil, message: "\(deadline?.name ?? "the deadline") passed", body: [])
        error.timedOut = true
        return error
    }

    func attempt(_ method: String, _ path: String, _ body: [UInt8]?, contentType: String?) async -> Attempt {
        guard let timeout = timeLeft() else { return .unanswered(pastDeadline()) }
        do {
            return .answered(
                try await client.send(method, path, body: body, contentType: contentType, timeout: timeout))
        } catch {
            return .unanswered(error)
        }
    }

    /// Whether the server's answer names a field it is too old for (``FieldVersions``).
    func names(tooNewFieldIn attempt: Attempt) -> Bool {
        guard case .answered(let response) = attempt, !(200..<300).contains(response.status) else { return false }
        let error = KubeClientError(status: response.status, message: "", body: response.body)
        return FieldVersions.hint(for: error.serverMessage ?? "", serverVersion: serverVersion) != nil
    }

    /// The server's message when it could not convert an object through its CRD's conversion
    /// webhook (`conversion webhook for example.com/v1, Kind=Gizmo failed: …`).
    func conversionFailure(in attempt: Attempt) -> String? {
        guard case .answered(let response) = attempt, !(200..<300).contains(response.status) else { return nil }
        let message = KubeClientError(status: response.status, message: "", body: response.body).serverMessage ?? ""
        return message.contains("conversion webhook for") ? message : nil
    }

    /// nil for a success; else the diagnostic for the last request's answer.
    func outcome(_ attempt: Attempt, _ object: ManifestObject, _ namespace: String?, _ mark: ServerLog.Mark?)
        -> Diagnostic?
    {
        let what = "\(object.kind) \(object.quotedName)"
        switch attempt {
        case .answered(let response) where (200..<300).contains(response.status):
            return nil
        case .answered where conversionFailure(in: attempt) != nil:
            // A seed in a version its CRD's conversion webhook would have to convert: while the
            // snapshot is built, nothing serves that webhook (ConfigChecks catches the usual case).
            return Diagnostic(
                .manifest, at: object.node["apiVersion"]?.location ?? object.location,
                "\(what) (\(object.apiVersion)) needs its CRD's conversion webhook, which does not run while k8senv builds the snapshot; write it in the CRD's storage version (\(DocsLink.page("explanation/webhooks.md"))). kube-apiserver said: \(conversionFailure(in: attempt) ?? "")"
            )
        case .answered(let response) where response.status < 500 || names(tooNewFieldIn: attempt):
            let error = KubeClientError(status: response.status, message: "\(response.status)", body: response.body)
            return explain(error, object: object, namespace: namespace)
        case .answered(let response):
            let error = KubeClientError(status: response.status, message: "\(response.status)", body: response.body)
            return serverFailure(
                what,
                "it answered \(response.status): \(error.serverMessage ?? String(decoding: response.body.prefix(300), as: UTF8.self))",
                object, mark)
        case .unanswered(let error):
            return noAnswer(error, object, mark)
        }
    }

    /// What to report for a request that got no answer: its deadline passed, or the server
    /// failed (a reset stream, a dropped connection).
    func noAnswer(_ error: KubeClientError, _ object: ManifestObject, _ mark: ServerLog.Mark?) -> Diagnostic {
        let what = "\(object.kind) \(object.quotedName)"
        guard error.timedOut else {
            return serverFailure(what, "it gave no answer (\(Self.transportCause(error)))", object, mark)
        }
        let limit =
            deadline.flatMap { $0.instant <= .now ? $0.name : nil } ?? "the request's deadline (\(requestTimeout))"
        return Diagnostic(
            .manifest, at: object.location,
            "\(limit) passed while \(what) was being applied: kube-apiserver did not answer in time (stopped or overloaded? raise the limit if the seeds need longer; its log: \(serverLog?.path ?? "not kept"))"
        )
    }

    func serverFailure(_ what: String, _ detail: String, _ object: ManifestObject, _ mark: ServerLog.Mark?)
        -> Diagnostic
    {
        var message = "kube-apiserver failed on \(what): \(detail)"
        if let serverLog, let mark {
            let lines = serverLog.errors(since: mark)
            message +=
                lines.isEmpty
                ? "; its log (\(serverLog.path)) has no error lines for it"
                : "; its log (\(serverLog.path)) says:\n" + lines.map { "  | " + $0 }.joined(separator: "\n")
        }
        return Diagnostic(.manifest, at: object.location, message)
    }

    /// The transport error without the URL (the diagnostic names the object).
    static func transportCause(_ error: KubeClientError) -> String {
        guard let range = error.message.range(of: ": ") else { return error.message }
        return String(error.message[range.upperBound...])
    }

    /// A server error in words that say what to change.
    func explain(_ error: KubeClientError, object: ManifestObject, namespace: String?) -> Diagnostic {
        let what = "\(object.kind) \(object.quotedName)"
        let serverMessage = error.serverMessage ?? error.message
        if error.status == 404, let namespace, serverMessage.contains("namespaces \"\(namespace)\" not found") {
            return Diagnostic(
                .manifest, at: object.location,
                "\(what): namespace \"\(namespace)\" does not exist; add a Namespace to this seed set or to one it depends on"
            )
        }
        if let hint = FieldVersions.hint(for: serverMessage, serverVersion: serverVersion) {
            return Diagnostic(.manifest, at: object.location, "\(what) was rejected by the server: \(hint)")
        }
        return Diagnostic(
            .manifest, at: Self.fieldLocation(error, object), "\(what) was rejected by the server: \(serverMessage)")
    }

    /// Where the server's first field error points, when its Status names fields
    /// (`details.causes[].field`); else the object.
    static func fieldLocation(_ error: KubeClientError, _ object: ManifestObject) -> SourceLocation {
        guard let causes = JSONValue.parse(error.body)?["details"]?["causes"]?.array,
            let field = causes.lazy.compactMap({ $0["field"]?.string }).first(where: { !$0.isEmpty })
        else { return object.location }
        return object.location(ofField: field)
    }

    /// Polls the CRDs until each has condition Established=True (every 50 ms, up to `timeout`).
    func waitEstablished(_ crds: [ManifestObject], timeout: Duration) async throws(Diagnostics) {
        var pending = crds
        var lastConditions: [String: String] = [:]
        let outcome = await Poll(every: .milliseconds(50), for: timeout).until {
            var still: [ManifestObject] = []
            for crd in pending {
                let version = crd.apiVersion.split(separator: "/").last.map(String.init) ?? "v1"
                let response = try? await client.send(
                    "GET", "/apis/apiextensions.k8s.io/\(version)/customresourcedefinitions/\(crd.name)")
                let conditions = response?.value?["status"]?["conditions"]?.array ?? []
                let established = conditions.contains {
                    $0["type"]?.string == "Established" && $0["status"]?.string == "True"
                }
                if !established {
                    still.append(crd)
                    lastConditions[crd.name] = conditions.map { c in
                        "\(c["type"]?.string ?? "?")=\(c["status"]?.string ?? "?")"
                            + (c["message"]?.string.map { ": \($0)" } ?? "")
                    }.joined(separator: "; ")
                }
            }
            pending = still
            return pending.isEmpty
        }
        guard case .failure(let gaveUp) = outcome else { return }
        throw Diagnostics(
            pending.map { crd in
                let conditions = lastConditions[crd.name].flatMap { $0.isEmpty ? nil : $0 } ?? "no conditions reported"
                let when = gaveUp.reason == .cancelled ? "before the start was cancelled" : "within timeouts.crds"
                return Diagnostic(
                    .manifest, at: crd.location,
                    "CustomResourceDefinition \"\(crd.name)\" was not Established \(when) (\(conditions))")
            })
    }
}

/// Fields of API objects that need a newer Kubernetes than some servers have.
package enum FieldVersions {
    static let table: [(field: String, version: KubeVersion, what: String)] = [
        (
            "x-kubernetes-validations", KubeVersion(major: 1, minor: 25),
            "CRD validation rules (CEL); beta and on by default from 1.25"
        ),
        ("messageExpression", KubeVersion(major: 1, minor: 27), "CEL messageExpression in validation rules"),
        ("optionalOldSelf", KubeVersion(major: 1, minor: 30), "optionalOldSelf in CRD validation rules"),
        ("selectableFields", KubeVersion(major: 1, minor: 31), "CRD selectableFields"),
    ]

    /// A sentence naming the field, where it is used, and the version that knows it, when the
    /// server's message mentions a field the server is too old for.
    package static func hint(for message: String, serverVersion: KubeVersion) -> String? {
        for entry in table where message.contains(entry.field) && serverVersion < entry.version {
            // Field paths in the server's message, e.g. ".spec.versions[1]....x-kubernetes-validations".
            let paths = message.split(whereSeparator: \.isWhitespace).map(String.init)
                .filter { $0.hasPrefix(".") && $0.contains(entry.field) }
                .map { $0.hasSuffix(":") ? String($0.dropLast()) : $0 }
            var place = ""
            if let first = paths.first {
                place =
                    " at \(first)"
                    + (paths.count > 1 ? " and \(paths.count - 1) more place\(paths.count == 2 ? "" : "s")" : "")
            }
            return
                "the field \(entry.field)\(place) needs Kubernetes v\(entry.version.major).\(entry.version.minor) or newer (\(entry.what)); this kube-apiserver is \(serverVersion)"
        }
        return nil
    }
}
