/// An OBD-II mode 01 parameter (SAE J1979 PID): how many data bytes it has, how they become a value, its unit, and
/// the VSS 5.0 signal it is the standard source of where VSS has one (VSS 5.0 deprecates its own `Vehicle.OBD`
/// branch, so the PIDs are mapped to the vehicle's standard signals instead).
public struct OBDParameter: Sendable {
    public let pid: UInt8
    /// snake_case, for profiles and scripts: "coolant_temperature".
    public let name: String
    public let title: String
    /// Data bytes in an answer (A, B, C, D).
    public let byteCount: Int
    /// VSS units ("celsius", "km/h", "rpm", "kPa", "percent", "g/s", "V"...).
    public let unit: String
    public let vss: String?
    /// The value from the data bytes (exactly `byteCount` of them).
    public let decode: @Sendable ([UInt8]) -> Double

    init(_ pid: UInt8, _ name: String, _ title: String, bytes: Int, unit: String, vss: String? = nil,
         _ decode: @escaping @Sendable ([UInt8]) -> Double) {
        self.pid = pid
        self.name = name
        self.title = title
        self.byteCount = bytes
        self.unit = unit
        self.vss = vss
        self.decode = decode
    }

    /// The standard parameters Axle decodes, by PID.
    public static let standard: [UInt8: OBDParameter] = {
        @Sendable func a(_ d: [UInt8]) -> Double { Double(d[0]) }
        @Sendable func ab(_ d: [UInt8]) -> Double { Double(d[0]) * 256 + Double(d[1]) }
        @Sendable func percent(_ d: [UInt8]) -> Double { Double(d[0]) * 100 / 255 }
        @Sendable func trim(_ d: [UInt8]) -> Double { Double(d[0]) / 1.28 - 100 }
        @Sendable func temperature(_ d: [UInt8]) -> Double { Double(d[0]) - 40 }
        let engine = "Vehicle.Powertrain.CombustionEngine."
        let list: [OBDParameter] = [
            OBDParameter(0x04, "engine_load", "calculated engine load", bytes: 1, unit: "percent", percent),
            OBDParameter(0x05, "coolant_temperature", "engine coolant temperature", bytes: 1, unit: "celsius",
                         vss: engine + "EngineCoolant.Temperature", temperature),
            OBDParameter(0x06, "short_term_fuel_trim_1", "short term fuel trim, bank 1", bytes: 1, unit: "percent", trim),
            OBDParameter(0x07, "long_term_fuel_trim_1", "long term fuel trim, bank 1", bytes: 1, unit: "percent", trim),
            OBDParameter(0x08, "short_term_fuel_trim_2", "short term fuel trim, bank 2", bytes: 1, unit: "percent", trim),
            OBDParameter(0x09, "long_term_fuel_trim_2", "long term fuel trim, bank 2", bytes: 1, unit: "percent", trim),
            OBDParameter(0x0A, "fuel_pressure", "fuel pressure (gauge)", bytes: 1, unit: "kPa") { Double($0[0]) * 3 },
            OBDParameter(0x0B, "intake_manifold_pressure", "intake manifold absolute pressure", bytes: 1, unit: "kPa",
                         vss: engine + "MAP", a),
            OBDParameter(0x0C, "engine_speed", "engine speed", bytes: 2, unit: "rpm", vss: engine + "Speed") { ab($0) / 4 },
            OBDParameter(0x0D, "vehicle_speed", "vehicle speed", bytes: 1, unit: "km/h", vss: "Vehicle.Speed", a),
            OBDParameter(0x0E, "timing_advance", "timing advance before TDC", bytes: 1, unit: "degrees") { Double($0[0]) / 2 - 64 },
            OBDParameter(0x0F, "intake_air_temperature", "intake air temperature", bytes: 1, unit: "celsius", temperature),
            OBDParameter(0x10, "maf_air_flow", "mass air flow rate", bytes: 2, unit: "g/s", vss: engine + "MAF") { ab($0) / 100 },
            OBDParameter(0x11, "throttle_position", "throttle position", bytes: 1, unit: "percent", vss: engine + "TPS", percent),
            OBDParameter(0x1F, "run_time", "run time since engine start", bytes: 2, unit: "s", ab),
            OBDParameter(0x21, "distance_with_mil", "distance travelled with the MIL on", bytes: 2, unit: "km", ab),
            OBDParameter(0x22, "fuel_rail_pressure_relative", "fuel rail pressure (relative to manifold vacuum)", bytes: 2,
                         unit: "kPa") { ab($0) * 0.079 },
            OBDParameter(0x23, "fuel_rail_gauge_pressure", "fuel rail gauge pressure (diesel, direct injection)", bytes: 2,
                         unit: "kPa") { ab($0) * 10 },
            OBDParameter(0x2C, "commanded_egr", "commanded EGR", bytes: 1, unit: "percent", percent),
            OBDParameter(0x2D, "egr_error", "EGR error", bytes: 1, unit: "percent", trim),
            OBDParameter(0x2E, "commanded_evaporative_purge", "commanded evaporative purge", bytes: 1, unit: "percent", percent),
            OBDParameter(0x2F, "fuel_level", "fuel tank level input", bytes: 1, unit: "percent",
                         vss: "Vehicle.Powertrain.FuelSystem.RelativeLevel", percent),
            OBDParameter(0x30, "warm_ups_since_clear", "warm-ups since trouble codes cleared", bytes: 1, unit: "count", a),
            OBDParameter(0x31, "distance_since_clear", "distance travelled since trouble codes cleared", bytes: 2, unit: "km", ab),
            OBDParameter(0x33, "barometric_pressure", "absolute barometric pressure", bytes: 1, unit: "kPa", a),
            OBDParameter(0x42, "control_module_voltage", "control module voltage", bytes: 2, unit: "V",
                         vss: "Vehicle.LowVoltageBattery.CurrentVoltage") { ab($0) / 1000 },
            OBDParameter(0x43, "absolute_load", "absolute load value", bytes: 2, unit: "percent") { ab($0) * 100 / 255 },
            OBDParameter(0x44, "commanded_equivalence_ratio", "commanded air-fuel equivalence ratio", bytes: 2,
                         unit: "ratio") { ab($0) * 2 / 65536 },
            OBDParameter(0x45, "relative_throttle_position", "relative throttle position", bytes: 1, unit: "percent", percent),
            OBDParameter(0x46, "ambient_air_temperature", "ambient air temperature", bytes: 1, unit: "celsius",
                         vss: "Vehicle.Exterior.AirTemperature", temperature),
            OBDParameter(0x47, "absolute_throttle_position_b", "absolute throttle position B", bytes: 1, unit: "percent", percent),
            OBDParameter(0x49, "accelerator_pedal_position_d", "accelerator pedal position D", bytes: 1, unit: "percent",
                         vss: "Vehicle.Chassis.Accelerator.PedalPosition", percent),
            OBDParameter(0x4A, "accelerator_pedal_position_e", "accelerator pedal position E", bytes: 1, unit: "percent", percent),
            OBDParameter(0x4C, "commanded_throttle_actuator", "commanded throttle actuator", bytes: 1, unit: "percent", percent),
            OBDParameter(0x4D, "time_with_mil", "time run with the MIL on", bytes: 2, unit: "min", ab),
            OBDParameter(0x4E, "time_since_clear", "time since trouble codes cleared", bytes: 2, unit: "min", ab),
            OBDParameter(0x51, "fuel_type", "fuel type (SAE J1979 table)", bytes: 1, unit: "enum", a),
            OBDParameter(0x52, "ethanol_percent", "ethanol fuel percentage", bytes: 1, unit: "percent", percent),
            OBDParameter(0x59, "fuel_rail_absolute_pressure", "fuel rail absolute pressure", bytes: 2, unit: "kPa") { ab($0) * 10 },
            OBDParameter(0x5A, "relative_accelerator_pedal_position", "relative accelerator pedal position", bytes: 1,
                         unit: "percent", percent),
            OBDParameter(0x5B, "hybrid_battery_remaining_life", "hybrid battery pack remaining life", bytes: 1, unit: "percent", percent),
            OBDParameter(0x5C, "engine_oil_temperature", "engine oil temperature", bytes: 1, unit: "celsius",
                         vss: engine + "EngineOil.Temperature", temperature),
            OBDParameter(0x5D, "fuel_injection_timing", "fuel injection timing", bytes: 2, unit: "degrees") { ab($0) / 128 - 210 },
            OBDParameter(0x5E, "engine_fuel_rate", "engine fuel rate", bytes: 2, unit: "l/h") { ab($0) / 20 },
            OBDParameter(0x61, "demanded_torque_percent", "driver's demand engine percent torque", bytes: 1, unit: "percent") {
                Double($0[0]) - 125
            },
            OBDParameter(0x62, "actual_torque_percent", "actual engine percent torque", bytes: 1, unit: "percent") { Double($0[0]) - 125 },
            OBDParameter(0x63, "reference_torque", "engine reference torque", bytes: 2, unit: "Nm", ab),
            OBDParameter(0xA6, "odometer", "odometer", bytes: 4, unit: "km", vss: "Vehicle.TraveledDistance") {
                (Double($0[0]) * 16_777_216 + Double($0[1]) * 65_536 + Double($0[2]) * 256 + Double($0[3])) / 10
            },
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.pid, $0) })
    }()

    /// Data bytes of PIDs that are not in `standard` but whose length the standard fixes, so that a multi-PID answer
    /// can be read past them. PIDs whose length is unknown end the reading of an answer.
    static let otherLengths: [UInt8: Int] = [
        0x01: 4, 0x02: 2, 0x03: 2, 0x12: 1, 0x13: 1, 0x14: 2, 0x15: 2, 0x16: 2, 0x17: 2, 0x18: 2, 0x19: 2, 0x1A: 2,
        0x1B: 2, 0x1C: 1, 0x1D: 1, 0x1E: 1, 0x24: 4, 0x25: 4, 0x26: 4, 0x27: 4, 0x28: 4, 0x29: 4, 0x2A: 4, 0x2B: 4,
        0x32: 2, 0x34: 4, 0x35: 4, 0x36: 4, 0x37: 4, 0x38: 4, 0x39: 4, 0x3A: 4, 0x3B: 4, 0x3C: 2, 0x3D: 2, 0x3E: 2,
        0x3F: 2, 0x41: 4, 0x48: 1, 0x4B: 1, 0x4F: 4, 0x50: 4, 0x53: 2, 0x54: 2, 0x55: 2, 0x56: 2, 0x57: 2, 0x58: 2,
        0x5F: 1,
    ]

    /// The data length of `pid`: 4 for the supported-PID bitmaps (0x00, 0x20, …, 0xE0), else from the tables.
    public static func byteCount(of pid: UInt8) -> Int? {
        if pid % 0x20 == 0 { return 4 }
        return standard[pid]?.byteCount ?? otherLengths[pid]
    }
}

