import CANFrames
import DBC
import Testing
import VehicleSimulator

/// Command frames from the bus change what the vehicle reports, after the profile's delay and not before: the
/// remote-command path, end to end, with no car.
@Suite("command reactions")
struct CommandReactionTests {
    let sedan: DBCDatabase
    let truck: DBCDatabase

    init() throws {
        sedan = try Fixtures.demoSedan()
        truck = try Fixtures.fleetTruck()
    }

    func command(_ message: String, _ values: [String: SignalEncoder.Value], database: DBCDatabase? = nil) throws -> CANFrame {
        try SignalEncoder(database: database ?? sedan).encode(message: message, values: values)
    }

    @Test("TrunkOpenRequest=1 makes BodyStatus.TrunkOpen report 1 after 0.3 s, and not before")
    func trunkOpens() throws {
        var simulator = try Fixtures.simulator(.parked)
        _ = simulator.advance(to: 5)
        let actions = simulator.receive(try command("TrunkCommand", ["TrunkOpenRequest": 1, "TrunkCommandCounter": 3]))
        #expect(actions == [.openTrunk])
        let trace = simulator.trace(until: 7, step: 0.05, database: sedan)
        let before = trace.values("BodyStatus.TrunkOpen", to: 5.3)
        let after = trace.values("BodyStatus.TrunkOpen", from: 5.31)
        #expect(before.count >= 2 && before.allSatisfy { $0 == 0 })
        #expect(after.count >= 10 && after.allSatisfy { $0 == 1 })
    }

    @Test("the reaction delay is the profile's")
    func reactionDelay() throws {
        var profile = SimulatorProfile.demoSedan
        profile.reactionDelay = 1.5
        var simulator = try VehicleSimulator(database: sedan, scenario: .parked, profile: profile, seed: 1, start: Fixtures.start)
        _ = simulator.advance(to: 2)
        simulator.receive(try command("TrunkCommand", ["TrunkOpenRequest": 1]))
        let trace = simulator.trace(until: 5, database: sedan)
        #expect(trace.every("BodyStatus.TrunkOpen", to: 3.5) { $0 == 0 })
        #expect(trace.every("BodyStatus.TrunkOpen", from: 3.51) { $0 == 1 })
    }

    @Test("LockRequest Unlock clears DoorsLocked and Lock sets it again")
    func lockAndUnlock() throws {
        var simulator = try Fixtures.simulator(.parked)
        _ = simulator.advance(to: 2)
        #expect(simulator.receive(try command("LockCommand", ["LockRequest": .label("Unlock")])) == [.unlock])
        _ = simulator.trace(until: 4, database: sedan)
        #expect(simulator.receive(try command("LockCommand", ["LockRequest": .label("Lock")])) == [.lock])
        let trace = simulator.trace(until: 6, step: 0.1, database: sedan)
        #expect(trace.every("BodyStatus.DoorsLocked", to: 4.3) { $0 == 0 })
        #expect(trace.every("BodyStatus.DoorsLocked", from: 4.31) { $0 == 1 })
    }

    @Test("a lock request while driving locks the doors; an unlock stays in force")
    func lockWhileDriving() throws {
        var simulator = try Fixtures.simulator(.cityDrive)
        _ = simulator.advance(to: 1)
        #expect(simulator.state.doorsLocked == false)
        simulator.receive(try command("LockCommand", ["LockRequest": 1]))
        _ = simulator.advance(to: 1.5)
        #expect(simulator.state.doorsLocked)
        _ = simulator.advance(to: 30)
        simulator.receive(try command("LockCommand", ["LockRequest": 2]))
        let trace = simulator.trace(until: 40, database: sedan)
        #expect(trace.every("BodyStatus.DoorsLocked", from: 30.31) { $0 == 0 })
    }

