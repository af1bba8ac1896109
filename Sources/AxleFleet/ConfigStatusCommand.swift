import ArgumentParser
import AxleBase
import ConfigBundle
import MQTTUplink

/// `axle-fleet config status`: where each listed vehicle stands, from its retained configuration report.
struct ConfigStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the listed vehicles grouped by active version and the status of the last version they received.",
        discussion: """
            Subscribes to TOPIC-PREFIX/VEHICLE/config/state for each vehicle and reads the retained reports; returns \
            as soon as every vehicle has one, or at --timeout. Vehicles with no report are counted as NO_REPORT. \
            With --json: one document {"listed", "reported", "groups": [{"active_version", "last_version", \
            "status", "reason", "count", "vehicles"}], "vehicles": [{"vehicle", "status", …, "report"}]}. \
            Exit codes: 0 the table was printed (whatever the vehicles report); 3 the broker could not be reached.
            Example:
              axle-fleet config status --broker mqtt://broker:1883 --vehicles fleet.txt
            """
    )

    @OptionGroup var broker: BrokerOptions
    @OptionGroup var selection: VehicleSelection

    @Option(help: ArgumentHelp("How long to wait for the reports: 500ms, 5s.", valueName: "duration"))
    var timeout: String = "5s"

    @Flag(help: "Print one JSON document.")
    var json = false

    func validate() throws {
        _ = try validating { () throws(FleetError) in try DurationText.parse(timeout, option: "--timeout") }
    }

    func run() throws {
        try reportingFailures {
            let ids = try selection.ids(prefix: broker.topicPrefix)
            let prefix = try FleetTopics(prefix: broker.topicPrefix, vehicle: ids[0]).prefix
            let waitSeconds = Double(try DurationText.parse(timeout, option: "--timeout")) / 1000
            let connection = try FleetConnection(configuration: broker.configuration())
            handleTerminationSignals { connection.interrupt() }
            defer { connection.close() }
            var topicVehicle: [String: String] = [:]
            for id in ids { topicVehicle[ConfigurationTopics(prefix: prefix, vehicleID: id).state] = id }
            let started = monotonicSeconds()
            try connection.connect(timeoutSeconds: 10)
            try connection.subscribe(ids.map { ConfigurationTopics(prefix: prefix, vehicleID: $0).state }, timeoutSeconds: 10)
            var entries: [String: ConfigurationStatusTable.Entry] = [:]
            let deadline = started + waitSeconds
            collecting: while entries.count < ids.count {
                switch connection.nextMessage(deadline: deadline) {
                case .message(let message):
                    // An empty retained payload is a cleared report: the vehicle stays without one.
                    guard let vehicle = topicVehicle[message.topic], !message.payload.isEmpty else { continue }
                    do {
                        let raw = try JSONValue.parse(String(decoding: message.payload, as: UTF8.self))
                        entries[vehicle] = .report(try ConfigurationReport.parse(raw), raw: raw)
                    } catch {
                        entries[vehicle] = .unreadable("\(error)")
                    }
                case .lost(let reason):
                    TextOutput.standardError().write("warning: lost the connection to the broker (\(reason)); reconnecting\n")
                case .interrupted:
                    throw FleetError.interrupted
                case .timedOut:
                    break collecting
                }
            }
            let table = ConfigurationStatusTable(vehicles: ids, entries: entries)
            let output = TextOutput()
            output.write(json ? table.json.rendered(indent: 2) + "\n" : table.text)
            output.flush()
        }
    }
}
