// swift-tools-version:6.0
// Vigil — video management system for a city's video-monitoring centre.
// Module map and dependency rules: docs/ARCHITECTURE.md.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
        .executable(name: "vigil-bench", targets: ["vigil-bench"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0")
    ],
    targets: [
        .target(name: "Base", swiftSettings: strict),
        .target(
            name: "RTSP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                "Base", "Media"
            ],
            swiftSettings: strict
        ),
        .target(name: "Media", dependencies: ["Base"], swiftSettings: strict),
        .target(name: "ChildProcess", swiftSettings: strict),
        .target(name: "Records", dependencies: ["Media"], swiftSettings: strict),
        .target(
            name: "Onvif",
            dependencies: [
                "Base",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Audit",
            dependencies: ["Base", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "Integrity",
            dependencies: ["Base", "Audit", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "Catalog",
            dependencies: [
                "Base", "Media", "Records",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Recording",
            dependencies: [
                "Base", "Media", "Catalog", "Records", "RTSP", "Audit", "Integrity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CameraSim",
            dependencies: [
                "Base", "RTSP", "Media", "ChildProcess", "Onvif",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Access",
            dependencies: [
                "Base", "Catalog", "Records",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOPosix", package: "swift-nio")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Centre",
            dependencies: [
                "Base", "Access", "Audit", "Catalog", "ChildProcess", "Records", "Recording", "RTSP", "Media", "Evidence",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PTZ", dependencies: ["Base", "Access", "Catalog", "Records", "Centre", "Onvif"], swiftSettings: strict),
        .target(name: "Incidents", dependencies: ["Base", "Catalog", "Records"], swiftSettings: strict),
        .target(
            name: "Dispatching",
            dependencies: [
                "Base", "Access", "Catalog", "Records", "Centre", "Incidents",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Evidence",
            dependencies: [
                "Base", "Media", "Audit", "Integrity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1")
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Server",
            // The domain's services and plain rows only: no Catalog, no Recording (see
            // ServerTests' `serverImportsNoStorage`); member import visibility keeps their
            // members out of reach through the modules that do import them.
            dependencies: [
                "Base", "Access", "Centre", "Audit", "Records", "Media", "PTZ", "Incidents", "Dispatching",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict + [.enableUpcomingFeature("MemberImportVisibility")]
        ),
        .target(
            name: "CommandSupport",
            dependencies: [
                "Base", "Access", "Audit", "Catalog", "Records", "Centre", "Evidence", "Recording",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vigil",
            dependencies: [
                "Base", "Access", "RTSP", "Media", "Catalog", "Records", "Recording", "CameraSim", "ChildProcess", "Centre", "Server",
                "PTZ", "Incidents", "Dispatching",
                "Onvif",
                "Audit",
                "Evidence", "CommandSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto")
            ],
            swiftSettings: strict
        ),
        // The benchmarks (`vigil bench …` runs this program, which sits beside `vigil`).
        .executableTarget(
            name: "vigil-bench",
            dependencies: [
                "Base", "Audit", "Catalog", "Records", "Centre", "CameraSim", "ChildProcess", "CommandSupport", "Evidence", "Media",
                "Recording", "Onvif",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto")
            ],
            path: "Sources/vigil-bench",
            swiftSettings: strict
        ),
        .testTarget(name: "BaseTests", dependencies: ["Base"], swiftSettings: strict),
        .testTarget(
            name: "DispatchingTests",
            dependencies: [
                "Dispatching", "Incidents", "Base", "Catalog", "Records", "Centre", "Audit", "TestSupport", "ChildProcess",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio")
            ], swiftSettings: strict),
        .testTarget(
            name: "IncidentsTests", dependencies: ["Incidents", "Base", "Catalog", "Records", "Recording", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "PTZTests",
            dependencies: ["PTZ", "Access", "Base", "Centre", "Catalog", "Records", "Onvif", "CameraSim", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "OnvifTests",
            dependencies: [
                "Onvif", "Base", "CameraSim", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio")
            ], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(
            name: "CatalogTests", dependencies: ["Catalog", "Records", "TestSupport", .product(name: "SQLKit", package: "sql-kit")],
            swiftSettings: strict),
        .testTarget(
            name: "IntegrityTests", dependencies: ["Integrity", "Audit", "Base", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .testTarget(
            name: "RTSPTests",
            dependencies: [
                "RTSP", "Media", "CameraSim", .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio")
            ], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Base", "Access", "Server", "Centre", "Catalog", "Records", "Recording", "Audit", "Evidence", "RTSP", "Media",
                "TestSupport", "PTZ", "CameraSim", "Onvif", "Incidents", "Dispatching",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SQLKit", package: "sql-kit")
            ], swiftSettings: strict),
        .testTarget(
            name: "CentreTests",
            dependencies: [
                "Base", "Access", "Centre", "ChildProcess", "Media", "Catalog", "Records", "Recording", "TestSupport",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth")
            ], swiftSettings: strict),
        .testTarget(
            name: "EvidenceTests",
            dependencies: [
                "Base", "Access", "Evidence", "Centre", "Catalog", "Records", "Recording", "Media", "RTSP", "Audit", "TestSupport",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log")
            ], swiftSettings: strict),
        .testTarget(name: "AuditTests", dependencies: ["Audit", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .testTarget(name: "MediaTests", dependencies: ["Media", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RecordingTests",
            dependencies: [
                "Base", "Recording", "Catalog", "Records", "Media", "RTSP", "Audit", "CameraSim", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")
            ], swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests", dependencies: ["Base", "TestSupport", "Media", "ChildProcess", "Catalog", "Records", "Onvif"],
            swiftSettings: strict),
        // libFuzzer targets, one per parser (scripts/fuzz.sh builds them with the fuzzer;
        // the normal build makes replay programs of them).
        .target(
            name: "FuzzSupport", dependencies: ["RTSP", "Media", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/Support", swiftSettings: strict),
        .executableTarget(
            name: "FuzzRTSPMessages", dependencies: ["FuzzSupport", "RTSP", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/RTSPMessages", swiftSettings: strict),
        .executableTarget(name: "FuzzSDP", dependencies: ["FuzzSupport", "RTSP"], path: "Fuzz/SDP", swiftSettings: strict),
        .executableTarget(name: "FuzzOnvif", dependencies: ["FuzzSupport", "Onvif"], path: "Fuzz/Onvif", swiftSettings: strict),
        .executableTarget(name: "FuzzH264", dependencies: ["FuzzSupport", "Media"], path: "Fuzz/H264", swiftSettings: strict),
        .executableTarget(name: "FuzzH265", dependencies: ["FuzzSupport", "Media"], path: "Fuzz/H265", swiftSettings: strict),
        .executableTarget(name: "FuzzBoxes", dependencies: ["FuzzSupport", "Media"], path: "Fuzz/Boxes", swiftSettings: strict),
        .executableTarget(name: "FuzzRange", dependencies: ["FuzzSupport", "Media"], path: "Fuzz/Range", swiftSettings: strict),
        .executableTarget(
            name: "FuzzCheckpoint", dependencies: ["FuzzSupport", "Audit", .product(name: "Crypto", package: "swift-crypto")],
            path: "Fuzz/Checkpoint", swiftSettings: strict),
        .target(
            name: "TestSupport",
            dependencies: [
                "Base", "Media", "ChildProcess", "Recording", "Catalog", "Records", "RTSP", .product(name: "Logging", package: "swift-log")
            ],
            path: "Tests/TestSupport", swiftSettings: strict)
    ]
)
