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
    func openMigrated() async throws -> SQLiteStore {
        try await SQLiteStore.openMigrated(path: resolvedPath)
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document on stdout.")
    var json = false
}
