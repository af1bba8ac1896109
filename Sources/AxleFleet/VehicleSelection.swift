import ArgumentParser
import AxleBase

/// Which vehicles a fleet command addresses: `--vehicle ID` (repeated) or `--vehicles FILE`, in the order given.
/// Shared by `config push` and `config status`.
struct VehicleSelection: ParsableArguments {
    @Option(name: .customLong("vehicle"), help: ArgumentHelp("A vehicle id (repeat for several).", valueName: "id"))
    var vehicleIDs: [String] = []

    @Option(help: ArgumentHelp("A file of vehicle ids, one per line ('#' starts a comment), in rollout order.", valueName: "file"))
    var vehicles: String?

    func validate() throws {
        if vehicleIDs.isEmpty, vehicles == nil { throw ValidationError("give the vehicles with --vehicle ID (repeat) or --vehicles FILE") }
        if !vehicleIDs.isEmpty, vehicles != nil { throw ValidationError("give the vehicles with --vehicle or with --vehicles, not both") }
    }

    /// The selection as options, to suggest a follow-up command: `--vehicles FILE`, or up to three `--vehicle ID`.
    var argumentText: String {
        if let vehicles { return "--vehicles \(vehicles)" }
        return vehicleIDs.count <= 3 ? vehicleIDs.map { "--vehicle \($0)" }.joined(separator: " ") : "--vehicles FILE"
    }

    /// The ids, read from the file if one was given, each checked as a topic level; a duplicate is an error (it
    /// would count twice in a rollout's figures).
    func ids(prefix: String) throws(FleetError) -> [String] {
        let ids = try vehicles.map { path throws(FleetError) in try VehicleListFile.read(path) } ?? vehicleIDs
        var seen: Set<String> = []
        for id in ids {
            _ = try FleetTopics(prefix: prefix, vehicle: id)
            guard seen.insert(id).inserted else {
                throw FleetError.usage("vehicle \(id) is listed twice\(vehicles.map { " in \($0)" } ?? ""); list each vehicle once")
            }
        }
        return ids
    }
}
