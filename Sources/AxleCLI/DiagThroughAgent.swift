import AgentControl
import ArgumentParser
import AxleBase
import Diagnostics

#if canImport(Glibc)
import Glibc
#endif

/// Where `axle diag` finds a running agent: `--socket`, else `$AXLE_SOCKET`, else the default path; `--direct` talks to
/// the bus even while an agent runs on it.
struct DiagAgentOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The agent's control socket (default: $AXLE_SOCKET, else \(ControlClient.defaultPath)): while axled asks ECUs on this bus, their requests go through it.",
            valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Talk to the bus directly even while axled asks ECUs on it.")
    var direct = false

    var socketPath: String { AgentOptions.socketPath(socket) }

    /// The agent that asks ECUs on `interface`, when one runs and `--direct` was not given.
    func agent(on interface: String) -> AgentOnBus? {
        direct ? nil : AgentOnBus.find(interface: interface, socketPath: socketPath)
    }
}

/// A running `axled` whose diagnostics service asks ECUs on the bus a scan-tool command names. Its ECUs are asked
/// through its control socket (the `diagnostic` request), between its own polls, so that the agent and the technician
/// never talk to one ECU at once (ISO-TP has no arbitration: two testers' frames to one ECU mix into garbage). ECUs the
/// agent does not know are asked directly: nothing else talks to them.
struct AgentOnBus {
    let client: ControlClient
    let interface: String
    /// The agent's ECUs on this interface.
    let ecus: [DiagnosticsReport.ECU]

    /// The agent on `interface`, or nil: no socket, no answer within a second, no diagnostics service, or no ECU of
    /// its profile on that interface.
    static func find(interface: String, socketPath: String) -> AgentOnBus? {
        var status = stat()
        guard stat(socketPath, &status) == 0 else { return nil }
        let client = ControlClient(path: socketPath)
        guard let report = try? client.status(timeoutSeconds: 1), let diagnostics = report.diagnostics else { return nil }
        let ecus = diagnostics.ecus.filter { $0.interface == interface }
        return ecus.isEmpty ? nil : AgentOnBus(client: client, interface: interface, ecus: ecus)
    }

    /// The agent's ECU asked on `requestID` and answering on `responseID`.
    func ecu(requestID: UInt32, responseID: UInt32) -> DiagnosticsReport.ECU? {
        ecus.first { $0.requestID == requestID && $0.responseID == responseID }
    }

    /// The agent's OBD-II ECUs, which functional OBD-II requests reach.
    var obdECUs: [DiagnosticsReport.ECU] { ecus.filter { $0.protocolName == "obd" } }

    /// Asks `ecu` through the agent; a refusal or an unreachable agent is a `CLIError` saying what to do.
    func ask(_ ecu: DiagnosticsReport.ECU, _ request: [UInt8], timeoutSeconds: Double?) throws -> DiagnosticReply {
        do {
            return try client.diagnostic(ecu: ecu.name, data: request, ecuTimeoutSeconds: timeoutSeconds)
        } catch {
            throw CLIError(
                "asking \(ecu.name) through axled (\(client.path)) failed: \(error.message)"
                    + (error.failure?.code == .permissionDenied ? "" : "; --direct talks to the bus instead"))
        }
    }

    /// What a tester says about the route, for stderr: "asked through axled (…): its ECUs engine (7E0/7E8)".
    var notice: String {
        "axled asks ECUs on \(interface): asking through it (\(client.path)); --direct talks to the bus instead"
    }

    /// `reply` as the scan tool's answer from one ECU of a functional request for service `request`.
    static func answer(_ reply: DiagnosticReply, responder: UInt32, request: UInt8) -> FunctionalExchange.Answer {
        switch reply.outcome {
        case .positive:
            FunctionalExchange.Answer(responder: responder, message: reply.data, pendingCount: reply.pending)
        case .negative:
            FunctionalExchange.Answer(
                responder: responder,
                negative: UDSNegativeResponse(service: request, code: reply.nrc ?? 0), pendingCount: reply.pending)
        case .timeout, .failed:
            FunctionalExchange.Answer(responder: responder, failure: reply.text ?? reply.outcome.rawValue, pendingCount: reply.pending)
        }
    }
}
