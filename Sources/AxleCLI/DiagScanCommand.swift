import ArgumentParser
import AxleBase
import CANBus
import Diagnostics

/// `axle diag scan IFACE`: the ECUs that answer OBD-II, their supported PIDs and VIN.
struct DiagScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find the ECUs that answer OBD-II on a bus: their supported PIDs and VIN.",
        discussion: """
            Asks every ECU at once (functional requests: 0100 on 7DF and on 18DB33F1, or only the one --addressing \
            names), collects the answers for --timeout, follows each ECU's supported-PID bitmaps (0x20, 0x40, …) and \
            asks for the VIN (mode 09 PID 02) and the calibration ids (PID 04). With --json, one object: "interface" and \
            "ecus", each with "ecu" (its answer id, hex), "addressing", "request_id", "supported_pids", "parameters" \
            (the names Axle decodes), "vin" (null when the ECU gave none) and "calibration_ids" (empty when none).

            Exit codes: 0 at least one ECU answered; 1 none did, or the interface cannot be used (the message says \
            what to check); 64 the command line is wrong. See docs/diagnostics.md.
            """
    )

    @OptionGroup var options: OBDBusOptions

    /// What the scan found about one ECU.
    struct ECU {
        var id: UInt32
        var addressing: OBDAddressing
        var supported: [UInt8] = []
        var vin: String?
        var calibrationIDs: [String] = []
        var problem: String?
    }

    func run() throws {
        let first = try options.tester()
        let addressings: [OBDAddressing] = switch options.addressing {
        case .auto: OBDAddressing.allCases
        case .standard: [.standard]
        case .extended: [.extended]
        }
        var ecus: [ECU] = []
        for addressing in addressings {
            let tester = OBDTester(like: first, choice: addressing == .standard ? .standard : .extended)
            let supported = try tester.supportedPIDs()
            var found = tester.known.sorted().map { id in
                ECU(id: id, addressing: addressing, supported: supported[id] ?? [])
            }
            guard !found.isEmpty else { continue }
            let answers = try tester.ask([0x09, 0x02])
            for index in found.indices {
                guard let answer = answers.first(where: { $0.responder == found[index].id }) else { continue }
                if let message = answer.message {
                    found[index].vin = OBDMessage.vin(inAnswer: message)
                } else if found[index].supported.isEmpty {
                    found[index].problem = OBDTester.problem(answer)
                }
            }
            // The calibration ids (mode 09 PID 04): which software the ECU runs; an ECU without them says no.
            for answer in try tester.ask([0x09, 0x04]) {
                guard let index = found.firstIndex(where: { $0.id == answer.responder }), let message = answer.message
                else { continue }
                found[index].calibrationIDs = OBDMessage.calibrationIDs(inAnswer: message) ?? []
            }
            ecus += found
        }
        guard !ecus.isEmpty else {
            throw OBDTester(like: first, choice: options.addressing).silence("a request for supported PIDs (0100)")
        }
        let output = TextOutput()
        output.write(options.json ? Self.json(ecus, interface: options.interface) : Self.table(ecus))
        output.flush()
    }

    static func table(_ ecus: [ECU]) -> String {
        var text = DecodePrinter.pad("ECU", 9) + " " + DecodePrinter.pad("REQUEST", 9) + " " + DecodePrinter.pad("IDS", 7)
            + " " + DecodePrinter.pad("VIN", 18) + " SUPPORTED PIDS\n"
        for ecu in ecus {
            let request = OBDAddressing.physicalRequestID(forAnswerID: ecu.id).map(DiagRequestCommand.hexID) ?? ""
            let pids = ecu.supported.filter { $0 % 0x20 != 0 }
            let list = pids.map { pid in
                OBDParameter.standard[pid].map { "\(DiagnosticPrinter.hex(pid)) \($0.name)" } ?? DiagnosticPrinter.hex(pid)
            }
            text += DecodePrinter.pad(DiagRequestCommand.hexID(ecu.id), 9) + " " + DecodePrinter.pad(request, 9) + " "
                + DecodePrinter.pad(ecu.addressing.rawValue, 7) + " " + DecodePrinter.pad(ecu.vin ?? "-", 18) + " "
                + "\(pids.count): " + (ecu.problem ?? list.joined(separator: ", ")) + "\n"
            if !ecu.calibrationIDs.isEmpty {
                text += DecodePrinter.pad("", 9) + " calibration ids: \(ecu.calibrationIDs.joined(separator: ", "))\n"
            }
        }
        return text
    }

    static func json(_ ecus: [ECU], interface: String) -> String {
        let objects = ecus.map { ecu in
            let request = OBDAddressing.physicalRequestID(forAnswerID: ecu.id) ?? 0
            let pids = ecu.supported.filter { $0 % 0x20 != 0 }
            var object = "{\"ecu\": \(DiagnosticPrinter.json(DiagRequestCommand.hexID(ecu.id))), "
            object += "\"addressing\": \"\(ecu.addressing.rawValue)\", "
            object += "\"request_id\": \(DiagnosticPrinter.json(DiagRequestCommand.hexID(request))), "
            object += "\"supported_pids\": [\(pids.map { String($0) }.joined(separator: ", "))], "
            object += "\"parameters\": [\(pids.compactMap { OBDParameter.standard[$0].map { "\"\($0.name)\"" } }.joined(separator: ", "))], "
            object += "\"vin\": \(ecu.vin.map(DiagnosticPrinter.json) ?? "null"), "
            object += "\"calibration_ids\": [\(ecu.calibrationIDs.map(DiagnosticPrinter.json).joined(separator: ", "))]"
            if let problem = ecu.problem { object += ", \"problem\": \(DiagnosticPrinter.json(problem))" }
            return object + "}"
        }
        return "{\"interface\": \(DiagnosticPrinter.json(interface)), \"ecus\": [\(objects.joined(separator: ", "))]}\n"
    }
}
