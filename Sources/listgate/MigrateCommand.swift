// `listgate migrate`: bring the database schema up to this build's migrations.
import ArgumentParser
import ListgateCore
import ListgateSQLite

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations and print what was applied.",
        discussion: """
            Creates the database if it does not exist. Each migration runs in its own \
            transaction and is recorded with its checksum; a second run applies nothing. \
            Refuses a database whose applied migrations were changed or are unknown to \
            this version. Generates the secret keys on the first run. Then reports, on \
            stderr, every stored address that this version no longer accepts (such as a \
            quoted local part); those rows are kept as they are for you to review.
            """
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let store = try SQLiteStore(path: database.resolvedPath)
        let applied = try await store.migrate()
        if applied.isEmpty {
            print("database is up to date; no migrations applied (\(database.resolvedPath))")
        } else {
            for name in applied { print("applied \(name)") }
            print("database is up to date (\(database.resolvedPath))")
        }
        try await reportRefusedAddresses(store)
    }

    /// Warns about rows whose address the current grammar refuses. A warning, not an
    /// error: the schema is up to date and every command works; rewriting the address
    /// could merge two people, so that choice is left to the operator.
    private func reportRefusedAddresses(_ store: SQLiteStore) async throws {
        let refused = try await store.refusedStoredAddresses()
        guard !refused.isEmpty else { return }
        for row in refused.prefix(Self.maximumWarnings) {
            let hint = switch row.table {
            case "outbox": "outbox discard \(row.rowID)"
            case "lists", "list_allowed_addresses": "the list's sender addresses"
            // The CLI no longer takes such an address as input, so it cannot be named there.
            default: "its row with the sqlite3 tool; mail to it is quarantined, never sent"
            }
            Console.writeStderr("warning: address row \(row.rowID) (\(row.table)) no longer accepted: \(row.reason); "
                + "it is kept as is — review it (e.g. \(hint))\n")
        }
        if refused.count > Self.maximumWarnings {
            Console.writeStderr("warning: … and \(refused.count - Self.maximumWarnings) more rows like these\n")
        }
        let noun = refused.count == 1 ? "address row is" : "address rows are"
        Console.writeStderr("warning: \(refused.count) stored \(noun) no longer accepted and kept as is\n")
    }

    /// Enough to see what kind of rows they are without burying the terminal.
    private static let maximumWarnings = 1_000
}
