// `listgate webhooks`: the parent of the webhook commands. On this branch it holds only
// `inbound` (providers reporting bounces and complaints, InboundWebhooksCommand.swift).
import ArgumentParser

struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Manage webhooks.",
        subcommands: [InboundWebhooksCommand.self]
    )
}
