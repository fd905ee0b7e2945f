// Which store a `--db` / LISTGATE_DB value names: a `postgres://` or `postgresql://` URL
// selects PostgreSQL (README, "Running on PostgreSQL"); anything else is the path of the
// embedded SQLite file (`sqlite:PATH` also), the default.
import Foundation
import ListgateCore
import ListgatePostgres
import ListgateSQLite

enum DatabaseLocation: Equatable {
    case sqlite(path: String)
    case postgres(url: String)

    init(_ text: String) {
        if PostgresURL.isPostgres(text) {
            self = .postgres(url: text)
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else {
            self = .sqlite(path: text)
        }
    }

    /// For messages: the path, or the URL without its password.
    var shown: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let url): (try? PostgresURL(url).redacted) ?? "the PostgreSQL database"
        }
    }

    /// The database, refusing one that is missing, unmigrated or from a newer version.
    /// `checkpoints`: SQLite's log checkpoints (`.inBackground` for `serve`).
    func openMigrated(checkpoints: LogCheckpoints = .inCommits) async throws -> any ListgateStore {
        switch self {
        case .sqlite(let path):
            return try await SQLiteStore.openMigrated(path: path, checkpoints: checkpoints)
        case .postgres(let url):
            let settings = SettingsSource()
            var store = try await PostgresStore.openMigrated(url: url, deadline: try settings.databaseTimeout())
            store.claimLease = try settings.outboxLease()
            return store
        }
    }
}
