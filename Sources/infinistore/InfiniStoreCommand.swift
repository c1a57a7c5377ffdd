import ArgumentParser

@main
struct InfiniStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infinistore",
        abstract: "Elastic, erasure-coded object storage behind a Redis endpoint.",
        subcommands: [ServeCommand.self, NodeCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
