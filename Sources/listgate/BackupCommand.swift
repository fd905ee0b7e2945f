// `listgate backup --output FILE`: a consistent copy of the SQLite database, taken while
// `serve` runs (SQLiteStore+Backup.swift says how), put in place whole, owner-only.
import ArgumentParser
import Foundation
import GRDB
import ListgateSQLite
import ListgateCore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the database consistently, even while listgate serve is running (SQLite).",
        discussion: """
            The copy is one moment of the database: every committed change and its ledger \
            events, the outbox, the keys that sign links and hash addresses. Writers are not \
            held up while it is taken. It is written beside FILE and renamed into place when \
            complete, readable by its owner only: it holds every address, so keep it as \
            private as the database. An existing FILE is never replaced unless --force is given.

            The copy opens as it is: `listgate events verify --db FILE` checks its ledger, and \
            to restore it, stop the server and put it in place of the database (README, \
            "Deploy", backups). Events not sealed when it was taken are sealed by the first \
            command or server that uses the copy.

            A PostgreSQL database (a postgres:// URL) is backed up with pg_dump instead.

            Example:
              listgate backup --output /var/backups/listgate/listgate-$(date +%F).sqlite3
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The file to write the copy to.", valueName: "file"))
    var output: String

    @Flag(help: "Replace FILE if it exists.")
    var force = false

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        guard case .sqlite(let source) = database.location else {
            throw CLIError(
                "listgate backup copies an SQLite database; back up PostgreSQL with pg_dump (e.g. pg_dump --format=custom --file FILE DATABASE_URL)")
        }
        guard !output.isEmpty else { throw CLIError("--output needs a file name") }
        let store = try await SQLiteStore.openMigrated(path: source)
        if Self.sameFile(output, source) {
            throw CLIError("\(output) is the database itself; choose another file")
        }
        let file = try PrivateFile(finalPath: output, replacing: force)
        do {
            try store.backup(to: file.pathForWriting)
        } catch {
            throw CLIError("cannot write \(output): \(Self.reason(error))")
        }
        try file.commitWritten()
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print("copied \(source) to \(output) (\(Self.megabytes(size)) MB); check it with: listgate events verify --db \(output)")
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f", Double(bytes) / 1_000_000)
    }

    static func reason(_ error: Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? error.description }
        return "\(error)"
    }
}
