// `listgate migrate`: bring the database schema up to this build's migrations.
import ArgumentParser
import ListgateCore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations and print what was applied.",
        discussion: """
            Creates the database if it does not exist. Each migration runs in its own \
            transaction and is recorded with its checksum; a second run applies nothing. \
            Refuses a database whose applied migrations were changed or are unknown to \
            this version. Generates the secret keys on the first run.
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
    }
}
