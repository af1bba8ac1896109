import CANFrames
import Testing
@testable import DBC

/// A small but complete DBC, written for these tests: every statement kind appears at least once.
let grammarSample = """
    VERSION "1.2.3"

    NS_ :
    \tNS_DESC_
    \tCM_
    \tBA_DEF_
    \tBA_
    \tVAL_
    \tBA_DEF_REL_
    \tSG_MUL_VAL_

    BS_:

    BU_: ECU Gateway Tester

    VAL_TABLE_ GearTable 0 "P" 1 "R" 2 "N" 3 "D" ;

    BO_ 256 Engine: 8 ECU
     SG_ EngineSpeed : 0|16@1+ (0.25,0) [0|16383.75] "rpm" Gateway,Tester
     SG_ Coolant : 16|8@1- (1,-40) [-40|215] "degC" Gateway
     SG_ Pressure : 31|12@0+ (.5,0) [0|2047.5] "kPa" Gateway
     SG_ Trim : 40|8@1- (-0.1,+1) [-11.7|13.8] "" Vector__XXX

    BO_ 2566844926 Cargo: 8 ECU
     SG_ CargoTemp : 0|16@1- (0.1,0) [-50|50] "degC" Gateway

    BO_ 512 Diag: 8 Tester
     SG_ Service M : 0|8@1+ (1,0) [0|255] "" ECU
     SG_ Rpm m1 : 8|16@1+ (1,0) [0|65535] "rpm" ECU
     SG_ Temp m2 : 8|8@1+ (1,-40) [0|0] "" ECU
     SG_ SubId m3M : 8|8@1+ (1,0) [0|0] "" ECU
     SG_ SubValue : 16|16@1+ (1,0) [0|0] "" ECU

    BO_ 513 SimpleMux: 8 ECU
     SG_ Page M : 0|8@1+ (1,0) [0|0] "" ECU
     SG_ PageA m0 : 8|8@1+ (1,0) [0|0] "" ECU
     SG_ PageB m1 : 8|16@1+ (1,0) [0|0] "" ECU

    BO_ 768 Floats: 16 ECU
     SG_ F32 : 0|32@1- (1,0) [0|0] "" ECU
     SG_ F64 : 32|64@1- (1,0) [0|0] "" ECU

    BO_ 1024 LongNameMsg: 64 ECU
     SG_ ShortSig : 504|8@1+ (1,0) [0|0] "" ECU

    BO_TX_BU_ 256 : ECU,Gateway;

    CM_ "Database comment";
    CM_ BU_ ECU "Engine control unit";
    CM_ BO_ 256 "Engine data";
    CM_ SG_ 256 EngineSpeed "Crankshaft speed";

    BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;
    BA_DEF_ BO_ "GenMsgSendType" ENUM "Cyclic","Event";
    BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","J1939PG","StandardCAN_FD","ExtendedCAN_FD";
    BA_DEF_ SG_ "GenSigStartValue" FLOAT 0 100000;
    BA_DEF_ SG_ "SystemSignalLongSymbol" STRING ;
    BA_DEF_ BO_ "SystemMessageLongSymbol" STRING ;
    BA_DEF_ "BusType" STRING ;
    BA_DEF_ BU_ "NodeLayer" HEX 0 255;
    BA_DEF_REL_ BU_SG_REL_ "SigTimeout" INT 0 1000;
    BA_DEF_DEF_ "GenMsgCycleTime" 0;
    BA_DEF_DEF_ "GenMsgSendType" "Cyclic";
    BA_DEF_DEF_ "VFrameFormat" "StandardCAN";
    BA_DEF_DEF_ "GenSigStartValue" 0;
    BA_DEF_DEF_ "BusType" "CAN";
    BA_DEF_DEF_REL_ "SigTimeout" 100;
    BA_ "BusType" "CAN FD";
    BA_ "NodeLayer" BU_ ECU 3;
    BA_ "GenMsgCycleTime" BO_ 256 100;
    BA_ "GenMsgSendType" BO_ 512 1;
    BA_ "VFrameFormat" BO_ 2566844926 3;
    BA_ "VFrameFormat" BO_ 1024 4;
    BA_ "GenSigStartValue" SG_ 256 Coolant 60;
    BA_ "SystemSignalLongSymbol" SG_ 1024 ShortSig "AVeryLongSignalNameBeyondThirtyTwoCharacters";
    BA_ "SystemMessageLongSymbol" BO_ 1024 "AVeryLongMessageNameBeyondThirtyTwoCharacters";
    BA_REL_ "SigTimeout" BU_SG_REL_ Gateway SG_ 256 EngineSpeed 250;

    VAL_ 512 Service 1 "Rpm" 2 "Temperature" 3 "Sub" ;
    VAL_ 256 Coolant -40 "Sensor fault" ;

    SIG_VALTYPE_ 768 F32 : 1;
    SIG_VALTYPE_ 768 F64 : 2;

    SIG_GROUP_ 256 Powertrain 1 : EngineSpeed Coolant;

    EV_ Mode: 0 [0|3] "" 0 1 DUMMY_NODE_VECTOR0 ECU;
    ENVVAR_DATA_ Mode: 4;
    CM_ EV_ Mode "Operating mode";
    VAL_ Mode 0 "Off" 1 "On" ;

    SG_MUL_VAL_ 512 Rpm Service 1-1;
    SG_MUL_VAL_ 512 Temp Service 2-2;
    SG_MUL_VAL_ 512 SubId Service 3-3;
    SG_MUL_VAL_ 512 SubValue SubId 4-6, 9-9;
    """

