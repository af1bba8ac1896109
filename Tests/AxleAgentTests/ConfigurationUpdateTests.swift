import AxleBase
import AxleTestSupport
import ConfigBundle
import Outbox
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Configuration over the air on one vehicle (docs/configuration.md): real `axled` on the simulator, real mosquitto,
/// bundles made by the real `axle-fleet config sign`.
@Suite("Configuration over the air: one vehicle")
struct ConfigurationUpdateTests {
    /// The demo DBC with every message the vehicle sends moved to another id: it validates, and decodes nothing the
    /// vehicle sends. The command messages (standard ids from 0x200) keep theirs: a pushed profile may not write
    /// other ids.
    static func movedIDs(_ dbc: String) -> String {
        let ids = Set(dbc.split(separator: "\n").filter { $0.hasPrefix("BO_ ") }.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
            .filter { Int($0).map { $0 < 0x200 || $0 >= 0x8000_0000 } ?? false })
        let keywords: Set<Substring> = ["BO_", "SG_", "VAL_", "BO_TX_BU_", "SIG_VALTYPE_"]
        return dbc.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var tokens = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            for index in tokens.indices.dropFirst() where ids.contains(tokens[index]) && keywords.contains(Substring(tokens[index - 1])) {
                tokens[index] = String(Int(tokens[index])! + 1024)
            }
            return tokens.joined(separator: " ")
        }.joined(separator: "\n")
    }

    @Test("a pushed version adds a collection rule to the running agent without a restart, after its trial")
    func addsARuleWithoutRestart() throws {
        let rig = try ConfigurationRig(vehicleID: "config-one")
        defer { rig.cleanUp() }
        let everything = try MosquittoSubscriber(broker: rig.broker, topics: ["axle/v1/config-one/#"])
        let agent = try rig.startAgent()
        defer { agent.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 20) { rig.ruleNames().contains("motion") }, "\(rig.harness.log())")
        #expect(!rig.ruleNames().contains("pushed-speed"))
        // The first report: the installed profile, version 0.
        #expect(waitUntil(timeoutSeconds: 10) { rig.receivedReports().contains { $0.active.version == 0 } })

        let bundle = try rig.sign(try rig.profile(version: 1) { $0 + addedRule }, version: 1)
        try rig.push(bundle: bundle, version: 1)
        let report = rig.finalReport(version: 1)
        #expect(report?.last?.status == .applied, "\(String(describing: report)) \(rig.harness.log())")
        #expect(report?.active.version == 1)
        #expect(report?.active.bundleSHA256 == DesiredConfiguration.digest(of: try FileInput.readAll(path: bundle)))
        #expect(report?.previous?.version == 0)
        #expect(report?.highWaterMark == 1)
        // The statuses in order: APPLYING, TRIAL, APPLIED.
        let statuses = rig.receivedReports().compactMap { $0.last?.version == 1 ? $0.last?.status : nil }
        #expect(statuses.firstIndex(of: .applying)! < statuses.firstIndex(of: .trial)!)
        #expect(statuses.firstIndex(of: .trial)! < statuses.firstIndex(of: .applied)!)

        // The same process runs the new rule.
        #expect(agent.isRunning)
        #expect(rig.ruleNames().contains("pushed-speed"), "\(rig.ruleNames())")
        let log = rig.harness.log()
        #expect(log.split(separator: "\n").filter { $0.contains("ready in") }.count == 1, "the agent started more than once: \(log)")
        #expect(log.contains("switched the pipeline to profile demo-sedan"))

        // Nothing buffered was lost across the switch: every record, from before the push to the shutdown, arrives.
        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0)
        #expect(try rig.harness.drain(broker: rig.broker.url, run: 2) == 0, "\(rig.harness.log(run: 2))")
        let last = try OutboxStore.readStatistics(path: rig.harness.outboxPath).lastSequence
        #expect(waitUntil(timeoutSeconds: 20) { Received(everything.messages()).sequences.count >= Int(last) })
        #expect(gaps(in: Received(everything.messages()).sequences, upTo: last) == [], "records lost across the switch")

        // After a restart it runs version 1 from its store, and says so.
        let again = try rig.startAgent(run: 1)
        defer { again.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 20) { rig.ruleNames().contains("pushed-speed") }, "\(rig.harness.log(run: 1))")
        #expect(rig.harness.log(run: 1).contains("running version 1 of the configuration"))
    }

    @Test("a version that does not validate is refused, one that fails its health check is rolled back; the vehicle stays on the earlier one, collecting")
    func invalidAndUnhealthyVersions() throws {
        let rig = try ConfigurationRig(vehicleID: "config-bad")
        defer { rig.cleanUp() }
        let agent = try rig.startAgent()
        defer { agent.terminate(timeoutSeconds: 5) }
        try rig.push(bundle: try rig.sign(try rig.profile(version: 2) { $0 + addedRule }, version: 2), version: 2)
        #expect(rig.finalReport(version: 2)?.last?.status == .applied, "\(rig.harness.log())")

        // Version 3: signed, but its profile.toml names a signal the catalog does not have.
        let invalid = try rig.profile(version: 3) { $0 + "\n[[rules]]\nname = \"broken\"\nsignals = [\"Vehicle.NoSuchSignal\"]\nperiodic = \"1s\"\n" }
        try rig.push(bundle: try rig.sign(invalid, version: 3), version: 3)
        let refused = rig.finalReport(version: 3)
        #expect(refused?.last?.status == .failed, "\(String(describing: refused)) \(rig.harness.log())")
        #expect(refused?.last?.reason == "invalid")
        #expect(refused?.last?.text?.contains("profile.toml:") == true, "\(String(describing: refused?.last?.text))")
        #expect(refused?.active.version == 2)

        // Version 4: validates, but its DBC has other ids than the vehicle's frames: nothing decodes on trial.
        let unhealthy = try rig.profile(version: 4, movedIDs: true) { $0 + addedRule }
        try rig.push(bundle: try rig.sign(unhealthy, version: 4), version: 4)
        let rolledBack = rig.finalReport(version: 4)
        #expect(rolledBack?.last?.status == .rolledBack, "\(String(describing: rolledBack)) \(rig.harness.log())")
        #expect(rolledBack?.last?.reason == "health_check_failed")
        #expect(rolledBack?.active.version == 2)
        #expect(rolledBack?.highWaterMark == 4)

        // Still version 2's rules, still collecting: signals keep decoding after the rollback.
        #expect(rig.ruleNames().contains("pushed-speed"))
        let before = rig.harness.signalValues()
        #expect(waitUntil(timeoutSeconds: 10) { rig.harness.signalValues() != before && !rig.harness.signalValues().isEmpty })
        #expect(agent.isRunning)
    }

    @Test("an expired bundle, a replayed older version, one signed with a command key and one whose file hash differs are each refused with their own reason")
    func refusals() throws {
        let rig = try ConfigurationRig(vehicleID: "config-refusals")
        defer { rig.cleanUp() }
        // A command key the vehicle trusts for commands: it must never sign configuration.
        let commandKey = rig.directory + "/command-key"
        _ = try ChildProcess.run(ConfigurationRig.fleet, ["keygen", "--out", commandKey])
        let agent = try rig.startAgent(arguments: ["--trust-key", commandKey + ".pub"])
        defer { agent.terminate(timeoutSeconds: 5) }
        let profile = try rig.profile(version: 2) { $0 + addedRule }
        let version1 = try rig.sign(profile, version: 1)
        try rig.push(bundle: try rig.sign(profile, version: 2), version: 2)
        #expect(rig.finalReport(version: 2)?.last?.status == .applied, "\(rig.harness.log())")

        // Expired: valid for one second, a minute ago.
        let expired = try rig.sign(profile, version: 5, arguments: ["--not-before", "\(wallClockMillis() - 60_000)", "--valid-for", "1s"])
        try rig.push(bundle: expired, version: 5)
        #expect(rig.finalReport(version: 5)?.last?.reason == "expired", "\(rig.harness.log())")

        // Replayed: version 1 after version 2.
        try rig.push(bundle: version1, version: 1)
        #expect(rig.finalReport(version: 1)?.last?.reason == "version_not_above_high_water_mark", "\(rig.harness.log())")

        // Signed with the command key (its seed, under its id).
        let seedLine = AxleProcess.readText(commandKey + ".key").split(separator: " ")
        let commandSigner = try ConfigurationSigningKey(
            keyID: String(seedLine[1]), rawRepresentation: Base64.decode(String(seedLine[2].prefix { $0 != "\n" })) ?? [])
        let genuine = try BundleVerifier(
            vehicleID: rig.vehicleID, configurationKeys: [try ConfigurationPublicKey(contentsOfFile: rig.keyPrefix + ".pub")]
        ).verify(try FileInput.readAll(path: try rig.sign(profile, version: 6)), nowMillis: wallClockMillis(), highWaterMark: 0).get()
        let forged = ConfigurationBundle.make(
            manifest: genuine.manifest, contents: Dictionary(uniqueKeysWithValues: genuine.files.map { ($0.path, Array($0.contents)) }),
            key: commandSigner)
        try rig.push(forged, version: 6)
        #expect(rig.finalReport(version: 6)?.last?.reason == "wrong_role_key", "\(rig.harness.log())")

        // A file's bytes changed after signing (the desired message names the bytes as sent).
        var tampered = try FileInput.readAll(path: try rig.sign(profile, version: 7))
        tampered[tampered.count - 2] ^= 0x01
        try rig.push(tampered, version: 7)
        let mismatch = rig.finalReport(version: 7)
        #expect(mismatch?.last?.reason == "file_mismatch", "\(rig.harness.log())")
        #expect(mismatch?.last?.status == .failed)
        #expect(mismatch?.active.version == 2)
        #expect(agent.isRunning)
        #expect(rig.ruleNames().contains("pushed-speed"))
    }

    @Test("a chunk spoiled on the broker fails the version (bundle_mismatch) until the backend pushes it again, which fetches and applies it")
    func spoiledChunkIsFetchedAgainOnANewPush() throws {
        let rig = try ConfigurationRig(vehicleID: "config-spoiled")
        defer { rig.cleanUp() }
        let agent = try rig.startAgent()
        defer { agent.terminate(timeoutSeconds: 5) }
        var padding = [UInt8](repeating: 0, count: 100_000)
        for index in padding.indices { padding[index] = UInt8(truncatingIfNeeded: index &* 40_503 >> 7) }
        let bundle = try FileInput.readAll(path: try rig.sign(try rig.profile(version: 1, extraFiles: ["padding.bin": padding]) { $0 + addedRule }, version: 1))
        let desired = DesiredConfiguration(version: 1, bundle: bundle)
        #expect(desired.chunks >= 2)
        // Chunk 1 as someone else published it: the right size, other bytes.
        var spoiled = bundle
        for index in desired.range(ofChunk: 1) { spoiled[index] ^= 0x5A }
        try rig.push(spoiled, version: 1, chunks: 1..<2, desired: false, topicsOf: bundle)
        try rig.push(bundle, version: 1, chunks: 0..<1)
        let failed = rig.finalReport(version: 1)
        #expect(failed?.last?.status == .failed, "\(String(describing: failed)) \(rig.harness.log())")
        #expect(failed?.last?.reason == "bundle_mismatch")
        #expect(failed?.highWaterMark == 0, "a version spoiled on the way must not be burnt")

        // The backend pushes again (the chunks, then the desired message, live): fetched again, applied.
        let before = rig.receivedReports().count
        try rig.push(bundle, version: 1)
        #expect(waitUntil(timeoutSeconds: 30) {
            rig.receivedReports().dropFirst(before).contains { $0.last?.version == 1 && $0.last?.status == .applied }
        }, "\(rig.harness.log())")
        #expect(rig.ruleNames().contains("pushed-speed"))
    }

    @Test("a link cut in the middle of a chunked transfer resumes where it stopped, and the version applies")
    func linkCutMidTransfer() throws {
        let broker = try MosquittoBroker()
        let relay = try TCPRelay(targetPort: broker.port)
        let rig = try ConfigurationRig(vehicleID: "config-cut", broker: broker)
        defer { rig.cleanUp() }
        // A profile of 12 chunks: a large file beside the DBC (a real large DBC is 807 KB).
        var padding = [UInt8](repeating: 0, count: 700_000)
        for index in padding.indices { padding[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
        let bundle = try FileInput.readAll(path: try rig.sign(try rig.profile(version: 1, extraFiles: ["docs/padding.bin": padding]) { $0 + addedRule }, version: 1))
        let desired = DesiredConfiguration(version: 1, bundle: bundle)
        #expect(desired.chunks >= 11)
        let agent = try rig.harness.start(broker: "mqtt://127.0.0.1:\(relay.port)", [
            "--simulate", "city-drive", "--config-key", rig.keyPrefix + ".pub", "--config-trial", "1s",
        ])
        defer { agent.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 20) { rig.harness.log().contains("connected to") }, "\(rig.harness.log())")

        // The backend has published half of the chunks when the vehicle's link drops.
        try rig.push(bundle, version: 1, chunks: 0..<5)
        let chunkFolder = rig.harness.dataDirectory + "/config/download/" + desired.bundleSHA256
        #expect(waitUntil(timeoutSeconds: 20) { chunkFiles(in: chunkFolder) == 5 }, "\(rig.harness.log())")
        relay.cut()
        try rig.push(bundle, version: 1, chunks: 5..<desired.chunks, desired: false)
        #expect(rig.receivedReports().allSatisfy { $0.last?.status != .applied })
        #expect(chunkFiles(in: chunkFolder) == 5)
        try relay.restore()
        let report = rig.finalReport(version: 1)
        #expect(report?.last?.status == .applied, "\(String(describing: report)) \(rig.harness.log())")
        #expect(agent.isRunning)
        #expect(rig.ruleNames().contains("pushed-speed"))
    }
}

/// How many chunk files a download folder holds.
func chunkFiles(in folder: String) -> Int {
    ((try? ConfigurationStore.names(in: folder)) ?? []).filter { Int($0) != nil }.count
}
