// swift-tools-version: 6.1
// k8senv needs Swift 6.3 (built and tested with 6.3.1 only); 6.1 above is the manifest's format.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// What `k8senv version` prints: scripts/release.sh sets these; a build from source sets none and
/// says `dev`. Each becomes a -D define of CK8sEnvBuildInfo only, so a new version recompiles one
/// C file. The value is checked so that no quote or backslash can reach the compiler's command line.
let buildInfo: [CSetting] = [
    "K8SENV_BUILD_VERSION", "K8SENV_BUILD_COMMIT", "K8SENV_BUILD_SWIFT_VERSION", "K8SENV_BUILD_DATE",
].compactMap { name in
    guard let value = Context.environment[name], !value.isEmpty else { return nil }
    guard value.allSatisfy({ $0.isLetter || $0.isNumber || "._+-:() ".contains($0) }) else {
        fatalError("Package.swift: \(name)=\(value) has a character outside [A-Za-z0-9._+-:() ]")
    }
    return .define(name, to: "\"\(value)\"")
}

let package = Package(
    name: "k8senv",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "k8senv", targets: ["k8senv"]),
        .library(name: "K8sEnvSpec", targets: ["K8sEnvSpec"]),
        .library(name: "K8sEnvRunner", targets: ["K8sEnvRunner"]),
        .library(name: "K8sEnvStore", targets: ["K8sEnvStore"]),
        .executable(name: "k8senv-kine", targets: ["k8senv-kine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Small C helpers that cannot be written safely in Swift: fork/exec with a
        // parent-death signal, and OpenSSL calls that are macros in the headers.
        .target(
            name: "CK8sEnvSupport",
            dependencies: ["COpenSSL"]
        ),
        .target(
            name: "CK8sEnvBuildInfo",
            cSettings: buildInfo
        ),
        .target(
            name: "K8sEnvSpec",
            dependencies: ["CYAML", "COpenSSL"],
            swiftSettings: swiftSettings
        ),
        // Operating-system calls several modules make (Unix sockets) and the task executor on an event
        // loop, below the store and the runner.
        .target(
            name: "K8sEnvSystem",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "K8sEnvRunner",
            dependencies: [
                "K8sEnvSpec",
                "K8sEnvStore",
                "K8sEnvSystem",
                "CK8sEnvSupport",
                "COpenSSL",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // The etcd v3 API over SQLite (Generated/ is protoc output: scripts/gen-etcd-proto.sh).
        .target(
            name: "K8sEnvStore",
            dependencies: [
                "CSQLite",
                "K8sEnvSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        // kine's command line over the store: the main of k8senv-kine, and of k8senv run as
        // k8senv-kine (the release's link).
        .target(
            name: "K8sEnvKine",
            dependencies: [
                "K8sEnvStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "k8senv-kine",
            dependencies: ["K8sEnvKine"],
            swiftSettings: swiftSettings
        ),
        // The command line: every command, one file each (the executable is its @main).
        .target(
            name: "K8sEnvCLI",
            dependencies: [
                "K8sEnvSpec",
                "K8sEnvRunner",
                "CK8sEnvBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "k8senv",
            dependencies: ["K8sEnvCLI", "K8sEnvKine"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "k8senv-pool-benchmark",
            dependencies: ["K8sEnvRunner"],
            path: "Benchmarks/PoolBenchmark",
            swiftSettings: swiftSettings
        ),
        // Shared by the test targets: where the package and the built binary are.
        .target(
            name: "K8sEnvTestSupport",
            path: "Tests/K8sEnvTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "K8sEnvSpecTests",
            dependencies: ["K8sEnvSpec", "K8sEnvTestSupport"],
            resources: [.copy("Corpus")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "K8sEnvRunnerTests",
            dependencies: ["K8sEnvRunner", "K8sEnvSpec", "K8sEnvStore", "K8sEnvSystem", "K8sEnvTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "K8sEnvStoreTests",
            dependencies: ["K8sEnvStore", "K8sEnvTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "k8senvTests",
            dependencies: ["K8sEnvSpec", "K8sEnvRunner", "K8sEnvCLI", "K8sEnvTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
