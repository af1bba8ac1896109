import AxleTestSupport
import FirmwareProfile
import Testing

/// Deep nesting is refused at a fixed depth, with the character where it goes too deep, and the deepest condition
/// allowed parses on a thread with a small stack: 10,000 `(` used to overflow the stack of `axled` and `axle`.
@Suite("Condition nesting limit")
struct ConditionNestingTests {
    static let limit = ConditionParser.maximumNestingDepth
    static let vocabulary = ConditionVocabulary(signals: ["Vehicle.Speed": []])

    /// Each shape nests `depth` levels of one production around `Vehicle.Speed > 1`.
    static func nested(_ shape: String, depth: Int) -> String {
        let leaf = "Vehicle.Speed > 1"
        switch shape {
        case "(":
            return String(repeating: "(", count: depth) + leaf + String(repeating: ")", count: depth)
        case "not":
            return String(repeating: "not ", count: depth) + leaf
        case "rising":
            return String(repeating: "rising(", count: depth) + leaf + String(repeating: ")", count: depth)
        case "for":
            return leaf + String(repeating: " for 1s", count: depth)
        default:
            let levels = mixedLevels(depth)
            return levels.map(\.open).joined() + leaf + levels.reversed().map(\.close).joined()
        }
    }

    /// The levels of the mixed shape from the outside in: all productions in turn, one inside an `and` so that the
    /// levels go through the whole precedence chain.
    static func mixedLevels(_ depth: Int) -> [(open: String, close: String)] {
        let cycle = [("(Vehicle.Speed > 2 and ", ")"), ("not ", ""), ("falling(", ")"), ("(", ") for 1s")]
        return (0..<depth).map { cycle[$0 % cycle.count] }
    }

    static let shapes = ["(", "not", "rising", "for", "mixed"]

    static func parse(_ text: String) -> Result<Condition, ConditionError> {
        Result { () throws(ConditionError) in try ConditionParser.parse(text, vocabulary: vocabulary) }
    }

    @Test("the deepest condition allowed parses on a 512 KiB stack in any build", arguments: shapes)
    func atTheLimit(_ shape: String) throws {
        let text = Self.nested(shape, depth: Self.limit)
        let (result, stackUsed) = SmallStackThread.run { Self.parse(text) }
        let condition = try result.get()
        #expect(condition.normalizedText.contains("Vehicle.Speed > 1"))
        // Half the small stack at most: what walks the condition afterwards (compiling, evaluating) needs room too.
        #expect(stackUsed < SmallStackThread.stackSize / 2, "\(shape): \(stackUsed) bytes of stack at depth \(Self.limit)")
        print("condition nesting \(shape) × \(Self.limit): \(stackUsed) bytes of stack")
    }

    @Test("one level more is refused at the character that opens it", arguments: shapes)
    func overTheLimit(_ shape: String) throws {
        let text = Self.nested(shape, depth: Self.limit + 1)
        let error = try #require(Self.parse(text).failure)
        #expect(error.message.hasPrefix("nesting deeper than \(Self.limit) levels"), "\(error)")
        let opening: Int
        switch shape {
        case "(": opening = Self.limit + 1
        case "not": opening = Self.limit * 4 + 1
        case "rising": opening = Self.limit * 7 + 1
        case "for": opening = "Vehicle.Speed > 1".count + Self.limit * 7 + 2
        default: opening = Self.mixedLevels(Self.limit).map(\.open.count).reduce(0, +) + 1
        }
        #expect(error.position == opening, "\(shape): \(error)")
    }

    /// `for` wraps a condition already read, whose own levels are closed by then; they count all the same.
    @Test("a 'for' after closed parentheses counts the levels of what it wraps")
    func forAfterParentheses() throws {
        // Step n: `(previous) for 1s` repeated n times, so 7 steps nest 1 + 2 + … + 7 = 28 'for' and 8 steps 36.
        func staircase(_ steps: Int) -> String {
            (1...steps).reduce("Vehicle.Speed > 1") { text, step in "(\(text))" + String(repeating: " for 1s", count: step) }
        }
        #expect(throws: Never.self) { try Self.parse(staircase(7)).get() }
        let error = try #require(Self.parse(staircase(8)).failure)
        #expect(error.message.hasPrefix("nesting deeper than \(Self.limit) levels"), "\(error)")
        // The fifth 'for' of the last step is the 33rd: 28 inside, then 5.
        let text = staircase(8)
        let fifthFromEnd = text.count - 4 * " for 1s".count + 2
        #expect(error.position == fifthFromEnd, "\(error)")
    }

    @Test("10,000 parentheses and 100,000 'not' are refused without exhausting a 512 KiB stack")
    func hostileDepth() throws {
        let parentheses = String(repeating: "(", count: 10_000) + "Vehicle.Speed > 1" + String(repeating: ")", count: 10_000)
        let negations = String(repeating: "not ", count: 100_000) + "Vehicle.Speed > 1"
        for text in [parentheses, negations] {
            let (result, _) = SmallStackThread.run { Self.parse(text) }
            let error = try #require(result.failure)
            #expect(error.message.hasPrefix("nesting deeper than \(Self.limit) levels"), "\(error)")
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
