import ArgumentParser

/// `axle simulate`: a simulated vehicle (placeholder until the simulator lands).
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Produce realistic CAN traffic from a DBC and a driving scenario."
    )

    func run() throws {
        throw CLIError("the simulator is not built yet")
    }
}
