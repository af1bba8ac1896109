import AgentCore
import AxleBase
import FirmwareProfile
import RemoteCommands
import Synchronization
import Testing

/// The remote diagnostic commands on the demo sedan (its OBD-II engine ECU, `engine`), with a scripted ECU: what is
/// asked, how answers, refusals and silence become the command's status, text and result, and the executor's part
/// (the precondition of clearing, the answer published when the runner finishes, the give-up time).
@Suite struct DiagnosticCommandTests {
    /// An ECU that answers each request from a script (request bytes in hex → answer), silent otherwise.
    final class ScriptedECU: @unchecked Sendable {
        var answers: [String: DiagnosticAnswer.Outcome]
        private(set) var asked: [String] = []

        init(_ answers: [String: DiagnosticAnswer.Outcome]) { self.answers = answers }

        func ask(_ ecu: String, _ request: [UInt8], _ timeout: Double) -> DiagnosticAnswer {
            let key = request.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined(separator: " ")
            asked.append("\(ecu): \(key)")
            return DiagnosticAnswer(outcome: answers[key] ?? .timedOut("no answer within \(timeout) s"))
        }
    }

    private func plan(_ name: String, _ parameters: [String: CommandValue] = [:]) throws(DiagnosticCommandError) -> DiagnosticCommandPlan {
        try DiagnosticCommandPlan.plan(name: name, parameters: parameters, profile: demoSedan)
    }

    @Test func readsStoredAndPendingCodesAsPCBUText() throws {
        let ecu = ScriptedECU([
            "03": .positive([0x43, 0x02, 0x02, 0x17, 0x01, 0x00]),
            "07": .positive([0x47, 0x01, 0x40, 0x35]),
        ])
        let outcome = try plan("diagnostics.read_dtc").run(ask: ecu.ask)
        #expect(ecu.asked == ["engine: 03", "engine: 07"])
        #expect(outcome.status == .succeeded)
        #expect(outcome.text == "engine: P0217, P0100")
        #expect(outcome.result?.rendered() == #"{"engine":{"protocol":"obd","stored":["P0217","P0100"],"pending":["C0035"]}}"#)
    }

    @Test func aSilentECUFailsTheCommandWithItsReason() throws {
        let outcome = try plan("diagnostics.read_dtc").run(ask: ScriptedECU([:]).ask)
        #expect(outcome.status == .failed)
        #expect(outcome.reason == .ecuNoAnswer)
        #expect(outcome.text.hasPrefix("no ECU answered: engine: no answer: no answer within"))
    }

    @Test func aRefusalToClearIsReportedByItsName() throws {
        let outcome = try plan("diagnostics.clear_dtc").run(ask: ScriptedECU(["04": .negative(code: 0x22, name: "conditionsNotCorrect")]).ask)
        #expect(outcome.status == .failed)
        #expect(outcome.reason == .ecuRefused)
        #expect(outcome.text == "not cleared: engine: refused: conditionsNotCorrect (0x22)")
        #expect(outcome.result?.rendered() == #"{"engine":{"error":"refused: conditionsNotCorrect (0x22)","nrc":34,"nrc_name":"conditionsNotCorrect"}}"#)
        let cleared = try plan("diagnostics.clear_dtc").run(ask: ScriptedECU(["04": .positive([0x44])]).ask)
        #expect(cleared.status == .succeeded)
        #expect(cleared.text == "fault codes cleared on engine")
    }

    @Test func readsTheVIN() throws {
        let vin = Array("1AXLE00DEMO000001".utf8)
        let outcome = try plan("diagnostics.read_vin").run(ask: ScriptedECU(["09 02": .positive([0x49, 0x02, 0x01] + vin)]).ask)
        #expect(outcome.status == .succeeded)
        #expect(outcome.result?.rendered() == #"{"vin":"1AXLE00DEMO000001","ecu":"engine"}"#)
        let garbled = try plan("diagnostics.read_vin").run(ask: ScriptedECU(["09 02": .positive([0x49, 0x02, 0x01, 0x41])]).ask)
        #expect(garbled.status == .failed)
        #expect(garbled.text == "no VIN: engine: the answer is not a VIN of 17 characters")
    }

    @Test func readsNamedValuesSixPIDsToARequest() throws {
        // Two of the profile's [diagnostics.signals] and one standard PID by name, in one mode 01 request.
        let ecu = ScriptedECU(["01 05 0B 0C": .positive([0x41, 0x05, 0x7B, 0x0B, 0x64, 0x0C, 0x1A, 0xF8])])
        let outcome = try plan("diagnostics.read", [
            "names": .string("Vehicle.Private.OBD.CoolantTemperature, Vehicle.Powertrain.CombustionEngine.MAP,engine_speed")
        ]).run(ask: ecu.ask)
        #expect(ecu.asked == ["engine: 01 05 0B 0C"])
        #expect(outcome.status == .succeeded)
        #expect(outcome.text == "3 of 3 values read")
        #expect(outcome.result?.rendered() == #"{"Vehicle.Private.OBD.CoolantTemperature":{"value":83,"unit":"celsius","ecu":"engine"},"Vehicle.Powertrain.CombustionEngine.MAP":{"value":100,"unit":"kPa","ecu":"engine"},"engine_speed":{"value":1726,"unit":"rpm","ecu":"engine"}}"#)
    }

