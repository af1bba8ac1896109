// swift-tools-version:6.1
import PackageDescription

// A nested package (the swift-nio way) so that the main build never pays for the benchmarks. The repository root
// is a path dependency; SwiftPM names such a package after its folder, which is not the same in every clone, so the
// name is taken from where this manifest sits.
let rootPackage = Context.packageDirectory.split(separator: "/").dropLast().last.map { $0.lowercased() } ?? "axle"

let package = Package(
    name: "AxleBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Plain timed loops (CLOCK_MONOTONIC and getrusage), one JSON object per result on standard output.
        .executableTarget(
            name: "axle-bench",
            dependencies: [
                .product(name: "DBC", package: rootPackage),
                .product(name: "CANFrames", package: rootPackage),
                .product(name: "Outbox", package: rootPackage),
                .product(name: "TelemetryPayload", package: rootPackage),
                .product(name: "AxleAgent", package: rootPackage),
                .product(name: "VehicleSimulator", package: rootPackage),
                .product(name: "CANBus", package: rootPackage),
                .product(name: "Diagnostics", package: rootPackage),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
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
