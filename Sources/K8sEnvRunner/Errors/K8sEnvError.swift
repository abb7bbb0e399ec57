import K8sEnvSpec

/// The one error k8senv reports, from the library API and from every command: a code in a
/// domain (what part failed), a message in words the user can act on (with `file:line:col`,
/// the command line and the log tail where they help), and the underlying cause.
/// The exit status of a command is derived from it in one place (``exitStatus``).
public struct K8sEnvError: Error, Sendable, CustomStringConvertible {
    /// The part of k8senv that failed.
    public struct Domain: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The config file, its profiles, environments, CRD and seed files.
        public static let config = Domain(rawValue: "config")
        /// A program k8senv runs is missing or not runnable.
        public static let binary = Domain(rawValue: "binary")
        /// A process (kube-apiserver, a helper) or the files an instance needs.
        public static let process = Domain(rawValue: "process")
        /// A store (the embedded store, kine, etcd) could not start or stopped serving.
        public static let storage = Domain(rawValue: "storage")
        /// The snapshot cache.
        public static let cache = Domain(rawValue: "cache")
        /// A CRD or seed manifest the server rejected, or seeding that took too long.
        public static let apply = Domain(rawValue: "apply")
        /// A pool: acquire, release, shutdown.
        public static let pool = Domain(rawValue: "pool")
        /// SIGINT or SIGTERM ended a start.
        public static let interrupted = Domain(rawValue: "interrupted")
    }

    /// The kind of failure, within its ``Domain``.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public var domain: Domain
        public init(rawValue: String) { self.init(rawValue, .process) }
        init(_ rawValue: String, _ domain: Domain) {
            self.rawValue = rawValue
            self.domain = domain
        }
        public var description: String { rawValue }
        public static func == (a: Code, b: Code) -> Bool { a.rawValue == b.rawValue }
        public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

        /// The config file is invalid (the message has `file:line:col` errors).
        public static let invalidConfig = Code("invalid-config", .config)
        /// A file k8senv would write is there already, or its folder is missing (`k8senv init`
        /// never overwrites).
        public static let fileExists = Code("file-exists", .config)
        /// No such environment in the config.
        public static let unknownEnvironment = Code("unknown-environment", .config)
        /// A program is not found or not executable.
        public static let binaryNotFound = Code("binary-not-found", .binary)
        /// A process failed to start, did not become ready in time, or died; or an instance's
        /// files (folders, certificates, kubeconfig) could not be written.
        public static let process = Code("process", .process)
        /// A store could not start or stopped serving.
        public static let storage = Code("storage", .storage)
        /// A CRD or seed manifest was rejected.
        public static let manifests = Code("manifests", .apply)
        /// The snapshot cache could not be read or written.
        public static let cache = Code("cache", .cache)
        /// No instance became free within the acquire timeout.
        public static let acquireTimeout = Code("acquire-timeout", .pool)
        /// The instance was released already (or was never acquired from this pool).
        public static let notAcquired = Code("not-acquired", .pool)
        /// The pool was shut down.
        public static let shutDown = Code("shut-down", .pool)
        /// The waiting task was cancelled.
        public static let cancelled = Code("cancelled", .pool)
        /// Cleaning the instance after use failed (it was stopped and will be replaced).
        public static let cleanup = Code("cleanup", .pool)
        /// SIGINT or SIGTERM came while starting; what had started was stopped.
        public static let interrupted = Code("interrupted", .interrupted)
        /// `k8senv diff`: the store no longer holds the revision an instance is compared with.
        public static let historyCompacted = Code("history-compacted", .storage)
        /// No detached run, or no instance of that name in it.
        public static let notRunning = Code("not-running", .process)
    }

    public var code: Code
    public var domain: Domain { code.domain }
    /// What went wrong, for the user (may span lines).
    public var message: String
    /// The underlying error (a ``ProcessError``, the config's diagnostics, a cache error, …).
    public var cause: (any Error & Sendable)?
    /// A run folder kept for its logs, when there is one.
    public var keptFolder: String?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    /// The message as a command prints it: diagnostics as they are (`file:line:col: error: …`),
    /// anything else after `error: `.
    package var report: String {
        cause is Diagnostics || domain == .interrupted ? message : "error: " + message
    }

    /// A command's exit status for this error: 130 when a signal interrupted a start, else 1.
    /// (2, a usage error, is ArgumentParser's; a command's own status is `run`'s.) The one place
    /// errors become exit statuses.
    public var exitStatus: Int32 { domain == .interrupted ? 130 : 1 }

    /// A process, file, store or snapshot failure, in the domain the failure names.
    package init(_ error: ProcessError) {
        let code: Code =
            switch error.domain {
            case .binary: .binaryNotFound
            case .storage: .storage
            case .cache: .cache
            default: .process
            }
        self.init(code, error.description, cause: error)
    }

    /// One diagnostic (a CRD or seed file that cannot be read), rendered with its source line.
    package init(_ code: Code, _ diagnostic: Diagnostic, files: SourceFiles) {
        self.init(code, Diagnostics([diagnostic]), files: files)
    }

    /// The config's (or a manifest's) diagnostics, rendered with their source lines.
    package init(_ code: Code, _ diagnostics: Diagnostics, files: SourceFiles) {
        self.init(code, files.renderer.render(diagnostics), cause: diagnostics)
    }

    /// A cache failure.
    package init(_ error: CacheError) {
        self.init(.cache, error.description, cause: error)
    }
}
