// `listgate migrate`: bring the database schema up to this build's migrations.
import ArgumentParser
import ListgateCore
import ListgatePostgres
import ListgateSQLite

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations and print what was applied.",
        discussion: """
            Creates an SQLite database if it does not exist (a PostgreSQL database must \
            exist: CREATE DATABASE). Each migration is applied in a transaction and \
            recorded with its checksum; a second run applies nothing, and two hosts \
            migrating one PostgreSQL database at once apply each migration once. \
            Refuses a database whose applied migrations were changed or are unknown to \
            this version. Generates the secret keys on the first run. Then reports, on \
            stderr, every stored address that this version no longer accepts (such as a \
            quoted local part); those rows are kept as they are for you to review.
            """
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let location = database.location
        let applied: [String]
        let audit: any AddressAuditStore
        switch location {
        case .sqlite(let path):
            let store = try SQLiteStore(path: path)
            applied = try await store.migrate()
            audit = store
        case .postgres(let url):
            // Safe with another host migrating at once: the second waits for the first.
            let store = try await PostgresStore.open(url: url)
            applied = try await store.migrate()
            audit = store
        }
        if applied.isEmpty {
            print("database is up to date; no migrations applied (\(location.shown))")
        } else {
            for name in applied { print("applied \(name)") }
            print("database is up to date (\(location.shown))")
        }
        try await reportRefusedAddresses(audit)
    }

    /// Warns about rows whose address the current grammar refuses. A warning, not an
    /// error: the schema is up to date and every command works; rewriting the address
    /// could merge two people, so that choice is left to the operator.
    private func reportRefusedAddresses(_ store: any AddressAuditStore) async throws {
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
