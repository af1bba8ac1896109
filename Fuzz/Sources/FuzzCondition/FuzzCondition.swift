import CLibFuzzer
import FirmwareProfile

@main
enum FuzzConditionMain {
    static func main() {
        CLibFuzzer_runDriver(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
    }
}

/// The names the shipped profiles' conditions use (Firmware-Profiles/*/profile.toml), with value labels where their
/// DBC signals have them, and the truck's area.
private let vocabulary = ConditionVocabulary(
    signals: [
        "Vehicle.Speed": [],
        "Vehicle.Body.Trunk.Rear.IsOpen": [],
        "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked": [],
        "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen": [],
        "Vehicle.LowVoltageBattery.CurrentVoltage": [],
        "Vehicle.LowVoltageSystemState": [.init(label: "Off", value: 0), .init(label: "On", value: 1)],
        "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature": [],
        "Vehicle.Powertrain.CombustionEngine.EOP": [],
        "Vehicle.Powertrain.CombustionEngine.Speed": [],
        "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current": [],
        "Vehicle.Powertrain.Transmission.CurrentGear": [
            .init(label: "P", value: 0), .init(label: "R", value: 1), .init(label: "N", value: 2), .init(label: "D", value: 3),
        ],
        "Vehicle.Private.Cabin.HVAC.IsClimateActive": [],
        "Vehicle.Private.Safety.CrashDetected": [.init(label: "No", value: 0), .init(label: "Yes", value: 1)],
        "Vehicle.Private.TractionBattery.ChargingState": [
            .init(label: "Idle", value: 0), .init(label: "Charging", value: 1), .init(label: "Complete", value: 2),
        ],
        "Vehicle.Private.Trailer.CargoTemperature": [],
        "Vehicle.Private.Trailer.CargoDoor.IsLocked": [.init(label: "Unlocked", value: 0), .init(label: "Locked", value: 1)],
        "Vehicle.Private.Trailer.CargoDoor.IsOpen": [.init(label: "Closed", value: 0), .init(label: "Open", value: 1)],
        // A scaled signal: the label stands for raw 3, which is 3 × 0.5 - 40.
        "Vehicle.Private.Trailer.Reefer.Mode": [.init(label: "Cool", value: -39), .init(label: "Fault", value: -38.5)],
    ],
    areas: ["depots"])

/// libFuzzer entry point: the input is the text of a `when`, `precondition` or `confirm` condition.
///
/// Errors are expected; a crash, a trap or a stack overflow is the bug. A condition that parses must nest within the
/// limit and read back the same from its normalized text, unless that text is too deep to read (normalizing adds
/// parentheses) or holds a number written as inf (a literal too large for a Double).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    let text = String(decoding: bytes, as: UTF8.self)
    guard let condition = try? ConditionParser.parse(text, vocabulary: vocabulary) else { return 0 }
    let depth = nestingDepth(of: condition)
    // The limit counts `not`, `rising`, `falling`, `for` and parentheses; an `and` or `or` adds a level to the tree
    // but needs parentheses around it to be nested, so the tree is at most about twice as deep.
    precondition(
        depth <= 2 * ConditionParser.maximumNestingDepth + 1,
        "'\(text)' parsed but nests \(depth) levels; the limit is \(ConditionParser.maximumNestingDepth)")
    let normalized = condition.normalizedText
    do {
        let reread = try ConditionParser.parse(normalized, vocabulary: vocabulary)
        precondition(reread == condition, "'\(text)' normalizes to '\(normalized)', which reads back differently")
    } catch {
        precondition(
            error.message.hasPrefix("nesting deeper than") || !hasOnlyFiniteNumbers(condition),
            "'\(text)' normalizes to '\(normalized)', which does not read back: \(error)")
    }
    return 0
}

private func nestingDepth(of condition: Condition) -> Int {
    switch condition {
    case .constant, .truthy, .comparison, .inside, .reports: 0
    case .not(let inner), .rising(let inner), .falling(let inner), .sustained(let inner, _): 1 + nestingDepth(of: inner)
    case .and(let parts), .or(let parts): 1 + (parts.map(nestingDepth(of:)).max() ?? 0)
    }
}

private func hasOnlyFiniteNumbers(_ condition: Condition) -> Bool {
    switch condition {
    case .constant, .truthy, .inside, .reports: true
    case .comparison(let lhs, _, let rhs, let hysteresis):
        [lhs, rhs].allSatisfy { if case .number(let value) = $0 { value.isFinite } else { true } } && hysteresis.isFinite
    case .sustained(let inner, let seconds): seconds.isFinite && hasOnlyFiniteNumbers(inner)
    case .not(let inner), .rising(let inner), .falling(let inner): hasOnlyFiniteNumbers(inner)
    case .and(let parts), .or(let parts): parts.allSatisfy(hasOnlyFiniteNumbers)
    }
}
