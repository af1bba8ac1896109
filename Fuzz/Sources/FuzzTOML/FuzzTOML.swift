import CLibFuzzer
import TOML

@main
enum FuzzTOMLMain {
    static func main() {
        CLibFuzzer_runDriver(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
    }
}

/// libFuzzer entry point: the input is a TOML file, as profiles and the agent's configuration are read.
///
/// Syntax errors are expected; a crash, a trap or a stack overflow is the bug. A document that parses must nest no
/// deeper than the limit allows (each header name may be an array of tables, two levels in the tree, so twice the
/// limit), and the table reader that profiles and the configuration use must read every value with the getter for
/// its type without a problem, then report nothing unread.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    // TOMLDocument.load refuses text that is not UTF-8 before parsing; parse(_:path:) sees what load would.
    guard let text = String(validating: bytes, as: UTF8.self) else { return 0 }
    guard let document = try? TOMLDocument.parse(text, path: "fuzz.toml") else { return 0 }
    let depth = nestingDepth(of: document.root)
    precondition(
        depth <= 2 * TOMLDocument.maximumNestingDepth,
        "the document parsed but nests \(depth) levels deep; the limit is \(TOMLDocument.maximumNestingDepth)")
    let problems = TOMLProblems()
    let reader = TOMLTableReader(table: document.root, path: document.path, problems: problems, context: document.path)
    read(reader)
    reader.finish()
    precondition(problems.isEmpty, "reading each value with its own type's getter gave problems: \(problems.all)")
    return 0
}

/// The levels below `table` (0 for a table of plain values).
private func nestingDepth(of table: TOMLTable) -> Int {
    table.entries.map { nestingDepth(of: $0.value) }.max() ?? 0
}

private func nestingDepth(of value: TOMLValue) -> Int {
    switch value.kind {
    case .array(let elements): 1 + (elements.map(nestingDepth(of:)).max() ?? 0)
    case .table(let table): 1 + nestingDepth(of: table)
    default: 0
    }
}

/// Reads every key of `reader`'s table with the getter for its value's type, descending into tables and arrays of
/// tables.
private func read(_ reader: TOMLTableReader) {
    for key in reader.table.keys {
        guard let value = reader.table[key] else { preconditionFailure("key '\(key)' is listed but has no value") }
        switch value.kind {
        case .string(let text):
            precondition(reader.string(key) == text)
        case .integer(let number):
            // int(_:) gives an Int, which holds every Int64 on the 64-bit platforms the agent runs on.
            precondition(reader.int(key) == Int(number))
        case .float(let number) where number.isNaN:
            // double(_:) reports nan as a problem on purpose: no setting may be nan.
            _ = reader.value(key)
        case .float(let number):
            precondition(reader.double(key) == number)
        case .bool(let flag):
            precondition(reader.bool(key) == flag)
        case .dateTime:
            _ = reader.value(key)
        case .table:
            guard let child = reader.table(key) else { preconditionFailure("table '\(key)' cannot be read as one") }
            read(child)
        case .array(let elements):
            if !elements.isEmpty, elements.allSatisfy({ $0.tableValue != nil }) {
                for child in reader.tableArray(key) { read(child) }
            } else if elements.allSatisfy({ if case .string = $0.kind { true } else { false } }) {
                precondition(reader.stringArray(key)?.count == elements.count)
            } else {
                _ = reader.value(key)
            }
        }
    }
}
