import AxleTestSupport
import Testing
import TOML

#if canImport(Glibc)
import Glibc
#endif

@Suite("TOML errors")
struct TOMLErrorTests {
    /// Each case: the text, the line and column of the error, and a part of its message.
    struct Case: Sendable, CustomTestStringConvertible {
        var text: String
        var line: Int
        var column: Int
        var message: String
        var testDescription: String { message }
    }

    static let cases: [Case] = [
        // Keys and structure
        Case(text: "a = 1\na = 2\n", line: 2, column: 0, message: "duplicate key 'a': already defined at line 1"),
        Case(text: "a.b = 1\na.b = 2\n", line: 2, column: 0, message: "duplicate key 'a.b': already defined at line 1"),
        Case(text: "\"a\" = 1\na = 2\n", line: 2, column: 0, message: "duplicate key 'a'"),
        Case(text: "[a]\nx = 1\n\n[a]\n", line: 4, column: 0, message: "table [a] is defined twice: first at line 1"),
        Case(text: "[a]\nb = 1\n[a.b]\n", line: 3, column: 0, message: "cannot define table [a.b]: 'a.b' is already an integer, not a table (line 2)"),
        Case(text: "[fruit]\napple.color = \"red\"\n[fruit.apple]\n", line: 3, column: 0, message: "cannot define table [fruit.apple]: the dotted key at line 2 already created it"),
        Case(text: "[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", line: 4, column: 0, message: "cannot add 'b.c.t' with a dotted key: table 'b' is defined by a header (line 1)"),
        Case(text: "a = { x = 1 }\na.y = 2\n", line: 2, column: 0, message: "'a' is already an inline table, complete as written (line 1)"),
        Case(text: "a = { x = 1 }\n[a.b]\n", line: 2, column: 0, message: "cannot define [a.b]: 'a' is already an inline table"),
        Case(text: "a = [1]\n[[a]]\n", line: 2, column: 0, message: "cannot append to 'a' with [[a]]: it is already an array (line 1)"),
        Case(text: "[a]\n[[a]]\n", line: 2, column: 0, message: "cannot use [[a]]: [a] is a table (line 1), not an array of tables"),
        Case(text: "[[a]]\n[a]\n", line: 2, column: 0, message: "cannot define table [a]: it is an array of tables ([[a]] at line 1)"),
        Case(text: "a = { b = 1, b = 2 }\n", line: 1, column: 0, message: "duplicate key 'b'"),
        Case(text: "key = 1 other = 2\n", line: 1, column: 9, message: "expected the end of the line after the value, found 'other'"),
        Case(text: "[a] b = 1\n", line: 1, column: 5, message: "expected the end of the line after the table header"),
        Case(text: "key\n", line: 1, column: 4, message: "expected '=' and a value after the key 'key'"),
        Case(text: "key value\n", line: 1, column: 5, message: "expected '=' after the key 'key', found 'value'"),
        Case(text: "= 1\n", line: 1, column: 1, message: "expected a key before '='"),
        Case(text: "a b = 1\n", line: 1, column: 3, message: "expected '=' after the key 'a', found 'b'"),
        Case(text: "[a\n", line: 1, column: 3, message: "expected ']' to close the table header"),
        Case(text: "[[a]\n", line: 1, column: 5, message: "expected ']]' to close the array-of-tables header"),
        Case(text: "[]\n", line: 1, column: 2, message: "expected a key, found ']'"),
        Case(text: "\"\"\"key\"\"\" = 1\n", line: 1, column: 1, message: "a key cannot be a multi-line string"),
        // Values
        Case(text: "a =\n", line: 1, column: 4, message: "expected a value after '='"),
        Case(text: "a = # nothing\n", line: 1, column: 5, message: "expected a value after '='"),
        Case(text: "name = demo\n", line: 1, column: 8, message: "'demo' is not a value: strings must be quoted, as in \"demo\""),
        Case(text: "flag = True\n", line: 1, column: 8, message: "booleans are lowercase"),
        Case(text: "a = \"open\n", line: 1, column: 5, message: "the string is not closed with '\"' on its line"),
        Case(text: "a = 'open\n", line: 1, column: 5, message: "the string is not closed with \"'\" on its line"),
        Case(text: "a = \"\"\"\nnever closed\n", line: 3, column: 1, message: "the multi-line string started at line 1 is not closed"),
        Case(text: "a = '''\nnever closed", line: 2, column: 13, message: "the multi-line string started at line 1 is not closed"),
        Case(text: "a = \"bad \\x escape\"\n", line: 1, column: 10, message: "unknown escape sequence \\x"),
        Case(text: "a = \"\\u12\"\n", line: 1, column: 6, message: "\\u needs exactly 4 hexadecimal digits"),
        Case(text: "a = \"\\uD800\"\n", line: 1, column: 6, message: "\\uD800 is not a Unicode scalar value"),
        Case(text: "a = \"tab\u{1}\"\n", line: 1, column: 9, message: "control character U+0001 must be written as an escape"),
        Case(text: "# comment \u{7F}\n", line: 1, column: 11, message: "control character U+007F is not allowed in a comment"),
        Case(text: "a = 1\rb = 2\n", line: 1, column: 6, message: "a carriage return (CR) must be followed by a line feed"),
        // Numbers and dates
        Case(text: "a = 012\n", line: 1, column: 5, message: "'012' has a leading zero"),
        Case(text: "a = 1__000\n", line: 1, column: 5, message: "'1__000' is not a number"),
        Case(text: "a = _1\n", line: 1, column: 5, message: "'_1' is not a value"),
        Case(text: "a = 1_\n", line: 1, column: 5, message: "'1_' is not a number"),
        Case(text: "a = 9223372036854775808\n", line: 1, column: 5, message: "the integer 9223372036854775808 does not fit in 64 bits"),
        Case(text: "a = 0xG\n", line: 1, column: 5, message: "'0xG' is not a valid hexadecimal integer"),
        Case(text: "a = 0o8\n", line: 1, column: 5, message: "'0o8' is not a valid octal integer"),
        Case(text: "a = 0b102\n", line: 1, column: 5, message: "'0b102' is not a valid binary integer"),
        Case(text: "a = -0x1\n", line: 1, column: 5, message: "a sign is not allowed on hexadecimal"),
        Case(text: "a = 1.\n", line: 1, column: 5, message: "'1.' is not a valid float"),
        Case(text: "a = .5\n", line: 1, column: 5, message: "expected a value, found '.5'"),
        Case(text: "a = 1e\n", line: 1, column: 5, message: "'1e' is not a valid float"),
        Case(text: "a = 03.14\n", line: 1, column: 5, message: "'03.14' has a leading zero"),
        Case(text: "a = 1979-13-01\n", line: 1, column: 5, message: "'1979-13-01' is not a valid date-time"),
        Case(text: "a = 2023-02-29\n", line: 1, column: 5, message: "'2023-02-29' is not a valid date-time"),
        Case(text: "a = 25:00:00\n", line: 1, column: 5, message: "'25:00:00' is not a valid date-time"),
        Case(text: "a = 07:32\n", line: 1, column: 5, message: "'07:32' is not a valid date-time"),
        // Arrays and inline tables
        Case(text: "a = [1, 2\n", line: 2, column: 1, message: "the array started at line 1 is not closed with ']'"),
        Case(text: "a = [1 2]\n", line: 1, column: 8, message: "expected ',' or ']' in the array started at line 1, found '2'"),
        Case(text: "a = [,]\n", line: 1, column: 6, message: "expected a value or ']' in the array, found ','"),
        Case(text: "a = [1,,2]\n", line: 1, column: 8, message: "expected a value after ',' in the array"),
        Case(text: "a = { b = 1, }\n", line: 1, column: 14, message: "a trailing comma is not allowed in an inline table"),
        Case(text: "a = { b = 1\n}\n", line: 1, column: 12, message: "an inline table must be on one line (TOML 1.0)"),
        Case(text: "a = { b = 1 c = 2 }\n", line: 1, column: 13, message: "expected ',' or '}' in the inline table, found 'c'"),
        Case(text: "a = { b }\n", line: 1, column: 9, message: "expected '=' after the key 'b', found '}'"),
    ]