@Suite("DBC grammar")
struct DBCParserTests {
    let database: DBCDatabase

    init() throws {
        database = try DBCParser.parse(text: grammarSample, source: "sample.dbc")
    }

    @Test("VERSION, BU_, VAL_TABLE_, database comment and attributes")
    func header() {
        #expect(database.version == "1.2.3")
        #expect(database.nodes.map(\.name) == ["ECU", "Gateway", "Tester"])
        #expect(database.nodes[0].comment == "Engine control unit")
        #expect(database.nodes[0].attributes["NodeLayer"] == .integer(3))
        #expect(database.valueTables["GearTable"]?[3] == "D")
        #expect(database.comment == "Database comment")
        #expect(database.attributes["BusType"] == .string("CAN FD"))
        #expect(database.warnings.isEmpty, "\(database.warnings)")
    }

    @Test("BO_ with Intel and Motorola signals, signs, .25-style and negative factors, + signs, units, receivers")
    func messageAndSignals() throws {
        let engine = try #require(database.message(named: "Engine"))
        #expect(engine.id == 256)
        #expect(!engine.isExtended)
        #expect(engine.size == 8)
        #expect(engine.transmitters == ["ECU", "Gateway"])
        #expect(engine.comment == "Engine data")
        #expect(engine.cycleTime == 100)
        #expect(engine.sendType == "Cyclic")
        let speed = try #require(engine.signal(named: "EngineSpeed"))
        #expect(speed.byteOrder == .littleEndian)
        #expect(speed.factor == 0.25)
        #expect(speed.unit == "rpm")
        #expect(speed.receivers == ["Gateway", "Tester"])
        #expect(speed.comment == "Crankshaft speed")
        let coolant = try #require(engine.signal(named: "Coolant"))
        #expect(coolant.isSigned)
        #expect(coolant.offset == -40)
        #expect(coolant.startValue == 60)
        #expect(coolant.valueLabels[-40] == "Sensor fault")
        let pressure = try #require(engine.signal(named: "Pressure"))
        #expect(pressure.byteOrder == .bigEndian)
        #expect(pressure.factor == 0.5)
        let trim = try #require(engine.signal(named: "Trim"))
        #expect(trim.factor == -0.1)
        #expect(trim.offset == 1)
        #expect(trim.receivers.isEmpty)
        #expect(engine.signalGroups == [DBCSignalGroup(name: "Powertrain", repetitions: 1, signalNames: ["EngineSpeed", "Coolant"])])
    }

    @Test("bit 31 marks a 29-bit id; VFrameFormat J1939PG makes the message match by PGN")
    func extendedAndJ1939() throws {
        let cargo = try #require(database.message(named: "Cargo"))
        #expect(cargo.id == 0x18FEF1FE)
        #expect(cargo.isExtended)
        #expect(cargo.frameFormat == .j1939)
        #expect(cargo.isJ1939)
        #expect(cargo.pgn == 0xFEF1)
    }

