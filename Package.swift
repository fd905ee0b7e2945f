// swift-tools-version:6.0
// listgate: a self-hosted subscription and unsubscribe manager.
// The target graph is the design: ListgateCore (the domain, in feature rooms, with the
// store protocols) knows nothing of SQL, HTTP or SMTP; ListgateSQLite (GRDB) and
// ListgatePostgres (postgres-nio) are the two stores, each owning its migrations;
// ListgateMail is the only target that links libcurl; the server and the CLI are thin
// shells over the core's services.
import PackageDescription

let package = Package(
    name: "listgate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "listgate", targets: ["listgate"]),
        // Libraries only so that the fuzzing package (Fuzz/) can depend on them.
        .library(name: "ListgateCore", targets: ["ListgateCore"]),
        .library(name: "ListgateSQLite", targets: ["ListgateSQLite"]),
        .library(name: "ListgatePostgres", targets: ["ListgatePostgres"]),
        .library(name: "ListgateMail", targets: ["ListgateMail"]),
        .library(name: "ListgateServer", targets: ["ListgateServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // X.509 parsing for the Amazon SNS signing certificate (provider webhooks).
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        // The PostgreSQL store, for more than one instance on one database.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "ListgateCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "ListgateSQLite",
            dependencies: [
                "ListgateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The C API, for the loops that read a million rows without making Strings.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("../../Migrations")]
        ),
        .target(
            name: "ListgatePostgres",
            dependencies: [
                "ListgateCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("../../PostgresMigrations")]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "ListgateMail",
            dependencies: [
                "ListgateCore",
                "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("../../Forms/mail")]
        ),
        .target(
            name: "ListgateServer",
            dependencies: [
                "ListgateCore",
                "ListgateMail",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // Provider webhooks: SNS certificates, RSA and ECDSA signatures.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("../../Forms/pages")]
        ),
        .executableTarget(
            name: "listgate",
            dependencies: [
                "ListgateCore",
                "ListgateSQLite",
                "ListgatePostgres",
                "ListgateMail",
                "ListgateServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `make bench` runs these release builds; they are not part of the product.
        .executableTarget(
            name: "MailBenchmark",
            dependencies: ["ListgateCore", "ListgateSQLite", "ListgateMail", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/MailBenchmark"
        ),
        .executableTarget(
            name: "PreflightBenchmark",
            dependencies: ["ListgateCore", "ListgateMail"],
            path: "Benchmarks/PreflightBenchmark"
        ),
        .executableTarget(
            name: "IntakeBenchmark",
            dependencies: ["ListgateCore", "ListgateSQLite", "ListgateMail"],
            path: "Benchmarks/IntakeBenchmark"
        ),
        .testTarget(
            name: "ListgateCoreTests",
            dependencies: ["ListgateCore", "ListgateSQLite", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The store conformance suite: every store behaviour, tested once, run against SQLite
        // (a file in a temp directory) and a real PostgreSQL (the server `make test` starts).
        .testTarget(
            name: "ListgateStoreTests",
            dependencies: ["ListgateCore", "ListgateSQLite", "ListgatePostgres", "ListgateTestSupport"]
        ),
        // Shared by the test targets: the real SMTP server (aiosmtpd), a strict mail parser
        // (Python's email package), a webhook receiver and a small web server, all run as child
        // processes; and requests signed the way each provider signs them (ProviderSigning.swift).
        .target(
            name: "ListgateTestSupport",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Tests/Support",
            resources: [.copy("smtp_sink.py"), .copy("inspect_mail.py"), .copy("flood.py"), .copy("webhook_receiver.py"),
                        .copy("web_server.py"),
                        .copy("render_newsletter.py")]
        ),
        .testTarget(
            name: "ListgateMailTests",
            dependencies: [
                "ListgateCore", "ListgateSQLite", "ListgateMail", "ListgateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .testTarget(
            name: "ListgateServerTests",
            dependencies: [
                "ListgateServer", "ListgateSQLite", "ListgateMail", "ListgateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // Signing test requests the way each provider signs them.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // End-to-end tests of the built `listgate` binary; depending on it makes
        // `swift build --build-tests` build the executable the tests run.
        .testTarget(
            name: "listgateTests",
            dependencies: [
                "listgate", "ListgateCore", "ListgateSQLite", "ListgateMail", "ListgateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            // A database written by the previous version, for the upgrade test.
            resources: [.copy("Fixtures")]
        ),
    ]
)