    @Test("the trunk does not open while the car is moving")
    func trunkRefusedWhileMoving() throws {
        var simulator = try Fixtures.simulator(.cityDrive)
        _ = simulator.advance(to: 30)
        #expect(simulator.state.speed > 40)
        #expect(simulator.receive(try command("TrunkCommand", ["TrunkOpenRequest": 1])) == [.openTrunk])
        let trace = simulator.trace(until: 33, database: sedan)
        #expect(trace.every("BodyStatus.TrunkOpen") { $0 == 0 })
    }

    @Test("frames that are not commands, or ask for nothing, change nothing")
    func ignored() throws {
        var simulator = try Fixtures.simulator(.parked)
        let engine = try command("EngineStatus", ["EngineSpeed": 800])
        #expect(simulator.receive(engine).isEmpty)
        #expect(simulator.receive(try command("TrunkCommand", ["TrunkOpenRequest": 0])).isEmpty)
        #expect(simulator.receive(try command("LockCommand", ["LockRequest": 0])).isEmpty)
        #expect(simulator.receive(CANFrame(id: 0x200, kind: .remote)).isEmpty)
        _ = simulator.advance(to: 2)
        #expect(simulator.state.trunkOpen == false && simulator.state.doorsLocked)
    }

    @Test("climate on: active, with the requested target, and the cabin heads for it")
    func climate() throws {
        var simulator = try Fixtures.simulator(.parked)
        _ = simulator.advance(to: 1)
        let request = try command("ClimateCommand", ["ClimateRequest": 1, "ClimateTargetTemp": 24, "ClimateDuration": 10])
        #expect(simulator.receive(request) == [.startClimate])
        let trace = simulator.trace(until: 200, step: 5, database: sedan)
        #expect(trace.every("BodyStatus.ClimateActive", from: 1.31) { $0 == 1 })
        #expect(trace.every("BodyStatus.ClimateTarget", from: 1.31) { $0 == 24 })
        let cabin = trace.values("BodyStatus.CabinTemp")
        #expect(try #require(cabin.first) < 16)
        #expect(try #require(cabin.last) > 20)
    }

    @Test("charging starts when parked and the state of charge rises")
    func charging() throws {
        var simulator = try Fixtures.simulator(.parked)
        _ = simulator.advance(to: 1)
        #expect(simulator.receive(try command("ChargingCommand", ["ChargingRequest": .label("Start")])) == [.startCharging])
        let trace = simulator.trace(until: 120, step: 5, database: sedan)
        #expect(Set(trace.labels("FuelAndPower.ChargingState", from: 1.31)) == ["Charging"])
        let charge = trace.values("FuelAndPower.StateOfCharge")
        #expect(try #require(charge.last) > (try #require(charge.first)))
    }

    @Test("J1939: a reefer command from another source address and priority matches by PGN")
    func truckCommandsByPGN() throws {
        var simulator = try Fixtures.simulator(.parked, truck: true)
        _ = simulator.advance(to: 1)
        var unlock = try command("ReeferCommand", ["ReeferCommandType": .label("UnlockCargoDoor")], database: truck)
        #expect(unlock.id == 0x18EF_904A)
        // Priority 7, source address 0x4B, and another destination: still PGN 61184.
        unlock.id = 0x1CEF_334B
        #expect(J1939.pgn(ofID: unlock.id) == 61184)
        #expect(simulator.receive(unlock) == [.unlock])
        _ = simulator.advance(to: 3)
        let setpoint = try command("ReeferCommand", ["ReeferCommandType": .label("SetSetpoint"), "ReeferSetpointRequest": -18], database: truck)
        #expect(simulator.receive(setpoint) == [.setCargoSetpoint])
        let trace = simulator.trace(until: 10, database: truck)
        #expect(Set(trace.labels("ReeferStatus.CargoDoorLocked", from: 2, to: 3.3)) == ["Unlocked"])
        #expect(trace.labels("ReeferStatus.CargoDoorLocked", to: 1).allSatisfy { $0 == "Locked" })
        #expect(trace.every("ReeferStatus.ReeferSetpoint", to: 3.3) { $0 == 4 })
        #expect(trace.every("ReeferStatus.ReeferSetpoint", from: 3.31) { $0 == -18 })
    }
}
