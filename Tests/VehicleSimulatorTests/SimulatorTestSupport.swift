import CANFrames
import DBC
import VehicleSimulator

/// The project's own DBC files, from the package root.
enum Fixtures {
    static var packageRoot: String {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }

    static let demoSedanPath = packageRoot + "/Firmware-Profiles/demo-sedan/demo_sedan.dbc"
    static let fleetTruckPath = packageRoot + "/Firmware-Profiles/fleet-truck-j1939/fleet_truck_j1939.dbc"

    static func demoSedan() throws -> DBCDatabase { try DBCParser.parse(contentsOf: demoSedanPath) }
    static func fleetTruck() throws -> DBCDatabase { try DBCParser.parse(contentsOf: fleetTruckPath) }

    /// 2026-01-01T00:00:00Z.
    static let start = CANTimestamp(seconds: 1_767_225_600)

    static func simulator(
        _ scenario: Scenario, truck: Bool = false, seed: UInt64 = 7
    ) throws -> VehicleSimulator {
        try VehicleSimulator(
            database: truck ? fleetTruck() : demoSedan(), scenario: scenario,
            profile: truck ? .fleetTruckJ1939 : .demoSedan, seed: seed, start: start)
    }
}

/// Frames a simulator produced, decoded: each signal's values over time.
struct Trace {
    struct Sample {
        var time: Double
        var value: Double
        var label: String?
    }

    var frames: [CANFrame] = []
    /// By "Message.Signal".
    var samples: [String: [Sample]] = [:]
    var undecoded = 0

    init(frames: [CANFrame], database: DBCDatabase) {
        self.frames = frames
        let decoder = CompiledDecoder(database: database)
        var result = DecodedFrame()
        for frame in frames {
            guard decoder.decode(frame, into: &result) == .decoded, let index = result.messageIndex else {
                undecoded += 1
                continue
            }
            let message = decoder.messages[index].name
            let time = Self.seconds(frame.timestamp)
            for signal in result {
                samples["\(message).\(decoder.name(of: signal))", default: []].append(
                    Sample(time: time, value: signal.value, label: decoder.label(of: signal)))
            }
        }
    }

    /// Seconds since `Fixtures.start`.
    static func seconds(_ timestamp: CANTimestamp) -> Double {
        Double(timestamp.seconds - Fixtures.start.seconds) + Double(timestamp.nanoseconds) / 1e9
    }

    func values(_ name: String, from: Double = -.infinity, to: Double = .infinity) -> [Double] {
        (samples[name] ?? []).filter { $0.time >= from && $0.time <= to }.map(\.value)
    }

    /// Whether there are values of `name` in the time window, and every one satisfies `predicate`.
    func every(_ name: String, from: Double = -.infinity, to: Double = .infinity, _ predicate: (Double) -> Bool) -> Bool {
        let window = values(name, from: from, to: to)
        return !window.isEmpty && window.allSatisfy(predicate)
    }

    func labels(_ name: String, from: Double = -.infinity, to: Double = .infinity) -> [String?] {
        (samples[name] ?? []).filter { $0.time >= from && $0.time <= to }.map(\.label)
    }

    /// The value at or just before `time`; NaN (which fails every comparison) when there is none.
    func value(_ name: String, at time: Double) -> Double {
        (samples[name] ?? []).last { $0.time <= time }?.value ?? .nan
    }

    /// The first, last and largest value of `name`; NaN when there is none.
    func first(_ name: String) -> Double { values(name).first ?? .nan }
    func last(_ name: String) -> Double { values(name).last ?? .nan }
    func maximum(_ name: String) -> Double { values(name).max() ?? .nan }
    /// Largest minus smallest value.
    func span(_ name: String) -> Double { (values(name).max() ?? .nan) - (values(name).min() ?? .nan) }

    func frames(of id: UInt32) -> [CANFrame] { frames.filter { $0.id == id } }
}

extension VehicleSimulator {
    /// Runs to `time` in steps of `step` seconds and decodes what was sent.
    mutating func trace(until time: Double, step: Double = 1, database: DBCDatabase) -> Trace {
        var frames: [CANFrame] = []
        var now = self.time
        while now < time {
            now = min(now + step, time)
            frames += advance(to: now)
        }
        return Trace(frames: frames, database: database)
    }
}