/// Reading OBD-II answers and building requests (SAE J1979 over CAN).
public enum OBDMessage {
    /// At most this many PIDs in one mode 01 request: an older ECU answers 7 with "7F 01 12".
    public static let maximumPIDsPerRequest = 6

    /// Mode 01 requests for `pids`, at most six PIDs each.
    public static func currentDataRequests(for pids: [UInt8]) -> [[UInt8]] {
        stride(from: 0, to: pids.count, by: maximumPIDsPerRequest).map {
            [0x01] + pids[$0..<min($0 + maximumPIDsPerRequest, pids.count)]
        }
    }

    /// One PID's data in a mode 01 answer.
    public struct PIDData: Sendable, Equatable {
        public var pid: UInt8
        public var data: [UInt8]
        /// The value, for PIDs of `OBDParameter.standard`.
        public var value: Double? { OBDParameter.standard[pid].map { $0.decode(data) } }
    }

    /// The PIDs and their data in a mode 01 answer (`41 PID data PID data …`), in order; reading stops at a PID of
    /// unknown length or at data that is cut short. Nil when the message is not a mode 01 answer.
    public static func currentData(inAnswer message: [UInt8]) -> [PIDData]? {
        guard message.first == 0x41 else { return nil }
        var result: [PIDData] = []
        var offset = 1
        while offset < message.count {
            let pid = message[offset]
            guard let count = OBDParameter.byteCount(of: pid), offset + 1 + count <= message.count else { break }
            result.append(PIDData(pid: pid, data: Array(message[(offset + 1)..<(offset + 1 + count)])))
            offset += 1 + count
        }
        return result
    }

