// swift-tools-version: 6.1
//
// envseal: encrypted environment variables for serverless functions.
//
// Targets are split along dependency lines. The `EnvSeal` library (what a function links) and
// everything below it must never reach a server dependency (Hummingbird, GRDB, postgres-nio) or
// the CLI: `scripts/check-library-deps.py` enforces that from `swift package describe`.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "envseal",
    // Linux is what is built and tested. The library and the modules below the CLI guard their C
    // imports, so they could build on macOS 15 (the first with Synchronization's Mutex and Atomic);
    // ChildProcess and the CLI are Linux only (prctl, pipe2, O_TMPFILE, /proc) and say so.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EnvSeal", targets: ["EnvSeal"]),
        .executable(name: "envseal", targets: ["envseal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // `make docs`: the EnvSeal library's API documentation (DocC), built in CI without warnings.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // The project config (.envseal.yaml) of the CLI; never a dependency of the EnvSeal library.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // ECDSA and RSA for the key service's signing keys (Sign, Verify, GetPublicKey), RSA-OAEP
        // wrapping keys for imported key material, and HMAC-SHA-384: libsodium has none of them.
        // A dependency of KeyService only, never of the EnvSeal library or the modules below it.
        // The range takes the 4.x that postgres-nio and swift-certificates already resolve.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // libsodium, through pkg-config: the only crypto of the library and the CLI.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // The only Swift code that calls libsodium.
        .target(name: "SodiumKit", dependencies: ["CSodium"], swiftSettings: swiftSettings),
        // Byte and text formats: canonical context, ciphertext blob, sealed values, dotenv. No I/O.
        .target(name: "EnvSealFormat", dependencies: ["SodiumKit"], swiftSettings: swiftSettings),
        // The AWS KMS JSON 1.1 shapes (generated from botocore's model) and error types.
        .target(name: "KMSWire", dependencies: ["SodiumKit"], swiftSettings: swiftSettings),
        // A KMS client: SigV4 over HTTP with credentials, endpoints, retries and a deadline.
        .target(
            name: "KMSClient",
            dependencies: [
                "KMSWire", "SodiumKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Sealing, opening and editing dotenv files through a data-key provider.
        .target(name: "SealedDotenv", dependencies: ["EnvSealFormat", "SodiumKit", "KMSClient", "KMSWire"], swiftSettings: swiftSettings),
        // The KMS engine: keys, versions, aliases, policies, grants, rotation, audit, the root key.
        // swift-crypto for signing keys, imported material's RSA wrapping keys and HMAC-SHA-384 only.
        .target(
            name: "KeyService",
            dependencies: [
                "KMSWire", "EnvSealFormat", "SodiumKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The embedded key store: SQLite through GRDB, under KeyStore/.
        .target(
            name: "KeyStoreSQLite",
            dependencies: ["KeyService", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        // The shared key store: PostgreSQL through postgres-nio, for several servers on one state.
        .target(
            name: "KeyStorePostgres",
            dependencies: [
                "KeyService",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The key store folder: the store (SQLite in it, or PostgreSQL), the root key and the
        // first admin's credentials, opened together; for the server, the CLI and tests.
        .target(
            name: "KeyStoreFolder",
            dependencies: ["KeyService", "KeyStoreSQLite", "KeyStorePostgres", "SodiumKit"],
            swiftSettings: swiftSettings
        ),
        // The HTTP server: KMS JSON 1.1 over Hummingbird, SigV4, health, metrics, lifecycle.
        .target(
            name: "KeyServer",
            dependencies: [
                "KeyService", "KMSWire", "SodiumKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Benchmarks of the engine (`make bench`), and a probe the durability tests kill.
        .executableTarget(name: "envseal-bench", dependencies: ["KeyService", "KeyStoreSQLite", "KMSWire", "EnvSealFormat", "SodiumKit"], swiftSettings: swiftSettings),
        .executableTarget(name: "envseal-store-probe", dependencies: ["KeyService", "KeyStoreSQLite"], swiftSettings: swiftSettings),
        // Starts the command `envseal exec` runs: execve in its place, or supervised with filtered
        // output and forwarded signals.
        .target(name: "ChildProcess", swiftSettings: swiftSettings),
        // A probe the ChildProcess tests signal and let replace itself.
        .executableTarget(name: "childprocess-probe", dependencies: ["ChildProcess"], swiftSettings: swiftSettings),
        // The helper library that functions link.
        .target(
            name: "EnvSeal",
            dependencies: [
                "EnvSealFormat", "SodiumKit", "SealedDotenv", "KMSClient", "KMSWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Benchmarks of the library functions link: SealedEnvironment.load and the Redactor (`make bench`).
        .executableTarget(name: "envseal-library-bench", dependencies: ["EnvSeal", "SodiumKit"], swiftSettings: swiftSettings),
        // An example function that links EnvSeal (used by `make demo`).
        .executableTarget(
            name: "billing-function",
            dependencies: ["EnvSeal", .product(name: "Logging", package: "swift-log")],
            path: "Examples/billing-function",
            exclude: [".env"],
            swiftSettings: swiftSettings
        ),
        // The commands of the `envseal` executable.
        .target(
            name: "EnvSealCLI",
            dependencies: [
                "EnvSeal", "EnvSealFormat", "SodiumKit", "KeyService", "KeyServer", "KeyStoreFolder", "KeyStoreSQLite", "KMSWire",
                "KMSClient", "SealedDotenv", "ChildProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command line. Linked without exporting its own symbols: the static standard library's
        // link arguments export every symbol of the executable's objects (56,000 of them, 5 MB of
        // tables), and the runtime's start-up `dladdr` walks that table linearly before `main`.
        // Nothing looks a symbol of the executable up by name.
        .executableTarget(
            name: "envseal", dependencies: ["EnvSealCLI"], swiftSettings: swiftSettings,
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"])]
        ),

        // Helpers shared by the test targets (a seeded generator, hex), and only by them.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "SodiumKitTests", dependencies: ["SodiumKit", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EnvSealFormatTests",
            dependencies: ["EnvSealFormat", "SodiumKit", "TestSupport"],
            resources: [.copy("Vectors")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "KMSWireTests", dependencies: ["KMSWire", "SodiumKit", "TestSupport"], resources: [.copy("Vectors")], swiftSettings: swiftSettings),
        .testTarget(
            name: "KMSClientTests",
            dependencies: [
                "KMSClient", "KMSWire", "SodiumKit", "KeyServer", "KeyService", "KeyStoreFolder",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SealedDotenvTests",
            dependencies: ["SealedDotenv", "EnvSealFormat", "SodiumKit", "KMSClient", "KMSWire", "KeyService"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeyServiceTests",
            dependencies: [
                "KeyService", "KMSWire", "SodiumKit", "EnvSealFormat", "TestSupport",
                // To read GetPublicKey's DER, check Sign's signatures and wrap material for
                // ImportKeyMaterial as a client would.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeyStoreTests",
            dependencies: ["KeyService", "KeyStoreSQLite", "KeyStorePostgres", "KMSWire", "SodiumKit", "envseal-store-probe"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeyServerTests",
            dependencies: [
                "KeyServer", "KeyService", "KeyStoreFolder", "KMSWire", "SodiumKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ChildProcessTests", dependencies: ["ChildProcess", "childprocess-probe"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EnvSealTests",
            dependencies: [
                "EnvSeal", "TestSupport", "EnvSealFormat", "SealedDotenv", "SodiumKit",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EnvSealCLITests",
            dependencies: ["envseal", "EnvSealCLI"],
            exclude: ["Scripts"],
            swiftSettings: swiftSettings
        ),
    ]
)

// Fuzz targets (libFuzzer), added only when ENVSEAL_FUZZ is set so that ordinary builds and
// `swift build --build-tests` never see them. `make fuzz` (scripts/fuzz.sh) builds and runs them.
import Foundation

if ProcessInfo.processInfo.environment["ENVSEAL_FUZZ"] != nil {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzDotenv", ["EnvSealFormat"]),
        ("FuzzCiphertextBlob", ["EnvSealFormat", "SodiumKit"]),
        ("FuzzSealedFile", ["EnvSealFormat", "SodiumKit"]),
        ("FuzzEncryptionContext", ["EnvSealFormat"]),
        ("FuzzKMSRequest", ["KMSWire"]),
        ("FuzzSigV4", ["KMSWire", "SodiumKit"]),
        ("FuzzKeyPolicy", ["KeyService"]),
    ]
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/FuzzSupport", swiftSettings: swiftSettings))
    for target in fuzzTargets {
        package.targets.append(.executableTarget(
            name: target.name, dependencies: target.dependencies + ["FuzzSupport"],
            path: "Fuzz/\(target.name)", swiftSettings: swiftSettings))
        package.products.append(.executable(name: target.name, targets: [target.name]))
    }
}
