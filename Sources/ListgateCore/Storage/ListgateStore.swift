// The storage boundary. Servers and the CLI talk to this protocol, never to SQL, so a
// PostgreSQL store for multi-instance deployments can be added beside the SQLite one.
// Each method is one transaction: a change and its ledger event commit together or
// not at all (README, invariants 6 and 8).
import Foundation

public protocol ListgateStore: IntakeStore, UnsubscribeStore, PreferencesStore, MembershipStore, SenderTokenStore, SnapshotStore,
    SubscriberDataStore, LedgerStore {
    /// Fails with `StoreError.needsMigration` (or a stronger error) unless the database
    /// schema is exactly what this build expects.
    func checkSchema() async throws

    /// True when the database answers a trivial query (for `/healthz`).
    func isHealthy() async -> Bool

    // MARK: Lists

    func createList(_ list: NewList, source: EventSource) async throws -> MailingList
    /// One `list_updated` event with each changed field; nothing when nothing changes.
    func updateList(_ slug: ListSlug, _ change: ListChange, source: EventSource) async throws
        -> (list: MailingList, changed: [ListFieldChange])
    /// Fails with `DomainError.listArchived` when it already is.
    func archiveList(_ slug: ListSlug, source: EventSource) async throws -> MailingList
    func allLists() async throws -> [MailingList]
    func list(_ slug: ListSlug) async throws -> MailingList?
    func memberCounts(listID: Int64) async throws -> MemberCounts
    func list(id: Int64) async throws -> MailingList?

    // MARK: Outbox

    /// Queues one rendered auto-reply on its own. Services that change state queue
    /// their mail inside their own transaction instead.
    func enqueue(_ message: NewOutboxMessage) async throws -> Int64
    /// Moves up to `limit` due messages of one side from `queued` to `sending`, oldest
    /// first, and returns them. The sides are confirmations and the mail that lets people
    /// leave (unsubscribe links, receipts): the worker claims the leavers' first, so a
    /// flood of sign-ups held at the ceiling never delays them (OutboxWorker.ceilingAllowance).
    func claimDueMessages(now: Date, limit: Int, confirmations: Bool) async throws -> [OutboxMessage]
    /// Puts messages left in `sending` (by a crash, or a pause mid-batch) back in the queue.
    func requeueClaimed(ids: [Int64]?) async throws -> Int
    func markSent(_ id: Int64, at date: Date) async throws
    func scheduleRetry(_ id: Int64, error: String, at next: Date) async throws
    func markFailed(_ id: Int64, error: String) async throws
    func quarantine(_ id: Int64, reason: String) async throws
    func outboxSummary() async throws -> OutboxSummary
    /// A single settings read: the worker asks before every message.
    func isOutboxPaused() async throws -> Bool
    func messages(status: OutboxStatus) async throws -> [OutboxMessage]
    /// The newest `limit` messages, of one state or of every state, newest first.
    func outboxEntries(status: OutboxStatus?, limit: Int) async throws -> [OutboxEntry]
    /// How many messages were queued since `date` (the ceiling's warning).
    func messagesQueued(since date: Date) async throws -> Int
    /// How many messages were sent since `date`: the mail ceiling counts these.
    func messagesSent(since date: Date) async throws -> Int
    /// Pausing is kept in the database so every process sees it at once.
    func setOutboxPaused(_ paused: Bool, reason: String?, source: EventSource) async throws
    func discardMessage(_ id: Int64, source: EventSource) async throws
    /// Returns a quarantined message to the queue after it passed the guard again.
    func releaseQuarantined(_ id: Int64, source: EventSource) async throws
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
        case .mailNotToSubmitter:
            "refused: a subscribe request's mail must go to the address submitted, and to no one else"
        }
    }
}
