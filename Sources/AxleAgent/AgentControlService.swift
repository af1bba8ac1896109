import AgentCore
import AgentControl
import AxleBase
import CANBus
import CommandStore
import DBC
import FirmwareProfile
import Outbox
import RemoteCommands

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's answers on the control socket (docs/control.md), read from snapshots the running components publish:
/// nothing here waits for a bus, the broker or the pipeline.
struct AgentControlService: ControlHandler {
    let configuration: AgentConfiguration
    let state: AgentState
    let drainer: OutboxDrainer
    let uplink: UplinkState
    let store: OutboxStore
    let outboxPath: String
    let journal: CommandJournal
    let entitlements: EntitlementStore
    /// The diagnostics service's request queue: `axle diag` asks ECUs through it.
    let diagnosticRequests: DiagnosticRequestQueue
    /// The profile running now (a configuration update may switch it while the agent runs).
    let activeProfile: ActiveProfile
    /// The configuration service's latest report (`axle config`).
    let configurationReports: ConfigurationReportBoard

    init(
        configuration: AgentConfiguration, state: AgentState, drainer: OutboxDrainer, uplink: UplinkState,
        outbox: OutboxStore, outboxPath: String, journal: CommandJournal, entitlements: EntitlementStore,
        diagnosticRequests: DiagnosticRequestQueue, activeProfile: ActiveProfile, configurationReports: ConfigurationReportBoard
    ) {
        self.diagnosticRequests = diagnosticRequests
        self.activeProfile = activeProfile
        self.configurationReports = configurationReports
        self.journal = journal
        self.entitlements = entitlements
        self.configuration = configuration
        self.state = state
        self.drainer = drainer
        self.uplink = uplink
        self.store = outbox
        self.outboxPath = outboxPath
    }

    /// Waits for the ECU: the control server calls this on a thread of its own.
    func diagnostic(ecu: String, data: [UInt8], timeoutSeconds: Double?) throws -> DiagnosticReply {
        let p2 = timeoutSeconds ?? activeProfile.profile.diagnostics?.ecu(named: ecu)?.responseTimeoutSeconds ?? 0.05
        let answer = diagnosticRequests.ask(ecu: ecu, request: data, timeoutSeconds: p2)
        var reply = DiagnosticReply(ecu: ecu, outcome: .failed, pending: answer.pendingCount, seconds: answer.seconds)
        switch answer.outcome {
        case .positive(let bytes):
            reply.outcome = .positive
            reply.data = bytes
        case .negative(let code, let name):
            reply.outcome = .negative
            reply.nrc = code
            reply.nrcName = name
        case .timedOut(let reason):
            reply.outcome = .timeout
            reply.text = reason
        case .failed(let reason):
            reply.text = reason
        }
        return reply
    }

    func status() throws -> StatusReport {
        let snapshot = state.current
        let profile = activeProfile.profile
        let uptime = monotonicSeconds() - state.startedAt
        let buses = profile.buses.enumerated().map { index, bus in
            busStatus(bus.name, frames: index < snapshot.framesPerBus.count ? snapshot.framesPerBus[index] : 0, uptime: uptime, sourceEnded: snapshot.sourceEnded)
        }
        let link = uplink.current
        let drained = drainer.statistics
        // Rules and events apart, in the profile's own words (`axle profile validate`: "9 rules, 5 events").
        let events = snapshot.rules.filter { $0.kind == "event" }
        let collectionRules = snapshot.rules.filter { $0.kind != "event" }
        return StatusReport(
            version: AxleVersion.current, profile: profile.name, firmware: profile.firmware,
            vehicleID: configuration.vehicleID, pid: getpid(), uptimeSeconds: uptime,
            dataDirectory: configuration.dataDirectory, buses: buses,
            uplink: UplinkStatus(
                state: UplinkStatus.State(rawValue: link.state), broker: uplink.broker, sinceMillis: link.sinceMillis,
                published: UInt64(drained.published), acknowledged: UInt64(drained.acknowledged), inFlight: drained.inFlight,
                lastError: link.lastError),
            outbox: try outbox(),
            collection: CollectionStatus(
                rulesEnabled: collectionRules.filter(\.enabled).count, rulesTotal: collectionRules.count,
                eventsEnabled: events.filter(\.enabled).count, eventsTotal: events.count,
                eventsTriggered: UInt64(snapshot.counters.eventsTriggered)),
            lastErrors: state.recentProblems.map { RecentError(timeMillis: $0.timeMillis, component: $0.component, message: $0.message) },
            location: state.locationStatus.map(Self.locationReport),
            diagnostics: state.diagnosticsStatus.map(diagnosticsReport), configuration: configurationState().report)
    }

