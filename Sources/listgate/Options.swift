// Options shared by every command that touches the database.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateSQLite

struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp(
        "SQLite database file (env LISTGATE_DB; default ./listgate.sqlite3).", valueName: "path"))
    var path: String?

    var resolvedPath: String {
        SettingsSource().databasePath(flag: path)
    }

    /// The database, refusing one that is missing, unmigrated or from a newer version.
    /// Events the command appends are sealed when it exits (LedgerSealing), unless it
    /// only inspects the ledger (`events verify`) or seals by itself.
    func openMigrated(sealingOnExit: Bool = true) async throws -> SQLiteStore {
        let store = try await SQLiteStore.openMigrated(path: resolvedPath)
        if sealingOnExit { LedgerSealing.remember(store) }
        return store
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document on stdout.")
    var json = false
}
