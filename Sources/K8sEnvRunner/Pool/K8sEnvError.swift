/// An error of the library API: what went wrong, in words a test author can act on.
public struct K8sEnvError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The config file is invalid (the message has `file:line:col` errors).
        public static let invalidConfig = Code(rawValue: "invalid-config")
        /// No such environment in the config.
        public static let unknownEnvironment = Code(rawValue: "unknown-environment")
        /// A binary is missing, or a process failed to start or died.
        public static let process = Code(rawValue: "process")
        /// A CRD or seed manifest was rejected.
        public static let manifests = Code(rawValue: "manifests")
        /// The snapshot cache could not be read or written.
        public static let cache = Code(rawValue: "cache")
        /// No instance became free within the acquire timeout.
        public static let acquireTimeout = Code(rawValue: "acquire-timeout")
        /// The instance was released already (or was never acquired from this pool).
        public static let notAcquired = Code(rawValue: "not-acquired")
        /// The pool was shut down.
        public static let shutDown = Code(rawValue: "shut-down")
        /// The waiting task was cancelled.
        public static let cancelled = Code(rawValue: "cancelled")
        /// Cleaning the instance after use failed (it was stopped and will be replaced).
        public static let cleanup = Code(rawValue: "cleanup")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    init(_ error: StartError, files: SourceFilesRenderer) {
        switch error {
        case .process(let e): self.init(.process, e.description)
        case .manifests(let d): self.init(.manifests, files.render(d))
        case .cache(let e): self.init(.cache, e.description)
        }
    }
}
