// The `listgate` command tree. Each subcommand is a thin shell: parse, call the core,
// print. Rules live in ListgateCore.
import ArgumentParser

struct Listgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listgate",
        abstract: "Subscription and unsubscribe manager for mailing lists.",
        discussion: """
            listgate takes subscribe and unsubscribe requests from web forms, mails \
            confirmations only to the person who asked, and serves frozen, counted \
            audiences to a separate newsletter sender. It never sends newsletters.

            Configuration comes from flags, then environment variables (LISTGATE_DB, \
            LISTGATE_HOST, LISTGATE_PORT, ...), then defaults.
            """,
        subcommands: [MigrateCommand.self, ServeCommand.self, ListsCommand.self, OutboxCommand.self, TokensCommand.self,
                      SubscribersCommand.self, SuppressionsCommand.self, ImportCommand.self, ExportCommand.self,
                      EventsCommand.self, SnapshotsCommand.self, PreflightCommand.self, ConsentCommand.self, BackupCommand.self,
                      WebhooksCommand.self]
    )
}
