import ArgumentParser

// The agent daemon: `AxledCommand` turns flags into an `AgentConfiguration` and runs `Agent`.
AxledCommand.main()
