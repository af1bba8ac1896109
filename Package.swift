// swift-tools-version:6.1
import PackageDescription

// Layout: C interop stays in its own targets (CSocketCAN, CSQLite, CZstd, CMosquitto); each library target holds one
// domain and has a test target of the same name; the executables are thin shells over `AxleCLI`.
let package = Package(
    name: "Axle",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "axle", targets: ["axle"]),
        .executable(name: "axled", targets: ["axled"]),
        .executable(name: "axle-fleet", targets: ["axle-fleet"]),
        .library(name: "CANFrames", targets: ["CANFrames"]),
        .library(name: "DBC", targets: ["DBC"]),
        .library(name: "AxleCLI", targets: ["AxleCLI"]),
        .library(name: "CANBus", targets: ["CANBus"]),
        .library(name: "SQLiteDatabase", targets: ["SQLiteDatabase"]),
        .library(name: "Outbox", targets: ["Outbox"]),
        .library(name: "TelemetryPayload", targets: ["TelemetryPayload"]),
        .library(name: "MQTTUplink", targets: ["MQTTUplink"]),
        .library(name: "AxleAgent", targets: ["AxleAgent"]),
        .library(name: "VehicleSimulator", targets: ["VehicleSimulator"]),
        .library(name: "TOML", targets: ["TOML"]),
        .library(name: "FirmwareProfile", targets: ["FirmwareProfile"]),
        .library(name: "Collection", targets: ["Collection"]),
        .library(name: "AgentControl", targets: ["AgentControl"]),
        .library(name: "RemoteCommands", targets: ["RemoteCommands"]),
        .library(name: "CommandStore", targets: ["CommandStore"]),
        .library(name: "AgentCore", targets: ["AgentCore"]),
        .library(name: "Diagnostics", targets: ["Diagnostics"]),
        .library(name: "ConfigBundle", targets: ["ConfigBundle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Runtime of the telemetry schema; the generated code is committed (docs/payload.md says how to regenerate).
        // Without its default traits: BinaryDelimitedStreams imports all of Foundation, which links Foundation and
        // ICU into every binary that decodes or encodes telemetry, the agent among them (docs/performance.md gives
        // the resident memory it costs); FieldMaskUtilities is not used.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
        // Ed25519 for signed remote commands (BoringSSL underneath; version 4 needs only FoundationEssentials).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Small shared pieces with no domain of their own: services on dedicated threads with one shutdown budget,
        // bounded queues, version, file reading, JSON text output, the duration syntax.
        .target(name: "AxleBase"),
        // One CAN frame model for the whole project, and the candump log format.
        .target(name: "CANFrames", dependencies: ["AxleBase"]),
        // DBC parsing, the database model, and the compiled decoder and encoder.
        .target(name: "DBC", dependencies: ["AxleBase", "CANFrames"]),
        // SocketCAN and libsocketcan calls Swift cannot make directly (macros, recvmmsg control messages).
        .target(name: "CSocketCAN", linkerSettings: [.linkedLibrary("socketcan")]),
        // Live buses: sockets, kernel filters, batched reads, sending, bus health.
        .target(name: "CANBus", dependencies: ["AxleBase", "CANFrames", "DBC", "CSocketCAN", "Diagnostics"]),
        // A simulated vehicle: scenarios that drive a DBC's signals, reacting to command frames.
        .target(name: "VehicleSimulator", dependencies: ["AxleBase", "CANFrames", "DBC", "Diagnostics"]),
        // SQLite, zstd and libmosquitto: headers plus the few macros Swift cannot import.
        .target(name: "CSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "CZstd", linkerSettings: [.linkedLibrary("zstd")]),
        // OpenSSL too: the client's TLS context is made here so that the broker's name is checked by OpenSSL.
        .target(
            name: "CMosquitto",
            linkerSettings: [.linkedLibrary("mosquitto"), .linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // The one SQLite layer: a connection with its statements cached, typed binding and reading, transactions, and
        // one error type whose codes say what the user can do. Every SQLite file of Axle is opened through it.
        .target(name: "SQLiteDatabase", dependencies: ["AxleBase", "CSQLite"]),
        // The durable store of ready-to-publish records (SQLite): classes, caps, eviction, dead letters.
        .target(name: "Outbox", dependencies: ["AxleBase", "SQLiteDatabase"]),
        // The versioned telemetry schema (protobuf), batching, zstd compression, the JSON debugging form.
        .target(
            name: "TelemetryPayload",
            dependencies: ["AxleBase", "CZstd", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // MQTT over libmosquitto: TLS, sessions, Last Will, jittered reconnects, acknowledged publishes.
        .target(name: "MQTTUplink", dependencies: ["AxleBase", "CMosquitto"]),
        // TOML 1.0 for profiles and the agent configuration, with file:line in every error (and no Foundation).
        .target(name: "TOML", dependencies: ["AxleBase"]),
        // Firmware profiles: buses and DBCs, the VSS signal catalog, collection rules, events, command definitions.
        .target(name: "FirmwareProfile", dependencies: ["AxleBase", "CANFrames", "DBC", "TOML", "Diagnostics"]),
        // The collection engine: periodic, on-change and aggregated samples; condition-triggered events with windows.
        .target(name: "Collection", dependencies: ["AxleBase", "DBC", "FirmwareProfile"]),
        // The control socket between `axled` and `axle`: requests, reports, the server and the client.
        .target(name: "AgentControl", dependencies: ["AxleBase", "Outbox"]),
        // Signed remote commands: the envelope, keys and trust store, verification. Shared by the agent (verifying)
        // and axle-fleet (signing), which therefore links no SQLite.
        .target(
            name: "RemoteCommands",
            dependencies: ["AxleBase", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Signed configuration bundles (docs/configuration.md): the manifest of a profile's files, configuration keys
        // (a role apart from command keys), the byte format, verification with one reason per refusal.
        .target(
            name: "ConfigBundle",
            dependencies: ["AxleBase", "RemoteCommands", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The agent's durable command state in commands.db: the journal (each command id runs at most once) and the
        // feature entitlements, on one connection.
        .target(name: "CommandStore", dependencies: ["AxleBase", "RemoteCommands", "SQLiteDatabase"]),
        // The agent's policies, with no C module beneath their own code: what the services decide (command execution,
        // the drainer's window, telemetry batches) behind small seams (publisher, record store, frame sink, clock),
        // so that they are unit-tested with fakes and a fake clock, without a broker, a bus or a database.
        .target(
            name: "AgentCore",
            dependencies: [
                "AxleBase", "CANFrames", "DBC", "FirmwareProfile", "Collection", "RemoteCommands", "Diagnostics",
            ]
        ),
        // Vehicle diagnostics as pure protocol logic, no C module and no clock of its own: ISO-TP segmentation and
        // reassembly (docs/diagnostics.md). The socket glue sits with the CAN code.
        .target(name: "Diagnostics"),
        // The agent's pipeline: sources → decoder → collection → outbox → uplink, its configuration and control.
        .target(
            name: "AxleAgent",
            dependencies: [
                "AxleBase", "CANFrames", "DBC", "CANBus", "VehicleSimulator", "Outbox", "TelemetryPayload", "MQTTUplink",
                "TOML", "FirmwareProfile", "Collection", "AgentControl", "RemoteCommands", "CommandStore", "AgentCore",
                "Diagnostics", "ConfigBundle",
            ]
        ),
        // Every `axle` subcommand, as a library so that it is testable.
        .target(
            name: "AxleCLI",
            dependencies: [
                "AxleBase", "CANFrames", "DBC", "CANBus", "VehicleSimulator", "Outbox", "TOML", "FirmwareProfile", "AgentControl",
                "Diagnostics", "ConfigBundle", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "axle",
            dependencies: ["AxleCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "axled",
            dependencies: [
                "AxleAgent", "AxleBase", "MQTTUplink", "Outbox", "TelemetryPayload",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The backend tool: keys, signed commands and entitlements, watching what vehicles publish.
        .target(
            name: "AxleFleet",
            dependencies: [
                "AxleBase", "RemoteCommands", "MQTTUplink", "TelemetryPayload", "ConfigBundle",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "axle-fleet",
            dependencies: ["AxleFleet", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // Helpers shared by the test targets (running the built `axle` as a user would).
        .target(name: "AxleTestSupport", dependencies: ["AxleBase"], path: "Tests/AxleTestSupport"),
        // A fake agent and its reports, for the control socket's tests and the CLI's.
        .target(
            name: "AgentControlTestSupport", dependencies: ["AgentControl", "AxleBase", "AxleTestSupport"],
            path: "Tests/AgentControlTestSupport"),
        .testTarget(name: "CANFramesTests", dependencies: ["CANFrames"]),
        .testTarget(name: "DBCTests", dependencies: ["DBC", "CANFrames"]),
        .testTarget(
            name: "AxleCLITests",
            dependencies: [
                "AxleCLI", "AxleBase", "AgentControl", "AgentControlTestSupport", "Outbox", "AxleTestSupport", "ConfigBundle",
            ]),
        .testTarget(name: "CANBusTests", dependencies: ["CANBus", "CANFrames", "DBC", "AxleTestSupport"]),
        .testTarget(name: "SQLiteDatabaseTests", dependencies: ["SQLiteDatabase", "AxleBase", "AxleTestSupport"]),
        .testTarget(name: "OutboxTests", dependencies: ["Outbox", "AxleTestSupport"]),
        .testTarget(name: "TelemetryPayloadTests", dependencies: ["TelemetryPayload", "AxleTestSupport"]),
        .testTarget(name: "MQTTUplinkTests", dependencies: ["MQTTUplink", "AxleTestSupport"]),
        .testTarget(
            name: "AxleAgentTests",
            dependencies: [
                "AxleAgent", "Outbox", "TelemetryPayload", "MQTTUplink", "CANFrames", "DBC", "AgentControl", "AxleTestSupport",
                "RemoteCommands", "AgentCore", "ConfigBundle", "FirmwareProfile",
            ]
        ),
        .testTarget(
            name: "AgentCoreTests",
            dependencies: [
                "AgentCore", "AxleBase", "CANFrames", "Collection", "FirmwareProfile", "RemoteCommands", "Diagnostics",
            ]),
        .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics", "CANFrames", "AxleTestSupport"]),
        .testTarget(name: "TOMLTests", dependencies: ["TOML", "AxleTestSupport"]),
        .testTarget(name: "FirmwareProfileTests", dependencies: ["FirmwareProfile", "TOML", "DBC", "AxleTestSupport"]),
        .testTarget(name: "CollectionTests", dependencies: ["Collection", "FirmwareProfile", "DBC"]),
        .testTarget(
            name: "AgentControlTests",
            dependencies: ["AgentControl", "AgentControlTestSupport", "AxleBase", "Outbox", "AxleTestSupport"]),
        .testTarget(name: "AxleBaseTests", dependencies: ["AxleBase"]),
        .testTarget(name: "RemoteCommandsTests", dependencies: ["RemoteCommands", "AxleBase", "AxleTestSupport"]),
        .testTarget(
            name: "ConfigBundleTests",
            dependencies: ["ConfigBundle", "RemoteCommands", "AxleBase", "AxleTestSupport", "FirmwareProfile"]),
        .testTarget(
            name: "CommandStoreTests", dependencies: ["CommandStore", "RemoteCommands", "AxleBase", "AxleTestSupport"]),
        .testTarget(
            name: "AxleFleetTests",
            dependencies: [
                "AxleFleet", "RemoteCommands", "MQTTUplink", "TelemetryPayload", "AxleBase", "AxleTestSupport", "ConfigBundle",
            ]),
        .testTarget(
            name: "VehicleSimulatorTests", dependencies: ["VehicleSimulator", "DBC", "CANFrames", "AxleTestSupport", "Diagnostics"]),
    ]
)

// The same strict settings for every target (the swift-log / swift-metrics way).
// (C targets take no Swift settings.)
let cTargets: Set<String> = ["CSocketCAN", "CSQLite", "CZstd", "CMosquitto"]
for target in package.targets where !cTargets.contains(target.name) {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
