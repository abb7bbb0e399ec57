// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "k8senv",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "k8senv", targets: ["k8senv"]),
        .library(name: "K8sEnvSpec", targets: ["K8sEnvSpec"]),
        .library(name: "K8sEnvRunner", targets: ["K8sEnvRunner"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
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
        // Small C helpers that cannot be written safely in Swift: fork/exec with a
        // parent-death signal, and OpenSSL calls that are macros in the headers.
        .target(
            name: "CK8sEnvSupport",
            dependencies: ["COpenSSL"]
        ),
        .target(
            name: "K8sEnvSpec",
            dependencies: ["CYAML", "COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "K8sEnvRunner",
            dependencies: [
                "K8sEnvSpec",
                "CK8sEnvSupport",
                "COpenSSL",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "k8senv",
            dependencies: [
                "K8sEnvSpec",
                "K8sEnvRunner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
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
            dependencies: ["K8sEnvRunner", "K8sEnvSpec", "K8sEnvTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "k8senvTests",
            dependencies: ["K8sEnvSpec", "K8sEnvTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
