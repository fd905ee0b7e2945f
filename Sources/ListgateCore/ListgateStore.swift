// The storage boundary. Servers and the CLI talk to these protocols, never to SQL, so a
// PostgreSQL store for multi-instance deployments can be added beside the SQLite one
// (ListgateSQLite). Each room declares what it may do with storage (IntakeStore,
// OutboxStore, SnapshotStore…); a store is all of them, and each consumer is handed only
// its own. Each method is one transaction: a change and its ledger event commit together
// or not at all (README, invariants 6 and 8).
import Foundation

/// Every room's capability at once: what a store implements and what only the
/// composition roots (the CLI's commands, the server's builder) hold.
public typealias ListgateStore = StoreHealth & ListStore & IntakeStore & UnsubscribeStore & PreferencesStore
    & MembershipStore & SenderTokenStore & SnapshotStore & PreflightStore & OutboxStore & SubscriberDataStore & LedgerStore & FeedbackStore
    & WebhookStore & WebhookDeliveryStore
    & WebhookSourceStore & PersonStore

public protocol StoreHealth: Sendable {
    /// Fails with `StoreError.needsMigration` (or a stronger error) unless the database
    /// schema is exactly what this build expects.
    func checkSchema() async throws

    /// True when the database answers a trivial query (for `/healthz`).
    func isHealthy() async -> Bool
}

public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Pending migrations.
    case needsMigration
    /// No database file at that path (a typo, or another working directory).
    case noDatabase(path: String)
    /// The database was migrated by a newer listgate.
    case unknownMigrations([String])
    /// An applied migration's file no longer matches what was applied.
    case migrationChanged(String)
    case migrationFailed(name: String, reason: String)
    case invalidMigrationName(String)
    /// A subscribe request came with a mail to someone other than the address submitted
    /// (a programming error the store refuses rather than sends: invariant 2).
    case mailNotToSubmitter
    /// A stored value no build of listgate writes (the file was edited by hand).
    case unreadableValue(column: String, String)
    /// A `postgres://` database URL that cannot be used as written (the reason says why;
    /// it never repeats the password).
    case invalidDatabaseURL(String)
    /// The database server could not be reached or refused us (address, credentials,
    /// database name): said at once, never waited on without end.
    case unreachable(String)
    /// The database did not answer in time, or went away: the server answers 503 and
    /// the request can be retried; nothing was acknowledged.
    case unavailable(String)

    public var description: String {
        switch self {
        case .needsMigration:
            "database needs migration: run listgate migrate"
        case .noDatabase(let path):
            "no database at \(path) (create it with: listgate migrate --db \(path))"
        case .unknownMigrations(let names):
            "the database has migrations this listgate does not know (\(names.joined(separator: ", "))): "
                + "it was migrated by a newer version; use that version or restore a backup"
        case .migrationChanged(let name):
            "migration \(name) has changed since it was applied (checksum differs): "
                + "restore the original file and add changes as a new migration"
        case .migrationFailed(let name, let reason):
            "migration \(name) failed and was rolled back: \(reason)"
        case .invalidMigrationName(let name):
            "migration file name '\(name)' does not match NNNN_name.sql"
        case .unreadableValue(let column, let text):
            "the database holds '\(text.printable)' in \(column), which listgate never writes"
        case .invalidDatabaseURL(let reason):
            "invalid database URL: \(reason) (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
                + "[?sslmode=disable|prefer|require|verify-full], or a SQLite file path)"
        case .unreachable(let reason):
            "cannot connect to the database: \(reason)"
        case .unavailable(let reason):
            "the database is unavailable: \(reason)"
        case .mailNotToSubmitter:
            "refused: a subscribe request's mail must go to the address submitted, and to no one else"
        }
    }
}