    func diagnosticsReport(_ status: DiagnosticsStatus) -> DiagnosticsReport {
        let configured = activeProfile.profile.diagnostics
        return DiagnosticsReport(
            polling: status.polling, frames: status.frames, budgetFramesPerSecond: status.framesPerSecond,
            ecus: status.ecus.map {
                var ecu = DiagnosticsReport.ECU(
                    name: $0.name, requests: $0.requests, answers: $0.answers, refusals: $0.refusals, timeouts: $0.timeouts,
                    silent: $0.silentCount, faults: $0.faults, mil: $0.mil, lastProblem: $0.lastProblem)
                // Where it is, so that `axle diag` on the same interface asks through the agent.
                if let profileECU = configured?.ecu(named: $0.name) {
                    ecu.interface = interfaceName(ofBus: profileECU.bus)
                    ecu.requestID = profileECU.requestID
                    ecu.responseID = profileECU.responseID
                    ecu.protocolName = profileECU.diagnosticProtocol.rawValue
                }
                return ecu
            },
            dm1: status.dm1)
    }

    /// The operating system's interface a logical bus is read from ("simulator" and the log's path for the others).
    private func interfaceName(ofBus bus: String) -> String {
        switch configuration.source {
        case .socketCAN: configuration.canInterfaces[bus] ?? "?"
        case .simulate: "simulator"
        case .replay(let path, _): path
        }
    }

    static func locationReport(_ status: LocationStatus) -> LocationReport {
        LocationReport(
            gpsd: status.gpsd, connected: status.connected, receiver: status.receiver, mode: status.mode,
            satellitesUsed: status.satellitesUsed, satellitesSeen: status.satellitesSeen,
            lastFix: status.lastFix.map {
                LocationReport.Fix(
                    latitude: $0.latitude, longitude: $0.longitude, altitude: $0.altitude, mode: $0.mode, gpsTime: $0.gpsTime,
                    ageSeconds: max(0, monotonicSeconds() - $0.receivedMonotonicSeconds))
            },
            connections: status.connections, skippedLines: status.skippedLines)
    }

    /// A bus as `axle status` shows it: the controller's state where the driver reports one, frames per second over
    /// the agent's life, and the load those frames put on the bus at its bit rate (about 125 bits per 8-byte frame
    /// with stuffing and framing).
    private func busStatus(_ name: String, frames: Int, uptime: Double, sourceEnded: Bool) -> BusStatus {
        let rate = uptime > 0 ? Double(frames) / uptime : 0
        switch configuration.source {
        case .simulate:
            return BusStatus(name: name, interface: "simulator", state: .simulated, frames: UInt64(frames), framesPerSecond: rate, loadPercent: nil, errors: 0)
        case .replay(let path, _):
            return BusStatus(name: name, interface: path, state: sourceEnded ? .ended : .replay, frames: UInt64(frames), framesPerSecond: rate, loadPercent: nil, errors: 0)
        case .socketCAN:
            let interface = configuration.canInterfaces[name] ?? "?"
            let health = BusHealth.read(interface: interface)
            let state: BusStatus.State =
                if !health.exists || !health.isUp { .down } else {
                    switch health.state {
                    case .errorPassive?: .errorPassive
                    case .busOff?: .busOff
                    case .errorActive?, .errorWarning?: .errorActive
                    default: .up
                    }
                }
            let load = health.bitrate.map { Double(frames) / max(uptime, 1) * 125 / Double($0) * 100 }
            let errors = UInt64((health.transmitErrors ?? 0) + (health.receiveErrors ?? 0))
            return BusStatus(name: name, interface: interface, state: state, frames: UInt64(frames), framesPerSecond: rate, loadPercent: load, errors: errors)
        }
    }

    func signals() throws -> SignalsReport {
        let snapshot = state.current
        let active = activeProfile.current
        let profile = active.profile
        let age = monotonicSeconds() - snapshot.takenAt
        let signals = profile.catalog.enumerated().map { index, entry in
            let live = index < snapshot.values.count ? snapshot.values[index] : nil
            return SignalValue(
                name: entry.name, value: live?.value, label: live?.value.flatMap { active.dbcSignals[index]?.label(forPhysical: $0) },
                unit: entry.unit, ageSeconds: live.map { Double(snapshot.nowMicros - $0.timeMicros) / 1e6 + age },
                bus: entry.bus, source: entry.sourceDescription, availability: live?.availability.name)
        }
        return SignalsReport(signals: signals)
    }

