// swift-tools-version:6.2
// Tributary: streaming machine learning on Apache Kafka.
// Layering (lower never imports higher):
//   CKafka, CZmq        system libraries (librdkafka, libzmq) + tiny C shims
//   Kafka, ZeroMQ       safe Swift wrappers; every C handle freed exactly once
//   Features, Models    pure: event parsing, per-key state, online learners and the cluster's
//                       model layout (Models reads FeatureSpec); no I/O
//   Config              cluster.conf (TOML subset) -> typed ClusterConfig, errors name key+line
//   Wire                versioned control-plane messages shared by all processes
//   Coordinator, Worker pure state machines + thin I/O shells
//   TributaryCLI        the one `tributary` executable
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Tributary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tributary", targets: ["TributaryCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .systemLibrary(name: "CKafka", pkgConfig: "rdkafka",
                       providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CZmq", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .target(name: "Kafka", dependencies: ["CKafka"], swiftSettings: strict),
        .target(name: "ZeroMQ", dependencies: ["CZmq"], swiftSettings: strict),
        .target(name: "Config", dependencies: ["Features", "Models"], swiftSettings: strict),
        // What every process shell shares: swift-log backend, swift-metrics/Prometheus
        // registry and scrape endpoint, service lifecycle (graceful SIGTERM), service errors.
        .target(name: "Runtime",
                dependencies: [
                    .product(name: "Logging", package: "swift-log"),
                    .product(name: "CoreMetrics", package: "swift-metrics"),
                    .product(name: "Metrics", package: "swift-metrics"),
                    .product(name: "Prometheus", package: "swift-prometheus"),
                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                ],
                swiftSettings: strict),
        .target(name: "Features", swiftSettings: strict),
        .target(name: "Models", dependencies: ["Features"], swiftSettings: strict),
        .target(name: "Wire", dependencies: ["ZeroMQ", "Config", "Models"], swiftSettings: strict),
        .target(name: "Coordinator",
                dependencies: ["Wire", "ZeroMQ", "Kafka", "Config", "Features", "Models", "Runtime",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "Worker",
                dependencies: ["Wire", "ZeroMQ", "Kafka", "Config", "Features", "Models", "Runtime",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "CoreMetrics", package: "swift-metrics")],
                swiftSettings: strict),
        .executableTarget(
            name: "TributaryCLI",
            dependencies: [
                "Coordinator", "Worker", "Kafka", "Config", "Wire", "ZeroMQ", "Features", "Models", "Runtime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // The benchmark's end-to-end latency percentiles (issue 8).
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict),
        // Fast, socket-free tests of the pure parts (state machines, parsers, math).
        .testTarget(name: "UnitTests",
                    dependencies: ["Coordinator", "Worker", "Config", "Features", "Models", "Wire", "ZeroMQ", "Runtime"],
                    swiftSettings: strict),
        // Real processes, real mock-cluster Kafka, real ZeroMQ sockets.
        .testTarget(name: "IntegrationTests",
                    dependencies: ["Kafka", "Wire", "ZeroMQ", "Config", "Features", "Models", "Coordinator", "Runtime"],
                    swiftSettings: strict),
    ]
)