    @Test("multiplexing: M, mN, mNM and SG_MUL_VAL_ ranges")
    func multiplexing() throws {
        let diag = try #require(database.message(named: "Diag"))
        let service = try #require(diag.signal(named: "Service"))
        #expect(service.multiplexing.isMultiplexer)
        #expect(service.multiplexing.multiplexerSignal == nil)
        let rpm = try #require(diag.signal(named: "Rpm"))
        #expect(rpm.multiplexing.multiplexerSignal == "Service")
        #expect(rpm.multiplexing.multiplexerValues == [1...1])
        let subID = try #require(diag.signal(named: "SubId"))
        #expect(subID.multiplexing.isMultiplexer)
        #expect(subID.multiplexing.multiplexerSignal == "Service")
        #expect(subID.multiplexing.multiplexerValues == [3...3])
        let subValue = try #require(diag.signal(named: "SubValue"))
        #expect(subValue.multiplexing.multiplexerSignal == "SubId")
        #expect(subValue.multiplexing.multiplexerValues == [4...6, 9...9])
        #expect(diag.sendType == "Event")
        let simple = try #require(database.message(named: "SimpleMux"))
        #expect(simple.signal(named: "PageB")?.multiplexing == DBCMultiplexing(multiplexerSignal: "Page", multiplexerValues: [1...1]))
    }

    @Test("a switch with a malformed marker that SG_MUL_VAL_ names still switches its dependents")
    func malformedSwitchMarker() throws {
        let database = try DBCParser.parse(text: """
            BO_ 648 Motor_2: 8 X
             SG_ Code m : 6|2@1+ (1,0) [0|3] "" X
             SG_ Version m0 : 0|6@1+ (1,0) [0|63] "" X
             SG_ Gearbox m2 : 0|6@1+ (1,0) [0|63] "" X
            SG_MUL_VAL_ 648 Version Code 0-0;
            SG_MUL_VAL_ 648 Gearbox Code 2-2;
            """, source: "vw.dbc")
        let signals = database.messages[0].signals
        #expect(signals[0].multiplexing.isMultiplexer)
        #expect(signals[1].multiplexing == DBCMultiplexing(multiplexerSignal: "Code", multiplexerValues: [0...0]))
        #expect(database.warnings.count == 1, "the malformed marker is reported")
        let decoder = CompiledDecoder(database: database)
        var result = DecodedFrame()
        _ = decoder.decode(CANFrame(id: 648, data: [0x85, 0, 0, 0, 0, 0, 0, 0]), into: &result)
        #expect(result.signals.map { decoder.signals[Int($0.signalIndex)].name } == ["Code", "Gearbox"])
    }

    @Test("several switches and an mN signal that SG_MUL_VAL_ does not place: always present, with a warning")
    func ambiguousMultiplexing() throws {
        let database = try DBCParser.parse(text: """
            BO_ 1 M: 8 X
             SG_ A M : 0|8@1+ (1,0) [0|0] "" X
             SG_ B m1M : 8|8@1+ (1,0) [0|0] "" X
             SG_ C m2 : 16|8@1+ (1,0) [0|0] "" X
            SG_MUL_VAL_ 1 B A 1-1;
            """, source: "ambiguous.dbc")
        #expect(database.messages[0].signals[2].multiplexing.multiplexerSignal == nil)
        #expect(database.warnings.map(\.line) == [4])
    }

    @Test("SIG_VALTYPE_ float32 and float64; 64-byte CAN FD message")
    func floatsAndFD() throws {
        let floats = try #require(database.message(named: "Floats"))
        #expect(floats.signal(named: "F32")?.valueType == .float32)
        #expect(floats.signal(named: "F64")?.valueType == .float64)
        #expect(floats.isFD)
        let long = try #require(database.messages.first { $0.id == 1024 })
        #expect(long.size == 64)
        #expect(long.frameFormat == .standardFD)
    }

