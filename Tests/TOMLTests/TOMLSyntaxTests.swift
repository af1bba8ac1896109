import Testing
import TOML

/// Parses `text`, failing the test with the error when it does not parse.
func parse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> TOMLTable {
    do {
        return try TOMLDocument.parse(text, path: "test.toml").root
    } catch {
        Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// The error `text` gives; fails the test when it parses.
func parseError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> TOMLError? {
    do {
        let document = try TOMLDocument.parse(text, path: "test.toml")
        Issue.record("expected an error, parsed \(document.root.keys)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

extension TOMLTable {
    /// The value at a dotted path of plain keys, for short tests.
    func at(_ path: String) -> TOMLValue? {
        let keys = path.split(separator: ".").map(String.init)
        var table = self
        for key in keys.dropLast() {
            guard let next = table[key]?.tableValue else { return nil }
            table = next
        }
        return table[keys.last!]
    }
}

@Suite("TOML syntax")
struct TOMLSyntaxTests {
    @Test("comments, blank lines and whitespace around keys and values")
    func comments() throws {
        let table = try parse("""
            # a comment
              key = "value"   # trailing comment
            \tother\t=\t1

            # done
            """)
        #expect(table["key"]?.stringValue == "value")
        #expect(table["other"]?.integerValue == 1)
        #expect(table.keys == ["key", "other"])
    }

    @Test("bare, quoted and dotted keys; whitespace around dots")
    func keys() throws {
        let table = try parse("""
            bare_key-1 = 1
            "quoted key" = 2
            'literal "key"' = 3
            "" = 4
            physical.color = "orange"
            physical . shape = "round"
            site."google.com" = true
            3.14159 = "pi"
            """)
        #expect(table["bare_key-1"]?.integerValue == 1)
        #expect(table["quoted key"]?.integerValue == 2)
        #expect(table["literal \"key\""]?.integerValue == 3)
        #expect(table[""]?.integerValue == 4)
        #expect(table.at("physical.color")?.stringValue == "orange")
        #expect(table.at("physical.shape")?.stringValue == "round")
        #expect(table["site"]?.tableValue?["google.com"]?.boolValue == true)
        #expect(table["3"]?.tableValue?["14159"]?.stringValue == "pi")
    }

    @Test("basic strings with every escape")
    func basicStrings() throws {
        let table = try parse(#"""
            s = "tab\there \"quoted\" back\\slash \b\f\r\n \u00E9 \U0001F600"
            empty = ""
            """#)
        #expect(table["s"]?.stringValue == "tab\there \"quoted\" back\\slash \u{8}\u{C}\r\n é 😀")
        #expect(table["empty"]?.stringValue == "")
    }

    @Test("literal strings keep backslashes")
    func literalStrings() throws {
        let table = try parse(#"""
            path = 'C:\Users\nodejs\templates'
            regex = '<\i\c*\s*>'
            """#)
        #expect(table["path"]?.stringValue == #"C:\Users\nodejs\templates"#)
        #expect(table["regex"]?.stringValue == #"<\i\c*\s*>"#)
    }

    @Test("multi-line basic strings: first newline trimmed, line-ending backslash, quotes before the end")
    func multilineBasic() throws {
        let table = try parse(#"""
            a = """
            Roses are red
            Violets are blue"""
            b = """The quick brown \


              fox jumps over \
                the lazy dog."""
            c = """Here are two quotation marks: "". Simple enough."""
            d = """Here are fifteen quotation marks: ""\"""\"""\"""\"""\"."""
            e = """"This," she said, "is just a pointless statement.""""
            """#)
        #expect(table["a"]?.stringValue == "Roses are red\nViolets are blue")
        #expect(table["b"]?.stringValue == "The quick brown fox jumps over the lazy dog.")
        #expect(table["c"]?.stringValue == "Here are two quotation marks: \"\". Simple enough.")
        #expect(table["d"]?.stringValue == "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\".")
        #expect(table["e"]?.stringValue == "\"This,\" she said, \"is just a pointless statement.\"")
    }

    @Test("multi-line literal strings")
    func multilineLiteral() throws {
        let table = try parse("""
            re = '''I [dw]on't need \\d{2} apples'''
            lines = '''
            The first newline is
            trimmed in raw strings.
               All other whitespace
               is preserved.
            '''
            quotes = ''''That,' she said, 'is still pointless.''''
            """)
        #expect(table["re"]?.stringValue == #"I [dw]on't need \d{2} apples"#)
        #expect(table["lines"]?.stringValue == "The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n")
        #expect(table["quotes"]?.stringValue == "'That,' she said, 'is still pointless.'")
    }

    @Test("CRLF line endings are newlines, also inside multi-line strings")
    func crlf() throws {
        let table = try parse("a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n")
        #expect(table["a"]?.integerValue == 1)
        #expect(table["b"]?.stringValue == "x\ny")
    }

    @Test("integers: signs, underscores, hexadecimal, octal, binary, the 64-bit limits")
    func integers() throws {
        let table = try parse("""
            a = +99
            b = 42
            c = 0
            d = -17
            e = 1_000
            f = 5_349_221
            g = 0xDEADBEEF
            h = 0xdead_beef
            i = 0o755
            j = 0b1101_0110
            k = 9223372036854775807
            l = -9223372036854775808
            m = -0
            """)
        let expected: [String: Int64] = [
            "a": 99, "b": 42, "c": 0, "d": -17, "e": 1000, "f": 5_349_221, "g": 0xDEADBEEF, "h": 0xDEADBEEF,
            "i": 0o755, "j": 0b1101_0110, "k": .max, "l": .min, "m": 0,
        ]
        for (key, value) in expected { #expect(table[key]?.integerValue == value, "\(key)") }
    }

    @Test("floats: fractions, exponents, underscores, inf and nan")
    func floats() throws {
        let table = try parse("""
            a = +1.0
            b = 3.1415
            c = -0.01
            d = 5e+22
            e = 1e06
            f = -2E-2
            g = 6.626e-34
            h = 224_617.445_991_228
            i = inf
            j = +inf
            k = -inf
            l = nan
            m = -0.0
            """)
        let expected: [String: Double] = [
            "a": 1, "b": 3.1415, "c": -0.01, "d": 5e22, "e": 1e6, "f": -0.02, "g": 6.626e-34, "h": 224_617.445_991_228,
            "i": .infinity, "j": .infinity, "k": -.infinity, "m": 0,
        ]
        for (key, value) in expected {
            guard case .float(let parsed)? = table[key]?.kind else {
                Issue.record("\(key) is not a float")
                continue
            }
            #expect(parsed == value, "\(key)")
        }
        guard case .float(let nan)? = table["l"]?.kind else {
            Issue.record("nan is not a float")
            return
        }
        #expect(nan.isNaN)
    }

    @Test("booleans and date-times (kept as written)")
    func booleansAndDates() throws {
        let table = try parse("""
            t = true
            f = false
            odt1 = 1979-05-27T07:32:00Z
            odt2 = 1979-05-27T00:32:00.999999-07:00
            odt3 = 1979-05-27 07:32:00Z
            ldt = 1979-05-27T07:32:00
            ld = 1979-05-27
            lt = 00:32:00.999999
            leap = 2024-02-29
            """)
        #expect(table["t"]?.boolValue == true)
        #expect(table["f"]?.boolValue == false)
        #expect(table["odt1"]?.kind == .dateTime("1979-05-27T07:32:00Z"))
        #expect(table["odt2"]?.kind == .dateTime("1979-05-27T00:32:00.999999-07:00"))
        #expect(table["odt3"]?.kind == .dateTime("1979-05-27 07:32:00Z"))
        #expect(table["ldt"]?.kind == .dateTime("1979-05-27T07:32:00"))
        #expect(table["ld"]?.kind == .dateTime("1979-05-27"))
        #expect(table["lt"]?.kind == .dateTime("00:32:00.999999"))
        #expect(table["leap"]?.kind == .dateTime("2024-02-29"))
    }

    @Test("arrays: nested, mixed, multi-line with comments and a trailing comma; each element has its line")
    func arrays() throws {
        let table = try parse("""
            integers = [ 1, 2, 3 ]
            nested = [ [ 1, 2 ], ["a", 'b'] ]
            mixed = [ 0.1, "x", { a = 1 } ]
            empty = []
            multi = [
              "first",  # the first
              # a comment line
              "second",
            ]
            """)
        #expect(table["integers"]?.arrayValue?.compactMap(\.integerValue) == [1, 2, 3])
        #expect(table["nested"]?.arrayValue?[1].arrayValue?.compactMap(\.stringValue) == ["a", "b"])
        #expect(table["mixed"]?.arrayValue?[2].tableValue?["a"]?.integerValue == 1)
        #expect(table["empty"]?.arrayValue?.isEmpty == true)
        let multi = table["multi"]?.arrayValue ?? []
        #expect(multi.compactMap(\.stringValue) == ["first", "second"])
        #expect(multi.map(\.line) == [6, 8])
        #expect(table["multi"]?.line == 5)
    }

    @Test("inline tables, with dotted keys inside")
    func inlineTables() throws {
        let table = try parse("""
            name = { first = "Tom", last = "Preston-Werner" }
            point = {x=1,y=2}
            animal = { type.name = "pug", type.size = "small" }
            empty = {}
            """)
        #expect(table.at("name.last")?.stringValue == "Preston-Werner")
        #expect(table.at("point.y")?.integerValue == 2)
        #expect(table.at("animal.type.size")?.stringValue == "small")
        #expect(table["empty"]?.tableValue?.isEmpty == true)
    }

    @Test("[tables], dotted headers, implicit parents defined later, sub-tables of dotted-key tables")
    func tables() throws {
        let table = try parse("""
            [table-1]
            key1 = "some string"

            [dog."tater.man"]
            type.name = "pug"

            [ j . "ʞ" . 'l' ]
            x = 1

            [x.y.z.w]
            [x]
            defined = "later"

            [fruit]
            apple.color = "red"
            [fruit.apple.texture]
            smooth = true
            """)
        #expect(table.at("table-1.key1")?.stringValue == "some string")
        #expect(table["dog"]?.tableValue?["tater.man"]?.tableValue?.at("type.name")?.stringValue == "pug")
        #expect(table["j"]?.tableValue?["ʞ"]?.tableValue?["l"]?.tableValue?["x"]?.integerValue == 1)
        #expect(table.at("x.defined")?.stringValue == "later")
        #expect(table["x"]?.tableValue?.line == 11, "the explicit definition's line")
        #expect(table.at("x.y.z.w")?.tableValue?.isEmpty == true)
        #expect(table.at("fruit.apple.texture.smooth")?.boolValue == true)
        #expect(table.at("fruit.apple.color")?.stringValue == "red")
    }

    @Test("[[arrays of tables]], with sub-tables and nested arrays belonging to the last element")
    func arraysOfTables() throws {
        let table = try parse("""
            [[products]]
            name = "Hammer"

            [[products]]  # empty

            [[products]]
            name = "Nail"

            [[fruits]]
            name = "apple"
            [fruits.physical]
            color = "red"
            [[fruits.varieties]]
            name = "red delicious"
            [[fruits.varieties]]
            name = "granny smith"

            [[fruits]]
            name = "banana"
            [[fruits.varieties]]
            name = "plantain"
            """)
        let products = table["products"]?.arrayValue ?? []
        #expect(products.count == 3)
        #expect(products.map(\.line) == [1, 4, 6])
        #expect(products[0].tableValue?["name"]?.stringValue == "Hammer")
        #expect(products[1].tableValue?.isEmpty == true)
        let fruits = table["fruits"]?.arrayValue?.compactMap(\.tableValue) ?? []
        #expect(fruits.count == 2)
        #expect(fruits[0].at("physical.color")?.stringValue == "red")
        #expect(fruits[0]["varieties"]?.arrayValue?.count == 2)
        #expect(fruits[1]["varieties"]?.arrayValue?.first?.tableValue?["name"]?.stringValue == "plantain")
    }

    @Test("entries keep file order and the line of their key")
    func order() throws {
        let table = try parse("""
            z = 1
            a = 2

            [m]
            k = 3
            """)
        #expect(table.keys == ["z", "a", "m"])
        #expect(table.entries.map(\.line) == [1, 2, 4])
        #expect(table["m"]?.tableValue?.entry("k")?.line == 5)
    }

    @Test("an empty file, and one with only comments, is an empty table")
    func empty() throws {
        #expect(try parse("").isEmpty)
        #expect(try parse("# nothing here\n\n   # or here\n").isEmpty)
    }

    @Test("a byte-order mark is ignored")
    func byteOrderMark() throws {
        let table = try parse("\u{FEFF}a = 1\n")
        #expect(table["a"]?.integerValue == 1)
    }
}
