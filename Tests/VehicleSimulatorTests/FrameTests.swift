import CANFrames
import DBC
import Testing
import VehicleSimulator

/// What every frame must get right: timing, counters, checksums, multiplexing, start values, determinism.
@Suite("frames")
struct FrameTests {
    @Test("each message comes at its GenMsgCycleTime, within 0.5 ms, and command messages are not sent")
    func cycleTimes() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.cityDrive)
        let trace = simulator.trace(until: 30, step: 0.25, database: database)
        let expected: [UInt32: Double] = [0x100: 0.02, 0x101: 0.02, 0x102: 0.1, 0x103: 0.1, 0x104: 0.1, 0x200: 0.2, 0x105: 0.25]
        #expect(Dictionary(uniqueKeysWithValues: simulator.messages.map { ($0.id, $0.cycleTime) }) == expected)
        for (id, cycle) in expected {
            let times = trace.frames(of: id).map { Trace.seconds($0.timestamp) }
            #expect(abs(Double(times.count) - 30 / cycle) <= 1, "message \(id): \(times.count) frames")
            let worst = zip(times, times.dropFirst()).map { abs($1 - $0 - cycle) }.max() ?? 1
            #expect(worst <= 0.0005, "message \(id) drifts from its \(cycle) s cycle by \(worst) s")
        }
        // The commands (standard 0x200-0x203) come from the agent; GnssPosition is the extended 0x200.
        #expect(trace.frames.allSatisfy { $0.isExtended || !(0x200...0x203).contains($0.id) })
        #expect(trace.frames(of: 0x200).allSatisfy { $0.isExtended })
    }

    @Test("frames come in time order, across calls, each no later than the time asked for")
    func timeOrder() throws {
        var simulator = try Fixtures.simulator(.cityDrive)
        var previous = 0.0
        var now = 0.0
        for step in [0.001, 0.013, 0.5, 0.02, 1.7, 0.0001, 3] {
            now += step
            for frame in simulator.advance(to: now) {
                let time = Trace.seconds(frame.timestamp)
                #expect(time >= previous && time <= now + 1e-9)
                previous = time
            }
        }
        #expect(simulator.advance(to: now - 1).isEmpty, "time does not go back")
        #expect(simulator.time == now)
        let next = try #require(simulator.nextFrameTime)
        #expect(next > now && next < now + 0.03)
    }

    @Test("EngineCounter rolls 0-15, one step per frame, and EngineChecksum verifies on every frame")
    func demoCounterAndChecksum() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.cityDrive)
        let trace = simulator.trace(until: 10, database: database)
        let counters = trace.values("EngineStatus.EngineCounter").map { Int($0) }
        #expect(counters.count > 400)
        #expect(Set(counters) == Set(0...15))
        #expect(zip(counters, counters.dropFirst()).allSatisfy { $1 == ($0 + 1) % 16 })
        for frame in trace.frames(of: 0x100) {
            let data = frame.data
            // docs/dbc.md: XOR of all nibbles of bytes 0-6 and of the counter nibble, in the high nibble of byte 7.
            var expected: UInt8 = data[7] & 0xF
            for byte in data[0..<7] { expected ^= (byte & 0xF) ^ (byte >> 4) }
            #expect(data[7] >> 4 == expected, "frame \(CandumpFormat.frameText(frame))")
        }
    }

    @Test("the truck's ReeferStatus carries a rolling counter and a sum-bytes-8 checksum")
    func truckCounterAndChecksum() throws {
        let database = try Fixtures.fleetTruck()
        var simulator = try Fixtures.simulator(.cargoWarming, truck: true)
        let trace = simulator.trace(until: 40, database: database)
        let frames = trace.frames.filter { J1939.pgn(ofID: $0.id) == 0xFF10 }
        #expect(frames.count == 40)
        for frame in frames {
            let data = frame.data
            #expect(data[0..<7].reduce(UInt8(0), &+) == data[7], "frame \(CandumpFormat.frameText(frame))")
        }
        let counters = trace.values("ReeferStatus.ReeferCounter").map { Int($0) }
        #expect(zip(counters, counters.dropFirst()).allSatisfy { $1 == ($0 + 1) % 16 })
    }

    @Test("checksum schemes compute what docs/simulator.md says")
    func checksumSchemes() {
        #expect(ChecksumScheme.xorNibbles.checksum(of: [0x12, 0x34, 0x00]) == (1 ^ 2 ^ 3 ^ 4))
        #expect(ChecksumScheme.xorNibbles.checksum(of: [0xFF, 0xFF]) == 0)
        #expect(ChecksumScheme.sumBytes8.checksum(of: [0x80, 0x80, 0x05]) == 5)
        #expect(ChecksumScheme(rawValue: "xor-nibbles") == .xorNibbles && ChecksumScheme(rawValue: "sum-bytes-8") == .sumBytes8)
    }

    @Test("counters and checksums are recognised by name")
    func signalNames() {
        for name in ["EngineCounter", "TrunkCommandCounter", "ALIVE_COUNTER", "MsgCnt", "ROLLING_CNT", "AliveCounter"] {
            #expect(ChecksumScheme.isCounterSignal(named: name), "\(name)")
        }
        for name in ["CruiseCtrlSetSpeed", "EngineSpeed", "CntrlMode", "CNTRL_STATE", "Count"] {
            #expect(!ChecksumScheme.isCounterSignal(named: name), "\(name)")
        }
        for name in ["EngineChecksum", "CRC8_Motion", "MSG_CHKSUM"] { #expect(ChecksumScheme.isChecksumSignal(named: name)) }
        #expect(!ChecksumScheme.isChecksumSignal(named: "EngineCounter"))
    }

    @Test("the multiplexed TyrePressures cycles through its four wheels, each with a plausible pressure")
    func multiplexedPages() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.cityDrive)
        let trace = simulator.trace(until: 10, database: database)
        let positions = trace.values("TyrePressures.TyrePosition").map { Int($0) }
        #expect(positions.count == 40)
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $1 == ($0 + 1) % 4 })
        for wheel in ["FrontLeft", "FrontRight", "RearLeft", "RearRight"] {
            let pressures = trace.values("TyrePressures.TyrePressure\(wheel)")
            #expect(pressures.count == 10)
            #expect(pressures.allSatisfy { $0 >= 220 && $0 <= 260 })
        }
    }

    @Test("signals the profile does not map take their GenSigStartValue")
    func startValues() throws {
        let database = try Fixtures.fleetTruck()
        var simulator = try Fixtures.simulator(.highway, truck: true)
        let trace = simulator.trace(until: 5, database: database)
        #expect(Set(trace.values("AMB.BarometricPress")) == [95])
        #expect(Set(trace.values("DD.WasherFluidLevel")) == [60])
        #expect(Set(trace.values("EFL_P1.EngOilLevel")) == [90])
        #expect(Set(trace.values("CCVS1.CruiseCtrlSetSpeed")) == [0])
    }

    @Test("values beyond a signal's range are clamped, not dropped")
    func clamping() throws {
        // A DBC whose speed signal tops out at 30 km/h: the highway run still sends every frame, at 30.
        let text = """
            VERSION ""
            BU_: ECU
            BO_ 1 Motion: 2 ECU
             SG_ Speed : 0|8@1+ (1,0) [0|30] "km/h" Vector__XXX
             SG_ Gear : 8|4@1+ (1,0) [0|15] "" Vector__XXX
            VAL_ 1 Gear 0 "P" 3 "D" ;
            """
        let database = try DBCParser.parse(text: text)
        let profile = SimulatorProfile(name: "tiny", bindings: [SignalBinding(.vehicleSpeed, "Motion", "Speed"), SignalBinding(.gear, "Motion", "Gear")])
        var simulator = try VehicleSimulator(database: database, scenario: .highway, profile: profile, seed: 1, start: Fixtures.start)
        #expect(simulator.messages == [SimulatedMessage(name: "Motion", id: 1, isExtended: false, cycleTime: 0.1)], "100 ms by default")
        #expect(simulator.warnings.contains { $0.contains("no value labelled \"R\"") })
        let trace = simulator.trace(until: 60, database: database)
        #expect(trace.frames.count == 600)
        #expect(trace.values("Motion.Speed").max() == 30)
        #expect(Set(trace.labels("Motion.Gear", from: 10)) == ["D"])
    }

    @Test("the same seed gives the same frames, whatever the step sizes; another seed differs")
    func determinism() throws {
        var first = try Fixtures.simulator(.cityDrive, seed: 42)
        var second = try Fixtures.simulator(.cityDrive, seed: 42)
        var other = try Fixtures.simulator(.cityDrive, seed: 43)
        let whole = first.advance(to: 30)
        var stepped: [CANFrame] = []
        var now = 0.0
        while now < 30 {
            now = min(now + 0.037, 30)
            stepped += second.advance(to: now)
        }
        #expect(whole.count > 4000)
        #expect(whole == stepped)
        #expect(first.state == second.state)
        #expect(other.advance(to: 30) != whole)
    }
}
