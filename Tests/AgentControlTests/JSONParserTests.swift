import AxleBase
import AxleTestSupport
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test("a valid document reads back with its types, member order and escapes")
    func validDocument() throws {
        let text = """
             {"name": "Vehicle.Speed", "value": 50.5, "count": 3, "big": 170141183460469231731687303715884105727,
              "huge": 1e400, "neg": -0.0, "exp": 2E-3, "ok": true, "no": false, "none": null,
              "list": [1, [], {}, "x"], "z": 1, "a": 2,
              "text": "tab\\t quote\\" slash\\/ back\\\\ \\u00e9 \\ud83d\\ude00 é"}
            """
        let value = try JSONValue.parse(text)
        #expect(value["name"]?.stringValue == "Vehicle.Speed")
        #expect(value["value"] == .number(50.5))
        #expect(value["count"] == .integer(3))
        #expect(value["big"] == .integer(Int128.max))
        #expect(value["huge"]?.doubleValue == .infinity)
        #expect(value["neg"] == .number(-0.0))
        #expect(value["exp"]?.doubleValue == 0.002)
        #expect(value["ok"]?.boolValue == true)
        #expect(value["no"]?.boolValue == false)
        #expect(value["none"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value["list"]?.arrayValue?.count == 4)
        #expect(value["text"]?.stringValue == "tab\t quote\" slash/ back\\ é 😀 é")
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.0).suffix(3) == ["z", "a", "text"], "member order is kept")
    }

    @Test("an integer too large for Int128 becomes a number instead of failing")
    func hugeInteger() throws {
        let value = try JSONValue.parse("[170141183460469231731687303715884105728, -5]")
        #expect(value.arrayValue?[0].doubleValue == 170141183460469231731687303715884105728.0)
        #expect(value.arrayValue?[0] != .integer(Int128.max))
        #expect(value.arrayValue?[1].intValue == -5)
    }

    @Test("what JSONValue renders parses back to an equal value")
    func renderedRoundTrip() throws {
        let value: JSONValue = .object([
            ("s", .string("line\nbreak \u{01} \"quoted\" ünïcødé 🚗")),
            ("n", .number(0.1)),
            ("i", .integer(-42)),
            ("a", [true, false, .null, .number(1e-300)]),
            ("o", .object([("nested", .array([]))])),
        ])
        #expect(try JSONValue.parse(value.rendered()) == value)
        #expect(try JSONValue.parse(value.rendered(indent: 2)) == value)
    }

    @Test("accessors answer only for their own type")
    func accessors() throws {
        #expect(JSONValue.integer(7).doubleValue == 7)
        #expect(JSONValue.number(7).intValue == 7)
        #expect(JSONValue.number(7.5).intValue == nil)
        #expect(JSONValue.integer(Int128(Int.max) + 1).intValue == nil)
        #expect(JSONValue.string("7").intValue == nil)
        #expect(JSONValue.string("x")["x"] == nil)
        #expect(JSONValue.bool(true).stringValue == nil)
        #expect(JSONValue.null.arrayValue == nil)
        #expect(JSONValue.integer(1).boolValue == nil)
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var text: String
        var line: Int
        var column: Int
        var message: String
        var testDescription: String { text.debugDescription }
    }

    static let invalidDocuments: [Invalid] = [
        Invalid(text: "", line: 1, column: 1, message: "unexpected end of input; expected a value"),
        Invalid(text: "   ", line: 1, column: 4, message: "unexpected end of input"),
        Invalid(text: #"{"a":1,}"#, line: 1, column: 8, message: "expected a member name in double quotes, found '}'"),
        Invalid(text: #"{"a" 1}"#, line: 1, column: 6, message: "expected ':' after the member name"),
        Invalid(text: "[1 2]", line: 1, column: 4, message: "expected ',' or ']' in the array, found '2'"),
        Invalid(text: "[1,]", line: 1, column: 4, message: "unexpected ']'; expected a value"),
        Invalid(text: #""abc"#, line: 1, column: 1, message: "not closed"),
        Invalid(text: "01", line: 1, column: 2, message: "leading zeros"),
        Invalid(text: "-", line: 1, column: 2, message: "expected a digit after '-'"),
        Invalid(text: "1.", line: 1, column: 3, message: "expected a digit after the decimal point"),
        Invalid(text: "1e+", line: 1, column: 4, message: "expected a digit in the exponent"),
        Invalid(text: "{\"a\":\n  tru}", line: 2, column: 3, message: "did you mean true?"),
        Invalid(text: "\"a\u{01}b\"", line: 1, column: 3, message: "control character U+0001"),
        Invalid(text: #""\x""#, line: 1, column: 2, message: "invalid escape sequence \\x"),
        Invalid(text: #""\ud800 x""#, line: 1, column: 2, message: "unpaired surrogate \\uD800"),
        Invalid(text: #""\ud800\u0041""#, line: 1, column: 2, message: "must be followed by a low surrogate"),
        Invalid(text: #""\u12G4""#, line: 1, column: 6, message: "expected a hexadecimal digit"),
        Invalid(text: "1 2", line: 1, column: 3, message: "unexpected '2' after the JSON value"),
        Invalid(text: "\"é\" é", line: 1, column: 5, message: "unexpected 'é' after the JSON value"),
        Invalid(text: "[NaN]", line: 1, column: 2, message: "unexpected 'N'; expected a value"),
        Invalid(text: "{'a': 1}", line: 1, column: 2, message: "expected a member name in double quotes"),
    ]

    @Test("invalid documents fail with the line, column and reason", arguments: invalidDocuments)
    func invalid(_ case: Invalid) {
        do {
            let value = try JSONValue.parse(`case`.text)
            Issue.record("parsed as \(value.rendered())")
        } catch {
            #expect(error.line == `case`.line, "\(error)")
            #expect(error.column == `case`.column, "\(error)")
            #expect(error.message.contains(`case`.message), "\(error)")
            #expect(error.description.hasPrefix("line \(`case`.line), column \(`case`.column): "))
        }
    }

    @Test("nesting deeper than the limit fails cleanly instead of overflowing the stack")
    func deepNesting() throws {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        do {
            _ = try JSONValue.parse(deep)
        } catch {
            #expect(error.message.contains("nested more than \(JSONValue.maximumParseDepth) levels"))
            #expect(error.column == JSONValue.maximumParseDepth + 1)
        }
        let allowed = String(repeating: "[", count: JSONValue.maximumParseDepth) + String(repeating: "]", count: JSONValue.maximumParseDepth)
        #expect(try JSONValue.parse(allowed).arrayValue?.count == 1)
    }

    @Test("the deepest document allowed parses on a 512 KiB stack in any build", arguments: ["[", "{\"a\":"])
    func deepestOnASmallStack(_ opening: String) throws {
        let limit = JSONValue.maximumParseDepth
        let closing = opening == "[" ? "]" : "}"
        let text = String(repeating: opening, count: limit) + "1" + String(repeating: closing, count: limit)
        let (result, stackUsed) = SmallStackThread.run {
            // Rendering walks the whole tree, as the control server does when it answers.
            Result { () throws(JSONParseError) in try JSONValue.parse(text) }.map { $0.rendered() }
        }
        #expect(try result.get() == text)
        #expect(stackUsed < SmallStackThread.stackSize / 2, "\(opening): \(stackUsed) bytes of stack at depth \(limit)")
        print("JSON nesting \(opening) × \(limit): \(stackUsed) bytes of stack")
        let (over, _) = SmallStackThread.run {
            Result { () throws(JSONParseError) in try JSONValue.parse(opening + text + closing) }
        }
        guard case .failure(let error) = over else {
            Issue.record("\(limit + 1) levels were accepted")
            return
        }
        #expect(error.message == "nested more than \(limit) levels deep")
        #expect(error.column == limit * opening.count + 1, "\(error)")
    }
}