    /// The PIDs a supported-PID bitmap declares: `base` is the PID asked (0x00, 0x20, …); bit 7 of the first byte is
    /// `base + 1`. The last bit (`base + 0x20`) says whether the next range is supported too.
    public static func supportedPIDs(base: UInt8, bitmap: [UInt8]) -> [UInt8] {
        var pids: [UInt8] = []
        for (index, byte) in bitmap.prefix(4).enumerated() {
            for bit in 0..<8 where byte & (0x80 >> bit) != 0 {
                let offset = index * 8 + bit + 1
                if Int(base) + offset <= 0xFF { pids.append(base + UInt8(offset)) }
            }
        }
        return pids
    }

    /// The calibration ids in a mode 09 PID 04 answer (`49 04 <count>`, then 16 bytes each: printable characters,
    /// padded at the end with zeros); nil for another message or an id that is not printable.
    public static func calibrationIDs(inAnswer message: [UInt8]) -> [String]? {
        guard message.count >= 3, message[0] == 0x49, message[1] == 0x04 else { return nil }
        let data = message.dropFirst(3)
        guard !data.isEmpty, data.count % 16 == 0 else { return nil }
        var ids: [String] = []
        for start in stride(from: data.startIndex, to: data.endIndex, by: 16) {
            let characters = data[start..<(start + 16)].prefix { $0 != 0 }
            guard !characters.isEmpty, characters.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
            ids.append(String(decoding: characters, as: UTF8.self))
        }
        return ids
    }

    /// The VIN in a mode 09 PID 02 answer (`49 02 01` and 17 characters); nil for another message or a VIN that is
    /// not 17 printable characters.
    public static func vin(inAnswer message: [UInt8]) -> String? {
        guard message.count >= 3, message[0] == 0x49, message[1] == 0x02 else { return nil }
        // CAN answers carry a count byte (01) before the characters; some ECUs pad the front with zeros.
        let characters = message.dropFirst(3).drop { $0 == 0 }
        guard characters.count == 17, characters.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return String(decoding: characters, as: UTF8.self)
    }
}
