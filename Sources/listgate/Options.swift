// Options shared by every command that touches the database.
import ArgumentParser
import Foundation
import ListgateCore

struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp(
        "SQLite database file, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (env LISTGATE_DB; default ./listgate.sqlite3).",
        valueName: "path-or-url"))
    var path: String?

    var resolvedPath: String {
        SettingsSource().databasePath(flag: path)
    }

    var location: DatabaseLocation { DatabaseLocation(resolvedPath) }

    /// The database, refusing one that is missing, unmigrated or from a newer version.
    /// Events the command appends are sealed when it exits (LedgerSealing), unless it
    /// only inspects the ledger (`events verify`) or seals by itself.
    func openMigrated(sealingOnExit: Bool = true) async throws -> any ListgateStore {
        let store = try await location.openMigrated()
        if sealingOnExit { LedgerSealing.remember(store) }
        return store
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document on stdout.")
    var json = false
}