    @Test("long names replace the short symbol; the short one stays findable")
    func longNames() throws {
        let long = try #require(database.message(named: "AVeryLongMessageNameBeyondThirtyTwoCharacters"))
        #expect(long.shortName == "LongNameMsg")
        #expect(long.signals[0].name == "AVeryLongSignalNameBeyondThirtyTwoCharacters")
        #expect(long.signal(named: "ShortSig") != nil)
    }

    @Test("attribute definitions with defaults, and relation attributes")
    func attributes() throws {
        let definitions = Dictionary(uniqueKeysWithValues: database.attributeDefinitions.map { ($0.name, $0) })
        #expect(definitions["GenMsgCycleTime"]?.type == .integer(minimum: 0, maximum: 65535))
        #expect(definitions["GenMsgCycleTime"]?.objectKind == .message)
        #expect(definitions["NodeLayer"]?.type == .hex(minimum: 0, maximum: 255))
        #expect(definitions["GenSigStartValue"]?.type == .float(minimum: 0, maximum: 100000))
        #expect(definitions["VFrameFormat"]?.defaultValue == .string("StandardCAN"))
        #expect(definitions["SigTimeout"]?.objectKind == .nodeSignalRelation)
        #expect(definitions["SigTimeout"]?.defaultValue == .integer(100))
        #expect(database.relationAttributes == [
            DBCRelationAttribute(name: "SigTimeout", kind: .nodeSignalRelation, node: "Gateway", messageID: 256, signal: "EngineSpeed", value: .integer(250))
        ])
    }

    @Test("EV_, ENVVAR_DATA_, and comments and labels on environment variables")
    func environmentVariables() throws {
        let mode = try #require(database.environmentVariables.first)
        #expect(mode.name == "Mode")
        #expect(mode.maximum == 3)
        #expect(mode.accessNodes == ["ECU"])
        #expect(mode.dataSize == 4)
        #expect(mode.comment == "Operating mode")
        #expect(mode.valueLabels[1] == "On")
    }

    @Test("CRLF, mixed line endings and no final newline read the same as LF")
    func lineEndings() throws {
        let crlf = grammarSample.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        var mixed = ""
        for (index, line) in grammarSample.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            mixed += line + (index % 2 == 0 ? "\r\n" : "\n")
        }
        for text in [crlf, mixed, grammarSample + "\n\n"] {
            let other = try DBCParser.parse(text: text, source: "variant.dbc")
            #expect(other.messages.map(\.name) == database.messages.map(\.name))
            #expect(other.messages.flatMap(\.signals).map(\.name) == database.messages.flatMap(\.signals).map(\.name))
            #expect(other.warnings.isEmpty)
        }
    }

    @Test("Windows-1252 text is decoded when the file is not UTF-8")
    func windows1252() throws {
        var bytes = Array("BO_ 1 M: 8 X\n SG_ T : 0|8@1+ (1,0) [0|0] \"".utf8)
        bytes += [0xB0, 0x43] // "°C" in Windows-1252
        bytes += Array("\" X\nCM_ SG_ 1 T \"".utf8) + [0x80] + Array("\";".utf8)
        let database = try DBCParser.parse(bytes: bytes, source: "cp1252.dbc")
        #expect(database.messages[0].signals[0].unit == "°C")
        #expect(database.messages[0].signals[0].comment == "€")
    }

    @Test("UTF-8 text stays UTF-8")
    func utf8() throws {
        let database = try DBCParser.parse(text: "BO_ 1 M: 8 X\n SG_ T : 0|8@1+ (1,0) [0|0] \"°C\" X\n", source: "utf8.dbc")
        #expect(database.messages[0].signals[0].unit == "°C")
    }
}

