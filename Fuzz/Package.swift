// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets, a nested package so that the main build never pays for them (the swift-nio Benchmarks way).
// They only link when built with the fuzzer sanitizer; scripts/fuzz.sh builds them as:
//
//     swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// Each target defines `LLVMFuzzerTestOneInput` and a `@main` that hands it to libFuzzer's driver (CLibFuzzer):
// SwiftPM links an executable's `main` to `<Module>_main`, so libFuzzer's own `main` cannot be the entry point.
let package = Package(
    name: "AxleFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Axle", path: ".."),
        // For FuzzCommandEnvelope's own signature check, independent of RemoteCommands' code.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Declares libFuzzer's driver entry point, which libFuzzer ships no header for.
        .target(name: "CLibFuzzer"),
        // DBC text → parser → compiled decoder and encoder.
        .executableTarget(
            name: "FuzzDBCParser",
            dependencies: [
                .product(name: "DBC", package: "Axle"),
                .product(name: "CANFrames", package: "Axle"),
                "CLibFuzzer",
            ]
        ),
        // candump lines → parser → writer → parser: the round trip must be byte-identical.
        .executableTarget(
            name: "FuzzCandump",
            dependencies: [.product(name: "CANFrames", package: "Axle"), "CLibFuzzer"]
        ),
        // Command payloads → envelope parser → verifier: nothing verifies without a valid signature by a trusted,
        // unrevoked key for this vehicle (checked again with swift-crypto directly), and the parsers round-trip.
        .executableTarget(
            name: "FuzzCommandEnvelope",
            dependencies: [
                .product(name: "RemoteCommands", package: "Axle"),
                .product(name: "Crypto", package: "swift-crypto"),
                "CLibFuzzer",
            ],
            exclude: ["make-seeds.py"]
        ),
        // TOML text → parser → the table reader of profiles and the configuration: no crash or stack overflow
        // however deep the nesting, and every value reads back with the getter for its type.
        .executableTarget(
            name: "FuzzTOML",
            dependencies: [.product(name: "TOML", package: "Axle"), "CLibFuzzer"]
        ),
        // Condition text → condition parser: no crash or stack overflow however deep the nesting, and what parses
        // reads back the same from its normalized text.
        .executableTarget(
            name: "FuzzCondition",
            dependencies: [.product(name: "FirmwareProfile", package: "Axle"), "CLibFuzzer"]
        ),
        // Recorded traffic → ISO-TP and J1939 transport reassembly, DM1 and trouble code parsers, and an ISO-TP sender
        // and receiver: no crash, no message longer than its protocol allows, every message sent arrives whole.
        .executableTarget(
            name: "FuzzDiagnostics",
            dependencies: [.product(name: "Diagnostics", package: "Axle"), "CLibFuzzer"],
            exclude: ["make-seeds.py"]
        ),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
