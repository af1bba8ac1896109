import ArgumentParser
import AxleBase
import CANBus
import Diagnostics

/// `axle diag dtc IFACE [--clear]`: OBD-II trouble codes (modes 03, 07, 0A), or clearing them (mode 04).
struct DiagDTCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dtc",
        abstract: "Read the OBD-II trouble codes of every ECU (stored, pending, permanent), or clear them.",
        discussion: """
            Asks every ECU at once for its stored (mode 03), pending (07) and permanent (0A) trouble codes, as \
            people write them: P0217, C0035, B1000, U0100. --clear sends mode 04 instead, which clears stored and \
            pending codes and the MIL; an ECU may refuse (conditionsNotCorrect while the engine runs). With --json, \
            one object: "interface" and "ecus", each with "ecu" (its answer id, hex) and "stored", "pending", \
            "permanent" (lists of codes, or null with the reason under "problems"); with --clear, "cleared" (true or \
            false) and "problem".

            Exit codes: 0 the codes were read (or every ECU that answered cleared them); 1 no ECU answered, an ECU \
            refused to clear, or the interface cannot be used; 64 the command line is wrong. See docs/diagnostics.md.
            """
    )

    @OptionGroup var options: OBDBusOptions

    @Flag(name: .long, help: "Clear the trouble codes and the MIL (mode 04) instead of reading them.")
    var clear = false

    static let modes: [(mode: UInt8, kind: String)] = [(0x03, "stored"), (0x07, "pending"), (0x0A, "permanent")]

    /// One ECU's codes of each kind, or why there are none.
    struct ECU {
        var id: UInt32
        var codes: [String: [OBDTroubleCode]] = [:]
        var problems: [String: String] = [:]
    }

    func run() throws {
        let tester = try options.tester()
        let output = TextOutput()
        defer { output.flush() }
        if clear {
            let answers = try tester.ask([0x04])
            guard !answers.isEmpty else { throw tester.silence("a request to clear trouble codes (04)") }
            var refused: [String] = []
            if options.json {
                let objects = answers.map { answer in
                    let problem = answer.message == nil ? OBDTester.problem(answer) : nil
                    return "{\"ecu\": \(DiagnosticPrinter.json(DiagRequestCommand.hexID(answer.responder))), \"cleared\": \(problem == nil)"
                        + (problem.map { ", \"problem\": \(DiagnosticPrinter.json($0))" } ?? "") + "}"
                }
                output.write("{\"interface\": \(DiagnosticPrinter.json(options.interface)), \"ecus\": [\(objects.joined(separator: ", "))]}\n")
            } else {
                output.write(DecodePrinter.pad("ECU", 9) + " RESULT\n")
                for answer in answers {
                    output.write(DecodePrinter.pad(DiagRequestCommand.hexID(answer.responder), 9) + " "
                        + (answer.message == nil ? OBDTester.problem(answer) ?? "no answer" : "cleared") + "\n")
                }
            }
            for answer in answers where answer.message == nil {
                refused.append("\(DiagRequestCommand.hexID(answer.responder)) \(OBDTester.problem(answer) ?? "")")
            }
            guard refused.isEmpty else {
                output.flush()
                throw CLIError("not cleared by every ECU: \(refused.joined(separator: "; "))")
            }
            return
        }
        var ecus: [UInt32: ECU] = [:]
        for (mode, kind) in Self.modes {
            let answers = try tester.ask([mode])
            if mode == 0x03, answers.isEmpty { throw tester.silence("a request for stored trouble codes (03)") }
            for answer in answers {
                var ecu = ecus[answer.responder] ?? ECU(id: answer.responder)
                if let message = answer.message, let codes = OBDTroubleCode.codes(inAnswer: message) {
                    ecu.codes[kind] = codes
                } else {
                    ecu.problems[kind] = OBDTester.problem(answer) ?? "an answer that is no list of trouble codes"
                }
                ecus[answer.responder] = ecu
            }
        }
        let sorted = ecus.values.sorted { $0.id < $1.id }
        if options.json {
            let objects = sorted.map { ecu in
                var object = "{\"ecu\": \(DiagnosticPrinter.json(DiagRequestCommand.hexID(ecu.id)))"
                for (_, kind) in Self.modes {
                    object += ", \"\(kind)\": " + (ecu.codes[kind].map { "[" + $0.map { "\"\($0)\"" }.joined(separator: ", ") + "]" } ?? "null")
                }
                if !ecu.problems.isEmpty {
                    object += ", \"problems\": {" + Self.modes.compactMap { _, kind in
                        ecu.problems[kind].map { "\"\(kind)\": \(DiagnosticPrinter.json($0))" }
                    }.joined(separator: ", ") + "}"
                }
                return object + "}"
            }
            output.write("{\"interface\": \(DiagnosticPrinter.json(options.interface)), \"ecus\": [\(objects.joined(separator: ", "))]}\n")
        } else {
            output.write(DecodePrinter.pad("ECU", 9) + " " + DecodePrinter.pad("KIND", 10) + " " + DecodePrinter.pad("COUNT", 5) + " CODES\n")
            for ecu in sorted {
                for (_, kind) in Self.modes {
                    let count = ecu.codes[kind].map { String($0.count) } ?? "-"
                    let detail = ecu.codes[kind].map { $0.isEmpty ? "none" : $0.map(\.description).joined(separator: " ") }
                        ?? ecu.problems[kind] ?? "no answer"
                    output.write(DecodePrinter.pad(DiagRequestCommand.hexID(ecu.id), 9) + " " + DecodePrinter.pad(kind, 10) + " "
                        + DecodePrinter.pad(count, 5) + " " + detail + "\n")
                }
            }
        }
    }
}
