// swift-tools-version:6.1
import Foundation
import PackageDescription

/// Release builds put each function in its own section, so that the linker can place the
/// functions `chancery serve` runs together (`staticSwift` below). Only Chancery's own
/// modules: a package cannot give its dependencies flags.
let functionSections: SwiftSetting = .unsafeFlags(
    ["-Xfrontend", "-function-sections"], .when(platforms: [.linux], configuration: .release))

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    functionSections,
]

/// RE2, the engine Envoy compiles regular expressions with: Chancery checks every regex
/// it would send with RE2 itself (target `CRE2`). It comes from Debian's `libre2-dev`,
/// which `scripts/test` installs. A build on a machine without it still builds and runs,
/// and then serves no regular expression at all, saying why in each route's status.
let haveRE2 = FileManager.default.fileExists(atPath: "/usr/include/re2/re2.h")

/// Chancery's executables (and the benchmarks that measure its memory) link the Swift
/// runtime and Foundation statically: only the functions they call are in them, and no
/// shared library is loaded and relocated whole (idle `chancery serve`: 60 → 51 MiB RSS,
/// docs/performance.md). The modules are compiled as usual; the libraries Foundation's
/// static archives need, and that its dynamic build carries inside, are named here
/// because only the static module maps would name them — the list is Swift 6.3's.
/// LLVM's linker (shipped with Swift) links them; GNU gold warns about glibc's `mktemp`,
/// which Foundation's temporary-file code refers to. `unsafeFlags` hold because Chancery
/// is the root package; nothing depends on it.
///
/// Three more choices keep an idle server's resident memory small (idle `chancery serve`
/// 51 → 31 MiB RSS, docs/performance.md, eighth part of issue 21):
/// - `--no-export-dynamic`: the static standard library's link arguments export every
///   symbol (97,000), and the dynamic loader reads that table whole; nothing looks
///   Chancery's symbols up by name.
/// - `-z pack-relative-relocs`: the position-independent executable's 180,000 relative
///   relocations, read at every start, take 36 KiB instead of 4.2 MiB (glibc ≥ 2.36).
/// - `--symbol-ordering-file` (release builds): the functions `chancery serve` runs
///   (`linker/hot-symbols.txt`, written by `scripts/hot-symbols`) sit together at the start
///   of the code, by the phase they first run in, so the kernel's 64 KiB windows of code
///   hold code that runs rather than code that never does. A list gone stale costs only
///   memory: names it no longer matches are skipped (hence `--no-warn-symbol-ordering`).
let hotSymbols = Context.packageDirectory + "/linker/hot-symbols.txt"
let staticSwift: [LinkerSetting] = [
    .unsafeFlags(
        ["-static-stdlib", "-use-ld=lld", "-Xlinker", "--start-group"]
            + [
                "Foundation", "FoundationEssentials", "FoundationInternationalization", "CoreFoundation",
                "_FoundationCollections", "_FoundationCShims", "_FoundationICU", "swiftDispatch", "dispatch",
                "BlocksRuntime", "swiftSynchronization", "swift_RegexParser", "swift_StringProcessing",
            ].map { "-l\($0)" } + ["-Xlinker", "--end-group", "-lstdc++"]
            + ["--no-export-dynamic", "-z", "pack-relative-relocs"].flatMap { ["-Xlinker", $0] },
        .when(platforms: [.linux]))
] + (FileManager.default.fileExists(atPath: hotSymbols) ? [
    .unsafeFlags(
        ["--symbol-ordering-file=\(hotSymbols)", "--no-warn-symbol-ordering"].flatMap { ["-Xlinker", $0] },
        .when(platforms: [.linux], configuration: .release))
] : [])