@Suite("DBC warnings and errors")
struct DBCDiagnosticTests {
    @Test("recoverable problems are warnings with file:line, and the rest of the file is still read")
    func warnings() throws {
        let text = """
            BO_ 100 A: 2 X
             SG_ Low : 0|8@1+ (1,0) [0|0] "" X
             SG_ Overlap : 4|8@1+ (1,0) [0|0] "" X
             SG_ Outside : 12|8@1+ (1,0) [0|0] "" X

            CM_ SG_ 100 "no signal name";
            CM_ BO_ 100 "missing semicolon"
            VAL_ 999 Nothing 0 "a" ;
            VAL_ 100 Low 1 "one" ;
            """
        let database = try DBCParser.parse(text: text, source: "sloppy.dbc")
        let messages = database.warnings.map(\.description)
        #expect(database.messages[0].signals.count == 3)
        #expect(database.messages[0].comment == "missing semicolon")
        #expect(database.messages[0].signals[0].valueLabels[1] == "one")
        #expect(messages.contains { $0.hasPrefix("sloppy.dbc:3: warning:") && $0.contains("Low and Overlap") && $0.contains("share bits") })
        #expect(messages.contains { $0.hasPrefix("sloppy.dbc:4: warning:") && $0.contains("Outside") && $0.contains("does not fit") })
        #expect(messages.contains { $0.hasPrefix("sloppy.dbc:6: warning: CM_") })
        #expect(messages.contains { $0.hasPrefix("sloppy.dbc:7: warning: CM_: missing ';'") })
        #expect(messages.contains { $0.hasPrefix("sloppy.dbc:8: warning: VAL_ for unknown signal Nothing") })
        #expect(database.warnings.count == 5, "\(messages)")
    }

    @Test(
        "unrecoverable problems are errors with file:line:column and a reason",
        arguments: [
            ("BO_ 4294967295 Bad: 8 X\n", 1, 5, "beyond 29 bits"),
            ("BO_ 1 M: 8 X\n SG_ S : 0|8@2+ (1,0) [0|0] \"\" X\n", 2, 14, "byte order"),
            ("BO_ 1 M: 8 X\n SG_ S : 0|8@1+ (1,0 [0|0] \"\" X\n", 2, 22, "(factor,offset)"),
            ("BO_ 1 M: 65 X\n", 1, 10, "at most 64"),
            ("BO_ 1 M 8 X\n", 1, 9, "expected ':'"),
        ]
    )
    func errors(text: String, line: Int, column: Int, reason: String) {
        do {
            _ = try DBCParser.parse(text: text, source: "bad.dbc")
            Issue.record("should not parse: \(text)")
        } catch {
            #expect(error.diagnostic.line == line, "\(error)")
            #expect(error.diagnostic.column == column, "\(error)")
            #expect(error.diagnostic.message.contains(reason), "\(error)")
            #expect(error.description.hasPrefix("bad.dbc:\(line):\(column): error:"))
        }
    }

    @Test("a 29-bit id without bit 31 and an id above 0x7FF are extended")
    func extendedPolicy() throws {
        let database = try DBCParser.parse(text: "BO_ 2048 A: 8 X\nBO_ 419360000 B: 8 X\nBO_ 2047 C: 8 X\n")
        #expect(database.messages.map(\.isExtended) == [true, true, false])
    }

    @Test("an unmarked id wider than 29 bits leaves that message out with a warning")
    func unmarkedWideID() throws {
        let database = try DBCParser.parse(text: "BO_ 1075054137 Wide: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" X\nBO_ 1 Fine: 8 X\n")
        #expect(database.messages.map(\.name) == ["Fine"])
        #expect(database.warnings.count == 1)
        #expect(database.warnings[0].message.contains("beyond 29 bits"))
    }

    @Test("VECTOR__INDEPENDENT_SIG_MSG holds signals that are on no bus")
    func independentSignals() throws {
        let database = try DBCParser.parse(text: "BO_ 3221225472 VECTOR__INDEPENDENT_SIG_MSG: 0 Vector__XXX\n SG_ Loose : 0|8@1+ (1,0) [0|0] \"\" X\n")
        #expect(database.messages.isEmpty)
        #expect(database.independentSignals.map(\.name) == ["Loose"])
        #expect(database.warnings.isEmpty)
    }

    @Test("SIG_VALTYPE_ on a signal of the wrong width is a warning and the signal stays an integer")
    func wrongFloatWidth() throws {
        let database = try DBCParser.parse(text: "BO_ 1 M: 8 X\n SG_ S : 0|16@1+ (1,0) [0|0] \"\" X\nSIG_VALTYPE_ 1 S : 1;\n")
        #expect(database.messages[0].signals[0].valueType == .integer)
        #expect(database.warnings.count == 1)
    }
}
