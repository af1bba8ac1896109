import AxleBase
import DBC
import FirmwareProfile
import Testing

@Suite("Condition parser")
struct ConditionParserTests {
    static let vocabulary = ConditionVocabulary(
        signals: [
            "Vehicle.Speed": [],
            "Vehicle.Body.Trunk.Rear.IsOpen": [],
            "Vehicle.Powertrain.CombustionEngine.ECT": [],
            "Vehicle.Powertrain.Transmission.CurrentGear": [
                .init(label: "P", value: 0), .init(label: "R", value: 1), .init(label: "N", value: 2), .init(label: "D", value: 3),
            ],
            // A scaled signal: the label stands for raw 2, which is 2 × 0.5 + 10.
            "Vehicle.Private.Mode": [.init(label: "Eco", value: 11)],
        ],
        areas: ["depots"])

    func parse(_ text: String) throws(ConditionError) -> Condition {
        try ConditionParser.parse(text, vocabulary: Self.vocabulary)
    }

    func normalized(_ text: String) throws -> String {
        try parse(text).normalizedText
    }

    func error(_ text: String) -> ConditionError? {
        do {
            let condition = try parse(text)
            Issue.record("expected an error, parsed \(condition.normalizedText)")
            return nil
        } catch {
            return error
        }
    }