let package = Package(
    name: "Chancery",
    // Chancery runs on Linux (inotify, glibc's allocator): building elsewhere stops with an
    // error saying so (Sources/ConfigSources/FileSource.swift). The macOS version only
    // lets that error be the one a developer sees.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chancery", targets: ["chancery"]),
        .library(name: "XDS", targets: ["XDS"]),
        .library(name: "Translation", targets: ["Translation"]),
        .library(name: "IR", targets: ["IR"]),
        .library(name: "EnvoyBuild", targets: ["EnvoyBuild"]),
        .library(name: "GatewayModel", targets: ["GatewayModel"]),
        .library(name: "EnvoyAPI", targets: ["EnvoyAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", exact: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-certificates.git", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", exact: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", exact: "1.46.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
    ],
    targets: [
        // Generated by scripts/generate-envoy-api; never edited by hand.
        .target(
            name: "EnvoyAPI",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), functionSections]
        ),
        .target(
            name: "XDS",
            dependencies: [
                "EnvoyAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Admin",
            dependencies: [
                "XDS",
                "Translation",
                "IR",
                "EnvoyBuild",
                "GatewayModel",
                "EnvoyAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "GatewayModel",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // The intermediate representation: what a proxy group serves, every decision taken.
        .target(
            name: "IR",
            dependencies: ["GatewayModel", "CRE2"],
            swiftSettings: strict
        ),
        // RE2's verdict on a pattern, through a C interface (C++ inside).
        .target(
            name: "CRE2",
            cxxSettings: haveRE2 ? [.define("CHANCERY_HAVE_RE2")] : [],
            linkerSettings: haveRE2 ? [.linkedLibrary("re2")] : []
        ),
        // First stage: Kubernetes objects → IR and status. Knows nothing of Envoy.
        .target(
            name: "Translation",
            dependencies: [
                "GatewayModel",
                "IR",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The mesh CA: workload certificates for the second stage to serve.
        .target(
            name: "MeshIdentity",
            dependencies: [
                "EnvoyBuild",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Second stage: IR → Envoy protos. Takes no decision.
        .target(
            name: "EnvoyBuild",
            dependencies: [
                "IR",
                "EnvoyAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ConfigSources",
            dependencies: [
                "GatewayModel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chancery",
            dependencies: [
                "XDS",
                "EnvoyAPI",
                "GatewayModel",
                "Translation",
                "IR",
                "EnvoyBuild",
                "ConfigSources",
                "Admin",
                "MeshIdentity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict,
            linkerSettings: staticSwift
        ),
        // Benchmarks: plain executables that print numbers (docs/performance.md).
        .target(
            name: "BenchmarkSupport",
            dependencies: ["GatewayModel", "Translation", "EnvoyBuild", "XDS", "MeshIdentity"],
            path: "Benchmarks/Support",
            swiftSettings: strict
        ),
        // Counts heap allocations in the benchmark executable (malloc interposition).
        .target(
            name: "AllocationCounter",
            path: "Benchmarks/AllocationCounter"
        ),
        .executableTarget(
            name: "chancery-bench",
            dependencies: ["BenchmarkSupport", "GatewayModel", "Translation", "EnvoyBuild", "XDS", "AllocationCounter"],
            path: "Benchmarks/chancery-bench",
            swiftSettings: strict,
            linkerSettings: staticSwift
        ),
        .executableTarget(
            name: "chancery-load",
            dependencies: [
                "BenchmarkSupport", "GatewayModel", "Translation", "EnvoyBuild", "XDS", "EnvoyAPI", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/chancery-load",
            swiftSettings: strict,
            linkerSettings: staticSwift
        ),
        .executableTarget(
            name: "chancery-propagation",
            dependencies: [
                "BenchmarkSupport", "GatewayModel", "Translation", "EnvoyBuild", "XDS", "TestSupport", "ConfigSources",
                "EnvoyAPI",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/chancery-propagation",
            swiftSettings: strict,
            linkerSettings: staticSwift
        ),
        // Fuzz targets (scripts/fuzz builds them with -sanitize=fuzzer; built plainly they
        // replay the inputs named on their command line).
        .executableTarget(
            name: "chancery-fuzz-manifest",
            dependencies: ["GatewayModel", "Translation", "EnvoyBuild", "XDS", "FuzzSupport"],
            path: "Fuzz/Manifest",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chancery-fuzz-xds",
            dependencies: ["XDS", "EnvoyAPI", "TestSupport", "FuzzSupport"],
            path: "Fuzz/XDSRequest",
            swiftSettings: strict
        ),
        .target(name: "FuzzSupport", path: "Fuzz/Support", swiftSettings: strict),
        // Loopback backends, an HTTP client and an Envoy launcher for the tests.
        .target(
            name: "TestSupport",
            dependencies: [
                "XDS",
                "GatewayModel",
                "EnvoyBuild",
                "ConfigSources",
                "EnvoyAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Tests/Support",
            swiftSettings: strict
        ),
        .testTarget(
            name: "XDSTests",
            dependencies: [
                "XDS", "EnvoyAPI", "TestSupport", "Translation", "EnvoyBuild",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GatewayModelTests",
            dependencies: ["GatewayModel"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ConfigSourcesTests",
            dependencies: ["ConfigSources", "GatewayModel", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TranslationTests",
            dependencies: [
                "Translation", "IR", "EnvoyBuild", "GatewayModel", "EnvoyAPI", "XDS", "MeshIdentity", "TestSupport",
                .product(name: "Yams", package: "Yams"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "XDS", "EnvoyAPI", "TestSupport", "Admin", "Translation", "EnvoyBuild", "IR", "GatewayModel", "MeshIdentity",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
    ]
)
