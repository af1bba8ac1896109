import ArgumentParser
import AxleBase

/// `axle-fleet watch`: what a vehicle (or every vehicle) publishes, decoded.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Decode what vehicles publish: telemetry samples, events, status, features, command requests and responses.",
        discussion: """
            Subscribes to TOPIC-PREFIX/VEHICLE/# (VEHICLE may be '+' for every vehicle) and prints one line per \
            sample, event, status, features message, command request and response. A payload that cannot be \
            decoded prints a line of kind 'error' and watching goes on. Runs until SIGINT/SIGTERM, --count \
            messages or --duration seconds. Retained messages (status, features) arrive first.
            Examples:
              axle-fleet watch --broker mqtt://broker:1883 --vehicle demo-001
              axle-fleet watch --broker mqtt://broker:1883 --vehicle + --format jsonl | jq 'select(.kind=="event")'
            """
    )

    @OptionGroup var broker: BrokerOptions

    @Option(help: ArgumentHelp("The vehicle id, or '+' for every vehicle.", valueName: "id"))
    var vehicle: String

    @Option(help: "Output: text or jsonl (one JSON object per line).")
    var format: String = "text"

    @Option(help: ArgumentHelp("Stop after this many MQTT messages.", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    func validate() throws {
        if WatchRenderer.Format(rawValue: format) == nil { throw ValidationError("--format takes text or jsonl, not '\(format)'") }
        if let count, count < 1 { throw ValidationError("--count takes a positive number of messages") }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration takes a positive number of seconds") }
        _ = try validating { () throws(FleetError) in try FleetTopics(prefix: broker.topicPrefix, vehicle: vehicle, allowWildcard: true) }
    }

    func run() throws {
        try reportingFailures {
            let topics = try FleetTopics(prefix: broker.topicPrefix, vehicle: vehicle, allowWildcard: true)
            let renderer = WatchRenderer(prefix: topics.prefix, format: WatchRenderer.Format(rawValue: format) ?? .text)
            let connection = try FleetConnection(configuration: broker.configuration())
            handleTerminationSignals { connection.interrupt() }
            defer { connection.close() }
            let output = TextOutput()
            let errors = TextOutput.standardError()
            defer { output.flush() }
            let started = monotonicSeconds()
            do {
                try connection.connect(timeoutSeconds: 10)
                try connection.subscribe([topics.everything], timeoutSeconds: 10)
            } catch let error as FleetError where error == .interrupted {
                return
            }
            errors.write("watching \(topics.everything) on \(broker.broker)\n")
            let deadline = duration.map { started + $0 } ?? .infinity
            var seen = 0
            while count.map({ seen < $0 }) ?? true {
                // Wake at least every second to report dropped messages; output is flushed whenever the queue is idle.
                switch connection.nextMessage(deadline: min(deadline, monotonicSeconds() + 1)) {
                case .message(let message):
                    seen += 1
                    for line in renderer.lines(for: message) { output.write(line + "\n") }
                    output.flush()
                case .lost(let reason):
                    errors.write("warning: lost the connection to the broker (\(reason)); reconnecting\n")
                case .interrupted:
                    return
                case .timedOut:
                    if monotonicSeconds() >= deadline { return }
                }
                let dropped = connection.takeDroppedCount()
                if dropped > 0 { errors.write("warning: \(dropped) messages dropped: the output could not keep up\n") }
            }
        }
    }
}