    @Test func aValueTheECULeavesOutIsAnErrorBesideTheOthers() throws {
        let ecu = ScriptedECU(["01 05 0A": .positive([0x41, 0x05, 0x7B])])
        let outcome = try plan("diagnostics.read", [
            "names": .string("Vehicle.Private.OBD.CoolantTemperature,Vehicle.Private.OBD.FuelPressure")
        ]).run(ask: ecu.ask)
        #expect(outcome.status == .succeeded)
        #expect(outcome.text == "1 of 2 values read; Vehicle.Private.OBD.FuelPressure: the ECU left it out of its answer")
    }

    @Test func unknownNamesAndECUsAreRefusedBeforeAnythingIsAsked() {
        #expect(throws: DiagnosticCommandError.self) { try plan("diagnostics.read", ["names": .string("Vehicle.Nothing")]) }
        #expect(throws: DiagnosticCommandError.self) { try plan("diagnostics.read_dtc", ["ecu": .string("gearbox")]) }
        do {
            _ = try plan("diagnostics.read_dtc", ["ecu": .string("gearbox")])
        } catch {
            #expect(error.reason == .badParameters)
            #expect(error.text == "no ECU \"gearbox\"; the profile's ECUs are engine")
        }
    }

    // MARK: - The executor

    /// A runner that keeps what it is given and finishes when the test says so.
    final class ManualRunner: DiagnosticCommandRunning {
        var submitted: [(id: String, plan: DiagnosticCommandPlan)] = []
        var finished: [(id: String, outcome: DiagnosticCommandOutcome)] = []

        func submit(id: String, plan: DiagnosticCommandPlan) -> Bool {
            submitted.append((id, plan))
            return true
        }

        func takeFinished() -> [(id: String, outcome: DiagnosticCommandOutcome)] {
            defer { finished.removeAll() }
            return finished
        }
    }

    @Test func theAnswerIsPublishedWhenTheRunnerFinishes() {
        let harness = ExecutorHarness()
        let runner = ManualRunner()
        harness.executor.diagnostics = runner
        let command = harness.command("diagnostics.read_dtc")
        let id = command.command.request.id
        harness.executor.start(command, live: harness.live())
        #expect(runner.submitted.map(\.id) == [id])
        #expect(harness.responder.statuses(of: id) == [.accepted, .inProgress])
        runner.finished = [(id, DiagnosticCommandOutcome(status: .succeeded, reason: nil, text: "engine: P0217", result: ["P0217"]))]
        harness.executor.advance(live: harness.live())
        #expect(harness.responder.final(of: id) == Answer(id: id, status: .succeeded, reason: nil, text: "engine: P0217"))
        #expect(harness.responder.result(of: id)?.rendered() == #"["P0217"]"#)
    }

    @Test func clearingNeedsAStandingVehicleWithItsEngineOff() {
        let harness = ExecutorHarness()
        let runner = ManualRunner()
        harness.executor.diagnostics = runner
        let engineSpeed = "Vehicle.Powertrain.CombustionEngine.Speed"
        harness.vehicle([speed: 0, engineSpeed: 800])
        let running = harness.command("diagnostics.clear_dtc")
        harness.executor.start(running, live: harness.live())
        let refused = harness.responder.final(of: running.command.request.id)
        #expect(refused?.reason == .preconditionFailed)
        #expect(refused?.text == "precondition not met: the vehicle must stand with its engine off (Vehicle.Speed = 0, Vehicle.Powertrain.CombustionEngine.Speed = 800)")
        // Nothing known: never counts as safe.
        let unknown = ExecutorHarness()
        unknown.executor.diagnostics = runner
        let blind = unknown.command("diagnostics.clear_dtc")
        unknown.executor.start(blind, live: unknown.live())
        #expect(unknown.responder.final(of: blind.command.request.id)?.text?.hasPrefix("precondition cannot be checked") == true)
        #expect(runner.submitted.isEmpty)
        harness.vehicle([speed: 0, engineSpeed: 0])
        let parked = harness.command("diagnostics.clear_dtc")
        harness.executor.start(parked, live: harness.live())
        #expect(runner.submitted.map(\.id) == [parked.command.request.id])
    }

    @Test func aCommandWhoseAnswerNeverComesFailsAfterItsTime() {
        let harness = ExecutorHarness()
        harness.executor.diagnostics = ManualRunner()
        let command = harness.command("diagnostics.read_vin")
        let id = command.command.request.id
        harness.executor.start(command, live: harness.live())
        #expect(harness.executor.nextDue == harness.clock.monotonicSeconds() + CommandExecutor.diagnosticCommandSeconds)
        harness.clock.advance(seconds: CommandExecutor.diagnosticCommandSeconds)
        harness.executor.advance(live: harness.live())
        #expect(harness.responder.final(of: id)?.status == .failed)
        #expect(harness.responder.final(of: id)?.reason == .ecuNoAnswer)
    }

    @Test func withoutADiagnosticsServiceTheCommandsAreUnknown() {
        let harness = ExecutorHarness()
        let command = harness.command("diagnostics.read_dtc")
        harness.executor.start(command, live: harness.live())
        #expect(harness.responder.final(of: command.command.request.id)?.reason == .unknownCommand)
    }
}
