import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// 2026-01-01T00:00:00Z, in Unix microseconds.
let startMicros: Int64 = 1_767_225_600_000_000

/// A small deterministic random source (SplitMix64), so a failing test fails the same way every time.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a test appended, to compare a decoded batch against.
struct ExpectedSample: Equatable {
    var signal: String
    var unit: String
    var timeMicros: Int64
    var value: Double
    var raw: Int64?

    /// Equal bit for bit (so NaN equals NaN, and -0 differs from +0).
    func matches(_ decoded: DecodedSample) -> Bool {
        signal == decoded.signal && unit == decoded.unit && timeMicros == decoded.timeMicros && raw == decoded.raw
            && value.bitPattern == decoded.value.bitPattern
    }
}

/// Decoded samples grouped by signal, in order: the order a batch's samples come back in.
func groupedBySignal(_ samples: [ExpectedSample]) -> [ExpectedSample] {
    var order: [String] = []
    var groups: [String: [ExpectedSample]] = [:]
    for sample in samples {
        if groups[sample.signal] == nil { order.append(sample.signal) }
        groups[sample.signal, default: []].append(sample)
    }
    return order.flatMap { groups[$0]! }
}

/// A typical car's CAN traffic as a telemetry profile records it: 40 DBC signals in 10 messages, 4 messages at 50 Hz
/// (driving dynamics) and 6 at 10 Hz (powertrain, body, temperatures), with bus timing jitter (±0.3 ms unless told),
/// values that drift smoothly with a little sensor noise, and some that hardly ever change (gear, doors, odometer).
struct SyntheticDrive {
    struct Signal {
        var description: SignalDescription
        var hertz: Int
        /// Raw value at second `t`.
        var raw: (Double, inout SeededRandom) -> Int64
    }

    let signals: [Signal]
    /// How far a frame's time strays from its period, either way.
    let jitterMicros: Int64

