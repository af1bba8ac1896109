import AxleBase

// The agent daemon. Until the agent itself lands (issue 5) it only reports its version.
let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--help") || arguments.contains("-h") {
    print("usage: axled [--version]\nThe Axle in-vehicle gateway agent (the pipeline arrives in a later release).")
} else {
    print("axled \(AxleVersion.current)")
}
