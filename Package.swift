// swift-tools-version: 6.1
import PackageDescription

/// Settings every target of ours compiles with: Swift 6 strict concurrency plus the upcoming
/// features that make imports, existentials and sendability explicit.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "InfiniStore",
    products: [
        .library(name: "InfiniCoding", targets: ["InfiniCoding"]),
        .library(name: "RESP", targets: ["RESP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", from: "1.6.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CISAL",
            path: "CModules/CISAL",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            path: "CModules/CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(
            name: "InfiniCoding",
            dependencies: ["CISAL", "CLZ4"]
        ),
        .target(
            name: "InfiniCodingReference"
        ),
        .target(
            name: "InfiniMetadata",
            dependencies: ["InfiniCOS", "InfiniCoding", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "InfiniMetadataTests",
            dependencies: [
                "InfiniMetadata", "InfiniCoding", "InfiniCOS", "COSTestSupport", "MetadataTestSupport", "ProcessSpawning",
                "metadata-log-writer", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "COSTestSupport",
            dependencies: ["InfiniCOS", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/COSTestSupport"
        ),
        .target(
            name: "MetadataTestSupport",
            dependencies: ["InfiniMetadata", "InfiniCoding"],
            path: "Tests/MetadataTestSupport"
        ),
        // The child process the crash test kills mid-append.
        .executableTarget(
            name: "metadata-log-writer",
            dependencies: ["InfiniMetadata", "MetadataTestSupport"],
            path: "Tests/MetadataLogWriter"
        ),
        .target(
            name: "RESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "LambdaRuntimeAPI",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "LambdaRuntimeAPITests",
            dependencies: [
                "LambdaRuntimeAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .systemLibrary(
            name: "CProcessControl",
            path: "CModules/CProcessControl"
        ),
        .target(
            name: "ProcessSpawning",
            dependencies: ["CProcessControl"]
        ),
        .target(
            name: "InfiniNodeProtocol"
        ),
        .target(
            name: "AWSAccess",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AWSAccessTests",
            dependencies: [
                "AWSAccess", "PortTestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "InfiniCOS",
            dependencies: [
                "AWSAccess",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "InfiniCOSTests",
            dependencies: [
                "InfiniCOS", "AWSAccess", "InfiniMetadata", "MetadataTestSupport", "PortTestSupport", "ProcessSpawning",
                "ProcessTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "InfiniNode",
            dependencies: [
                "InfiniCOS",
                "InfiniNodeProtocol",
                "LambdaRuntimeAPI",
                "RESP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "InfiniProxy",
            dependencies: [
                "InfiniCOS",
                "InfiniCoding",
                "InfiniMetadata",
                "InfiniNodeProtocol",
                "LambdaRuntimeAPI",
                "ProcessSpawning",
                "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "infinistore",
            dependencies: [
                "CProcessControl",
                "InfiniCOS",
                "InfiniCoding",
                "InfiniMetadata",
                "InfiniNode",
                "InfiniProxy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "InfiniProxyTests",
            dependencies: [
                "InfiniProxy", "InfiniCOS", "InfiniCoding", "InfiniCodingReference", "InfiniMetadata", "InfiniNode",
                "InfiniNodeProtocol", "COSTestSupport", "LambdaRuntimeAPI", "ProcessTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // redis-py scripts the tests run by path.
            exclude: ["Python"]
        ),
        .target(
            name: "PortTestSupport",
            path: "Tests/PortTestSupport"
        ),
        .target(
            name: "ProcessTestSupport",
            dependencies: ["ProcessSpawning"],
            path: "Tests/ProcessTestSupport"
        ),
        .target(
            name: "HistoryChecking",
            dependencies: [
                "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/HistoryChecking"
        ),
        .testTarget(
            name: "HistoryCheckingTests",
            dependencies: [
                "HistoryChecking", "InfiniProxy", "InfiniCoding", "PortTestSupport", "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "InfiniStoreIntegrationTests",
            dependencies: [
                "infinistore", "HistoryChecking", "InfiniCOS", "InfiniCodingReference", "InfiniNode", "PortTestSupport", "ProcessSpawning",
                "ProcessTestSupport", "RESP",
            ]
        ),
        .testTarget(
            name: "InfiniCodingTests",
            dependencies: ["InfiniCoding", "InfiniCodingReference"]
        ),
        .testTarget(
            name: "InfiniNodeTests",
            dependencies: [
                "COSTestSupport", "InfiniCOS", "InfiniNode", "InfiniNodeProtocol", "LambdaRuntimeAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ProcessSpawningTests",
            dependencies: ["ProcessSpawning"]
        ),
        .testTarget(
            name: "RESPTests",
            dependencies: ["RESP", .product(name: "NIOCore", package: "swift-nio")]
        ),

        // Benchmarks: ISA-L and LZ4 called from C, beside the Swift API, in one process.
        .target(
            name: "CodingBaseline",
            path: "Benchmarks/CodingBaseline",
            cSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("isal"), .linkedLibrary("lz4")]
        ),
        .executableTarget(
            name: "coding-bench",
            dependencies: [
                "CodingBaseline",
                "InfiniCoding",
                "InfiniCodingReference",
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            path: "Benchmarks/CodingBench"
        ),
        .executableTarget(
            name: "metadata-log-bench",
            dependencies: ["BenchmarkSupport", "InfiniCOS", "InfiniMetadata", "InfiniCoding"],
            path: "Benchmarks/MetadataLogBench"
        ),
        .executableTarget(
            name: "lineage-bench",
            dependencies: ["BenchmarkSupport", "InfiniCOS", "InfiniNode"],
            path: "Benchmarks/LineageBench"
        ),
        .target(
            name: "BenchmarkSupport",
            dependencies: ["InfiniCOS", .product(name: "NIOCore", package: "swift-nio")],
            path: "Benchmarks/BenchmarkSupport"
        ),
    ]
)

for target in package.targets where target.type != .system && target.name != "CodingBaseline" {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