    @Test("each error names its line, column and cause", arguments: cases)
    func errorCase(_ testCase: Case) {
        guard let error = parseError(testCase.text) else { return }
        #expect(error.line == testCase.line, "\(error)")
        #expect(error.column == testCase.column, "\(error)")
        #expect(error.message.contains(testCase.message), "\(error)")
    }

    @Test("the description is path:line:column: message")
    func description() {
        let error = parseError("a = 1\nb = ?\n")
        #expect(error?.description == "test.toml:2:5: expected a value, found '?'")
    }

    @Test("columns count characters, not bytes")
    func unicodeColumns() {
        let error = parseError("name = \"Ünïcödé\" x\n")
        #expect(error?.column == 18)
    }

    @Test("a file that is not UTF-8 is refused at the line and column of the first bad byte")
    func invalidUTF8() throws {
        let directory = try makeTestDirectory(prefix: "axle-toml")
        defer { removeTree(directory) }
        let path = directory + "/latin1.toml"
        let bytes: [UInt8] = Array("a = 1\nname = \"M".utf8) + [0xFC] + Array("nchen\"\n".utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect {
            try TOMLDocument.load(path: path)
        } throws: { error in
            "\(error)" == "\(path):2:10: the file is not valid UTF-8 (TOML files must be UTF-8)"
        }
    }

    @Test("load reads a file, and names the file when it cannot")
    func load() throws {
        let directory = try makeTestDirectory(prefix: "axle-toml")
        defer { removeTree(directory) }
        let path = try AxleProcess.writeFile(directory + "/config.toml", "[agent]\nvehicle = \"VIN1\"\n")
        let document = try TOMLDocument.load(path: path)
        #expect(document.path == path)
        #expect(document.root["agent"]?.tableValue?["vehicle"]?.stringValue == "VIN1")

        #expect {
            try TOMLDocument.load(path: directory + "/missing.toml")
        } throws: { error in
            "\(error)" == "\(directory)/missing.toml: cannot read the file: No such file or directory"
        }
        let broken = try AxleProcess.writeFile(directory + "/broken.toml", "a = 1\na = 2\n")
        #expect {
            try TOMLDocument.load(path: broken)
        } throws: { error in
            "\(error)" == "\(broken):2: duplicate key 'a': already defined at line 1"
        }
    }
}
