import AxleTestSupport
import Testing
import TOML

/// Deep nesting is refused at a fixed depth, at the line and column where it goes too deep, and the deepest document
/// allowed parses on a thread with a small stack: 10,000 `[` used to overflow the stack of `axled` and `axle`.
@Suite("TOML nesting limit")
struct TOMLNestingTests {
    static let limit = TOMLDocument.maximumNestingDepth

    /// A document whose value `a` is nested `depth` levels deep in one way, and the column (on line 1) of the
    /// `depth`-th level's opening.
    static func nested(_ shape: String, depth: Int) -> (text: String, column: Int) {
        switch shape {
        case "array":
            return ("a = " + String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth) + "\n", 4 + depth)
        case "inline table":
            return ("a = " + String(repeating: "{a = ", count: depth) + "1" + String(repeating: "}", count: depth) + "\n", 4 + 5 * (depth - 1) + 1)
        case "dotted key":
            // `a.a = 1` puts the value one table deep: depth + 1 names.
            return ((0...depth).map { _ in "a" }.joined(separator: ".") + " = 1\n", 1)
        case "table header":
            return ("[" + (0..<depth).map { _ in "a" }.joined(separator: ".") + "]\nx = 1\n", 2)
        default:
            // Arrays holding inline tables holding arrays, under a dotted key, under a header: every kind of level.
            var value = "1"
            for level in 0..<(depth - 3) { value = level.isMultiple(of: 2) ? "[\(value)]" : "{a = \(value)}" }
            return ("[t.t]\na.a = \(value)\n", 0)
        }
    }

    static let shapes = ["array", "inline table", "dotted key", "table header", "mixed"]

    static func parse(_ text: String) -> Result<TOMLDocument, TOMLError> {
        Result { () throws(TOMLError) in try TOMLDocument.parse(text, path: "deep.toml") }
    }

    @Test("the deepest document allowed parses on a 512 KiB stack in any build", arguments: shapes)
    func atTheLimit(_ shape: String) throws {
        let text = Self.nested(shape, depth: Self.limit).text
        let (result, stackUsed) = SmallStackThread.run {
            // Comparing walks the whole tree, as the readers of the document do.
            Self.parse(text).map { document in (document, document.root == document.root) }
        }
        let (document, equal) = try result.get()
        #expect(equal)
        #expect(!document.root.entries.isEmpty)
        #expect(stackUsed < SmallStackThread.stackSize / 2, "\(shape): \(stackUsed) bytes of stack at depth \(Self.limit)")
        print("TOML nesting \(shape) × \(Self.limit): \(stackUsed) bytes of stack")
    }

    @Test("one level more is refused at the line and column that opens it", arguments: shapes)
    func overTheLimit(_ shape: String) throws {
        let (text, column) = Self.nested(shape, depth: Self.limit + 1)
        let error = try #require(Self.parse(text).failure)
        #expect(error.message.hasPrefix("nesting deeper than \(Self.limit) levels"), "\(error)")
        if shape == "mixed" {
            #expect(error.line == 2, "\(error)")
        } else {
            #expect(error.line == 1, "\(error)")
            #expect(error.column == column, "\(shape): \(error)")
            #expect(error.description.hasPrefix("deep.toml:1:\(column): nesting deeper than"))
        }
    }

    @Test("10,000 nested arrays or inline tables are refused without exhausting a 512 KiB stack")
    func hostileDepth() throws {
        for shape in ["array", "inline table"] {
            let text = Self.nested(shape, depth: 10_000).text
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
