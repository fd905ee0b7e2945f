// swift-tools-version:6.0
// libFuzzer targets for listgate's parsers and builders, kept out of the main package so
// that its ordinary builds never see sanitizer flags. Built and run by `make fuzz`:
//
//   swift build --package-path Fuzz --scratch-path Fuzz/.build -c debug \
//       -Xswiftc -sanitize=fuzzer,address
//   Fuzz/.build/debug/FuzzAddress Fuzz/Corpus/FuzzAddress -max_total_time=60
//
// Each target is an executable whose @main hands over to libFuzzer's driver (FuzzDriver),
// which calls the target's `LLVMFuzzerTestOneInput`. A debug build keeps testable imports enabled,
// which the form target uses to drive the server's own (internal) form decoding.
import Foundation
import PackageDescription

// A path dependency is known by its directory's name, which is whatever the checkout
// of listgate is called (main, a worktree, CI's clone).
let listgate = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let identity = listgate.lastPathComponent.lowercased()

let package = Package(
    name: "listgate-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "FuzzAddress",
            dependencies: [
                "FuzzDriver",
                .product(name: "ListgateCore", package: identity),
                .product(name: "ListgateMail", package: identity),
            ]
        ),
        .executableTarget(
            name: "FuzzCSV",
            dependencies: ["FuzzDriver", .product(name: "ListgateCore", package: identity)]
        ),
        .executableTarget(
            name: "FuzzForm",
            dependencies: ["FuzzDriver", .product(name: "ListgateServer", package: identity)]
        ),
        .executableTarget(
            name: "FuzzPreflight",
            dependencies: [
                "FuzzDriver",
                .product(name: "ListgateCore", package: identity),
                .product(name: "ListgateMail", package: identity),
            ]
        ),
        .executableTarget(
            name: "FuzzMIME",
            dependencies: [
                "FuzzDriver",
                .product(name: "ListgateCore", package: identity),
                .product(name: "ListgateMail", package: identity),
            ]
        ),
    ]
)