    @Test("a comparison with hysteresis and a duration")
    func comparison() throws {
        #expect(try parse("Vehicle.Powertrain.CombustionEngine.ECT > 110 hysteresis 5 for 10s") == .sustained(
            .comparison(lhs: .signal("Vehicle.Powertrain.CombustionEngine.ECT"), op: .greater, rhs: .number(110), hysteresis: 5),
            seconds: 10))
    }

    @Test("every comparison operator, numbers with signs, decimals and exponents, constants on either side")
    func operators() throws {
        for op in ComparisonOperator.allCases {
            #expect(try parse("Vehicle.Speed \(op.rawValue) -2.5") == .comparison(lhs: .signal("Vehicle.Speed"), op: op, rhs: .number(-2.5), hysteresis: 0))
        }
        #expect(try parse("1e3 <= Vehicle.Speed") == .comparison(lhs: .number(1000), op: .lessOrEqual, rhs: .signal("Vehicle.Speed"), hysteresis: 0))
        #expect(try parse("Vehicle.Speed>+.5") == .comparison(lhs: .signal("Vehicle.Speed"), op: .greater, rhs: .number(0.5), hysteresis: 0))
        #expect(try parse("Vehicle.Body.Trunk.Rear.IsOpen == true") == .comparison(lhs: .signal("Vehicle.Body.Trunk.Rear.IsOpen"), op: .equal, rhs: .number(1), hysteresis: 0))
        #expect(try parse("false != Vehicle.Body.Trunk.Rear.IsOpen") == .comparison(lhs: .number(0), op: .notEqual, rhs: .signal("Vehicle.Body.Trunk.Rear.IsOpen"), hysteresis: 0))
    }

    @Test("precedence: or < and < not < for < primary", arguments: [
        ("Vehicle.Speed > 1 or Vehicle.Speed > 2 and Vehicle.Speed > 3", "Vehicle.Speed > 1 or (Vehicle.Speed > 2 and Vehicle.Speed > 3)"),
        ("Vehicle.Speed > 1 and Vehicle.Speed > 2 or Vehicle.Speed > 3", "(Vehicle.Speed > 1 and Vehicle.Speed > 2) or Vehicle.Speed > 3"),
        ("not Vehicle.Body.Trunk.Rear.IsOpen and Vehicle.Speed > 0", "(not Vehicle.Body.Trunk.Rear.IsOpen) and Vehicle.Speed > 0"),
        ("not Vehicle.Body.Trunk.Rear.IsOpen for 5s", "not (Vehicle.Body.Trunk.Rear.IsOpen for 5s)"),
        ("Vehicle.Speed == 0 and not inside(depots) for 10min", "Vehicle.Speed == 0 and (not (inside(depots) for 600s))"),
        ("(Vehicle.Speed == 0 and not inside(depots)) for 10min", "(Vehicle.Speed == 0 and (not inside(depots))) for 600s"),
        ("not not Vehicle.Body.Trunk.Rear.IsOpen", "not (not Vehicle.Body.Trunk.Rear.IsOpen)"),
        ("Vehicle.Speed > 1 for 1s for 2s", "(Vehicle.Speed > 1 for 1s) for 2s"),
    ])
    func precedence(_ text: String, _ expected: String) throws {
        #expect(try normalized(text) == expected)
    }

    @Test("and/or chains are flat lists; parentheses group")
    func chains() throws {
        let speed = { (value: Double) in Condition.comparison(lhs: .signal("Vehicle.Speed"), op: .greater, rhs: .number(value), hysteresis: 0) }
        #expect(try parse("Vehicle.Speed > 1 and Vehicle.Speed > 2 and Vehicle.Speed > 3") == .and([speed(1), speed(2), speed(3)]))
        #expect(try parse("Vehicle.Speed > 1 or (Vehicle.Speed > 2 or Vehicle.Speed > 3)") == .or([speed(1), .or([speed(2), speed(3)])]))
    }

    @Test("rising, falling, inside, constants and bare signals")
    func primaries() throws {
        #expect(try parse("rising(Vehicle.Body.Trunk.Rear.IsOpen)") == .rising(.truthy(signal: "Vehicle.Body.Trunk.Rear.IsOpen")))
        #expect(try parse("falling(Vehicle.Speed > 5 and Vehicle.Body.Trunk.Rear.IsOpen)") == .falling(.and([
            .comparison(lhs: .signal("Vehicle.Speed"), op: .greater, rhs: .number(5), hysteresis: 0),
            .truthy(signal: "Vehicle.Body.Trunk.Rear.IsOpen"),
        ])))
        #expect(try parse("inside(depots)") == .inside(area: "depots"))
        #expect(try parse("true") == .constant(true))
        #expect(try parse("  false  ") == .constant(false))
        #expect(try parse("Vehicle.Body.Trunk.Rear.IsOpen") == .truthy(signal: "Vehicle.Body.Trunk.Rear.IsOpen"))
    }

    @Test("error(SIGNAL) and not_available(SIGNAL) test what the vehicle sent instead of a reading")
    func reports() throws {
        #expect(try parse("error(Vehicle.Speed)") == .reports(signal: "Vehicle.Speed", availability: .error))
        #expect(try parse("not_available(Vehicle.Speed) for 10s")
            == .sustained(.reports(signal: "Vehicle.Speed", availability: .notAvailable), seconds: 10))
        #expect(try parse("error(Vehicle.Speed) or Vehicle.Speed > 100").normalizedText
            == "error(Vehicle.Speed) or Vehicle.Speed > 100")
        #expect(throws: ConditionError.self) { try parse("error(Vehicle.Sped)") }
        #expect(throws: ConditionError.self) { try parse("error(42)") }
    }

    @Test("durations take ms, s, m or min, h and d, as every duration in Axle does")
    func durations() throws {
        for (text, seconds) in [("250ms", 0.25), ("10s", 10), ("1.5min", 90), ("5m", 300), ("2h", 7200), ("1d", 86_400)] {
            #expect(try parse("Vehicle.Body.Trunk.Rear.IsOpen for \(text)") == .sustained(.truthy(signal: "Vehicle.Body.Trunk.Rear.IsOpen"), seconds: seconds))
        }
    }

    @Test("labels resolve through the signal on the other side, to physical values")
    func labels() throws {
        #expect(try parse("Vehicle.Powertrain.Transmission.CurrentGear == \"D\"") == .comparison(
            lhs: .signal("Vehicle.Powertrain.Transmission.CurrentGear"), op: .equal, rhs: .number(3), hysteresis: 0))
        #expect(try parse("'P' != Vehicle.Powertrain.Transmission.CurrentGear") == .comparison(
            lhs: .number(0), op: .notEqual, rhs: .signal("Vehicle.Powertrain.Transmission.CurrentGear"), hysteresis: 0))
        #expect(try parse("Vehicle.Private.Mode == \"Eco\"") == .comparison(lhs: .signal("Vehicle.Private.Mode"), op: .equal, rhs: .number(11), hysteresis: 0))
    }

    @Test("signals lists each signal once, in order")
    func signals() throws {
        let condition = try parse("Vehicle.Speed > 1 and (Vehicle.Body.Trunk.Rear.IsOpen or Vehicle.Speed < 3) and inside(depots)")
        #expect(condition.signals == ["Vehicle.Speed", "Vehicle.Body.Trunk.Rear.IsOpen"])
    }

    /// Each error: text, 1-based character, message.
    static let errors: [(String, Int, String)] = [
        ("", 1, "the condition is empty"),
        ("   ", 4, "the condition is empty"),
        ("Vehicle.Speed = 0", 15, "expected a comparison operator after 'Vehicle.Speed', found '=' (did you mean '=='?)"),
        ("Vehicle.Speed => 0", 15, "expected a comparison operator after 'Vehicle.Speed', found '=>' (did you mean '>='?)"),
        ("Vehicle.Speed =< 0", 15, "expected a comparison operator after 'Vehicle.Speed', found '=<' (did you mean '<='?)"),
        ("Vehicle.Speed <> 0", 15, "expected a comparison operator after 'Vehicle.Speed', found '<>' (did you mean '!='?)"),
        ("Vehicle.Speed > 0 && true", 19, "expected 'and', 'or' or the end of the condition, found '&&' (write 'and')"),
        ("Vehicle.Body.Trunk.Rear.IsOpen Vehicle.Speed", 32, "expected a comparison operator after 'Vehicle.Body.Trunk.Rear.IsOpen', found 'Vehicle.Speed'"),
        ("Vehicle.Sped > 0", 1, "unknown signal 'Vehicle.Sped': it is not in the [signals] catalog; did you mean 'Vehicle.Speed'?"),
        ("Vehicle.Speed > 0 AND true", 19, "expected 'and', 'or' or the end of the condition, found 'AND'"),
        ("AND", 1, "unknown signal 'AND'; did you mean 'and'? (keywords are lowercase)"),
        ("depots", 1, "'depots' is an area, not a signal; test it with inside(depots)"),
        ("inside(depot)", 8, "unknown area 'depot'; the areas are depots (did you mean 'depots'?)"),
        ("inside depots", 8, "expected '(' after 'inside', found 'depots'"),
        ("inside()", 8, "expected an area name in inside(…), found ')'"),
        ("rising(Vehicle.Speed > 1", 25, "expected ')' to close the '(' at character 7, found the end of the condition"),
        ("(Vehicle.Speed > 1", 19, "expected ')' to close the '(' at character 1, found the end of the condition"),
        ("Vehicle.Speed > 1)", 18, "expected 'and', 'or' or the end of the condition, found ')'"),
        ("Vehicle.Speed > 1 and", 22, "expected a condition, found the end of the condition"),
        ("and Vehicle.Speed > 1", 1, "expected a condition, found 'and'"),
        ("()", 2, "expected a condition, found ')'"),
        ("Vehicle.Speed > ", 17, "expected a signal, a number or a \"label\", found the end of the condition"),
        ("Vehicle.Speed > 10s", 17, "'10s' is a duration; durations come only after 'for'"),
        ("5", 1, "'5' alone is not a condition; compare it with a signal, as in Vehicle.Speed > 50"),
        ("\"P\"", 1, "the label \"P\" alone is not a condition; compare it with a signal, as in Vehicle.Speed > 50"),
        ("1 < 2", 1, "the comparison has no signal: one side must be a catalog signal"),
        ("Vehicle.Speed > 1 for", 22, "expected a duration such as 10s after 'for', found the end of the condition"),
        ("Vehicle.Speed > 1 for 10", 23, "the duration after 'for' needs a unit, as in 10s (ms, s, m or min, h, d)"),
        ("Vehicle.Speed > 1 for 10sec", 25, "unknown unit 'sec' in '10sec'; a duration is \(DurationSyntax.forms)"),
        ("Vehicle.Speed > 1 for 0s", 23, "the duration after 'for' must be longer than 0"),
        ("Vehicle.Speed == 1 hysteresis 2", 20, "hysteresis applies only to <, <=, > and >=, not '=='"),
        ("Vehicle.Speed > 1 hysteresis -2", 30, "hysteresis must not be negative"),
        ("Vehicle.Speed > 1 hysteresis x", 30, "expected a number after 'hysteresis', found 'x'"),
        ("Vehicle.Speed == \"D\"", 18, "signal 'Vehicle.Speed' has no value labels, so \"D\" cannot be resolved; compare it with a number"),
        ("Vehicle.Powertrain.Transmission.CurrentGear == \"Drive\"", 48, "signal 'Vehicle.Powertrain.Transmission.CurrentGear' has no value labelled \"Drive\"; its labels are \"P\", \"R\", \"N\", \"D\""),
        ("\"P\" == 0", 1, "the label \"P\" needs a signal with value labels on the other side of '=='"),
        ("Vehicle.Speed == \"P", 18, "the label is not closed with \""),
        ("Vehicle.Speed > 1 - 2", 19, "unexpected '-'; the condition language has no arithmetic"),
        ("Vehicle.Speed. > 1", 1, "'Vehicle.Speed.' ends with '.'; a signal name is Vehicle.Branch.Leaf"),
        ("Vehicle.Speed > 1.2.3", 17, "'1.2.3' is not a number"),
        ("Vehicle.Speed ≥ 1", 15, "unexpected character '≥'"),
    ]

    @Test("every error names the character where it is", arguments: errors)
    func errorCase(_ text: String, _ position: Int, _ message: String) {
        guard let error = error(text) else { return }
        #expect(error.message == message, "\(text)")
        #expect(error.position == position, "\(text): \(error)")
    }

    @Test("the error description leads with the character position")
    func errorDescription() {
        #expect(error("Vehicle.Speed = 0")?.description == "at character 15: expected a comparison operator after 'Vehicle.Speed', found '=' (did you mean '=='?)")
    }
}