    init(jitterMicros: Int64 = 300) {
        self.jitterMicros = jitterMicros
        func smooth(_ center: Double, _ amplitude: Double, period: Double, noise: Int64 = 0)
            -> (Double, inout SeededRandom) -> Int64
        {
            { t, random in
                let wave = center + amplitude * (0.6 * sin(t * 2 * .pi / period) + 0.4 * sin(t * 2 * .pi / (period * 0.37)))
                let jitter = noise == 0 ? 0 : Int64.random(in: -noise...noise, using: &random)
                return Int64(wave.rounded()) + jitter
            }
        }
        func constant(_ raw: Int64) -> (Double, inout SeededRandom) -> Int64 { { _, _ in raw } }
        func step(_ start: Int64, every seconds: Double) -> (Double, inout SeededRandom) -> Int64 {
            { t, _ in start + Int64(t / seconds) }
        }
        func signal(_ name: String, _ unit: String, _ factor: Double, _ offset: Double, _ hertz: Int,
                    _ raw: @escaping (Double, inout SeededRandom) -> Int64) -> Signal {
            Signal(description: SignalDescription(name: name, unit: unit, factor: factor, offset: offset), hertz: hertz, raw: raw)
        }
        signals = [
            // 50 Hz: wheel speeds, dynamics, pedals, steering.
            signal("ABS_WheelSpeeds.FL", "km/h", 0.01, 0, 50, smooth(6000, 3000, period: 120, noise: 2)),
            signal("ABS_WheelSpeeds.FR", "km/h", 0.01, 0, 50, smooth(6010, 3000, period: 120, noise: 2)),
            signal("ABS_WheelSpeeds.RL", "km/h", 0.01, 0, 50, smooth(5995, 3000, period: 120, noise: 2)),
            signal("ABS_WheelSpeeds.RR", "km/h", 0.01, 0, 50, smooth(6005, 3000, period: 120, noise: 2)),
            signal("ESP_Dynamics.YawRate", "deg/s", 0.01, -327.68, 50, smooth(32768, 800, period: 17, noise: 3)),
            signal("ESP_Dynamics.LatAccel", "m/s2", 0.01, -10.24, 50, smooth(1024, 150, period: 13, noise: 2)),
            signal("ESP_Dynamics.LongAccel", "m/s2", 0.01, -10.24, 50, smooth(1024, 120, period: 23, noise: 2)),
            signal("ESP_Dynamics.VehicleSpeed", "km/h", 0.01, 0, 50, smooth(6000, 3000, period: 120, noise: 1)),
            signal("Pedals.Accelerator", "%", 0.4, 0, 50, smooth(60, 50, period: 31, noise: 0)),
            signal("Pedals.Brake", "bar", 0.1, 0, 50, smooth(40, 40, period: 29, noise: 0)),
            signal("Pedals.BrakeSwitch", "", 1, 0, 50, { t, _ in sin(t / 5) > 0.8 ? 1 : 0 }),
            signal("Pedals.Counter", "", 1, 0, 50, { t, _ in Int64(t * 50) % 16 }),
            signal("Steering.Angle", "deg", 0.1, 0, 50, smooth(0, 900, period: 19, noise: 1)),
            signal("Steering.Rate", "deg/s", 1, 0, 50, smooth(0, 60, period: 19, noise: 1)),
            signal("Steering.Torque", "Nm", 0.01, 0, 50, smooth(0, 250, period: 7, noise: 3)),
            signal("Steering.Counter", "", 1, 0, 50, { t, _ in Int64(t * 50) % 16 }),
            // 10 Hz: powertrain.
            signal("Engine.Speed", "rpm", 0.25, 0, 10, smooth(8000, 4000, period: 45, noise: 4)),
            signal("Engine.Torque", "Nm", 0.5, -400, 10, smooth(1000, 300, period: 33, noise: 2)),
            signal("Engine.Load", "%", 0.4, 0, 10, smooth(100, 60, period: 37, noise: 1)),
            signal("Engine.ThrottlePosition", "%", 0.4, 0, 10, smooth(60, 50, period: 31, noise: 0)),
            signal("Transmission.Gear", "", 1, 0, 10, { t, _ in 3 + Int64(sin(t / 40) * 2) }),
            signal("Transmission.OilTemp", "degC", 1, -40, 10, step(110, every: 90)),
            signal("Transmission.Mode", "", 1, 0, 10, constant(2)),
            signal("Transmission.TorqueConverterLock", "", 1, 0, 10, { t, _ in sin(t / 40) > 0 ? 1 : 0 }),
            // 10 Hz: temperatures and electrics.
            signal("Thermal.Coolant", "degC", 1, -40, 10, step(120, every: 60)),
            signal("Thermal.Oil", "degC", 1, -40, 10, step(125, every: 75)),
            signal("Thermal.Intake", "degC", 1, -40, 10, smooth(70, 3, period: 300)),
            signal("Thermal.Ambient", "degC", 0.5, -40, 10, constant(118)),
            signal("Battery.Voltage", "V", 0.01, 0, 10, smooth(1400, 5, period: 60, noise: 2)),
            signal("Battery.Current", "A", 0.1, -1000, 10, smooth(10000, 80, period: 25, noise: 5)),
            signal("Battery.StateOfCharge", "%", 0.5, 0, 10, step(170, every: 600)),
            signal("Battery.Temperature", "degC", 1, -40, 10, constant(65)),
            // 10 Hz: body and chassis.
            signal("Body.DoorFL", "", 1, 0, 10, constant(0)),
            signal("Body.DoorFR", "", 1, 0, 10, constant(0)),
            signal("Body.Lights", "", 1, 0, 10, constant(5)),
            signal("Body.Wipers", "", 1, 0, 10, constant(0)),
            signal("Chassis.FuelLevel", "%", 0.4, 0, 10, step(180, every: -900)),
            signal("Chassis.Odometer", "km", 0.1, 0, 10, step(1_234_567, every: 6)),
            signal("Chassis.TirePressureFL", "kPa", 1, 0, 10, constant(240)),
            signal("Chassis.TirePressureFR", "kPa", 1, 0, 10, constant(238)),
        ]
    }

    /// One batch of `seconds` of driving, starting `startSecond` seconds into the drive.
    func batch(seconds: Int, startSecond: Int = 600, seed: UInt64 = 1) -> TelemetryBatchBuilder {
        var builder = TelemetryBatchBuilder(
            vehicleID: "WAUZZZ8V5KA123456", profile: "demo-sedan", signals: signals.map(\.description))
        append(to: &builder, seconds: seconds, startSecond: startSecond, seed: seed)
        return builder
    }

    /// Appends `seconds` of driving: frames in time order, each frame's signals with the frame's time.
    func append(to builder: inout TelemetryBatchBuilder, seconds: Int, startSecond: Int, seed: UInt64) {
        forEachSample(seconds: seconds, startSecond: startSecond, seed: seed) { signal, time, raw in
            builder.append(signal: signal, timeMicros: time, raw: raw)
        }
    }

    /// Every sample of `seconds` of driving, in time order: signal index, time (Unix µs) and raw value.
    func forEachSample(seconds: Int, startSecond: Int, seed: UInt64, _ body: (Int, Int64, Int64) -> Void) {
        var random = SeededRandom(state: seed)
        let ticks = seconds * 50
        for tick in 0..<ticks {
            // Signals of one message (4 in a row, same rate) share its time; each message has its own phase and jitter.
            for message in 0..<(signals.count / 4) where tick % (50 / signals[message * 4].hertz) == 0 {
                let nominal = Int64(startSecond) * 1_000_000 + Int64(tick) * 20_000 + Int64(message) * 1_100
                let time = startMicros + nominal + Int64.random(in: -jitterMicros...jitterMicros, using: &random)
                let t = Double(nominal) / 1e6
                for index in (message * 4)..<(message * 4 + 4) {
                    body(index, time, signals[index].raw(t, &random))
                }
            }
        }
    }
}