    func outbox() throws -> OutboxReport {
        OutboxReport(statistics: try store.statistics(), path: outboxPath, nowMillis: wallClockMillis())
    }

    func events(limit: Int) throws -> EventsReport {
        EventsReport(
            events: state.recentEvents(limit: limit).map {
                EventSummary(name: $0.name, priority: $0.priority, timeMillis: $0.timeMillis, condition: $0.condition, samples: $0.samples, sequence: $0.sequence)
            })
    }

    /// Read from the entitlement store: its active time is at most 10 s behind the feature manager's count.
    func features() throws -> FeaturesReport {
        FeaturesReport(features: try entitlements.all().map { entitlement in
            FeatureSummary(
                feature: entitlement.feature, state: entitlement.state.rawValue, validFromMillis: entitlement.validFromMillis,
                validUntilMillis: entitlement.validUntilMillis, activeSeconds: entitlement.activeSeconds,
                commandID: entitlement.commandID)
        })
    }

    func commands(limit: Int) throws -> CommandsReport {
        CommandsReport(commands: try journal.recent(limit: limit).map { entry in
            CommandSummary(
                id: entry.id, name: entry.name, status: entry.status.rawValue, reason: entry.reason?.rawValue, text: entry.text,
                receivedMillis: entry.receivedAtMillis, updatedMillis: entry.updatedAtMillis, keyID: entry.keyID)
        })
    }

    func rules() throws -> RulesReport {
        RulesReport(rules: ruleSummaries())
    }

    private func ruleSummaries() -> [RuleSummary] {
        let live = state.current.rules
        if !live.isEmpty { return live.map { RuleSummary(name: $0.name, kind: $0.kind, enabled: $0.enabled) } }
        // Before the pipeline's first snapshot: the profile's own settings.
        let profile = activeProfile.profile
        return profile.rules.map { RuleSummary(name: $0.name, kind: Self.kind(of: $0.mode), enabled: $0.enabled) }
            + profile.events.map { RuleSummary(name: $0.name, kind: "event", enabled: $0.enabled) }
    }

    static func kind(of mode: CollectionMode) -> String {
        switch mode {
        case .periodic: "periodic"
        case .onChange: "on-change"
        case .aggregate: "aggregate"
        }
    }

    func setRule(name: String, enabled: Bool) throws -> RuleSummary {
        let profile = activeProfile.profile
        guard let kind = profile.rules.first(where: { $0.name == name }).map({ Self.kind(of: $0.mode) })
            ?? (profile.events.contains { $0.name == name } ? "event" : nil)
        else {
            let known = (profile.rules.map(\.name) + profile.events.map(\.name)).joined(separator: ", ")
            throw ControlFailure(.failed, "no rule or event named '\(name)' in \(profile.name); known: \(known)")
        }
        // The pipeline thread applies it at its next turn (a few milliseconds).
        state.requestRuleChange(AgentState.RuleChange(name: name, enabled: enabled))
        return RuleSummary(name: name, kind: kind, enabled: enabled)
    }
}

extension Agent {
    /// Starts the control socket; a failure (no permission for /run/axle, another agent on the same path) is logged
    /// and the agent runs without one: collecting and sending matter more than the technician's view.
    static func startControlServer(
        _ configuration: AgentConfiguration, state: AgentState, drainer: OutboxDrainer, uplink: UplinkState,
        outbox: OutboxStore, outboxPath: String, commands: RemoteCommandService,
        diagnosticRequests: DiagnosticRequestQueue, activeProfile: ActiveProfile,
        configurationReports: ConfigurationReportBoard, log: AgentLog
    ) -> ControlServer? {
        guard let path = configuration.controlSocketPath else { return nil }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let directory = String(path[..<slash])
            if mkdir(directory, 0o750) != 0, errno != EEXIST {
                log(.warning, "control", "cannot create \(directory): \(SystemError.text(errno: errno)); no control socket (give one with --control-socket)")
                return nil
            }
        }
        let service = AgentControlService(
            configuration: configuration, state: state, drainer: drainer, uplink: uplink, outbox: outbox, outboxPath: outboxPath,
            journal: commands.journal, entitlements: commands.entitlements, diagnosticRequests: diagnosticRequests,
            activeProfile: activeProfile, configurationReports: configurationReports)
        let server = ControlServer(path: path, group: configuration.controlSocketGroup, handler: service)
        do {
            let startup = try server.start()
            if let problem = startup.groupProblem { log(.info, "control", problem) }
            log(.info, "control", "listening on \(path)")
            return server
        } catch {
            log(.warning, "control", "\(error); running without a control socket")
            return nil
        }
    }
}
