// Bulk data in and out (`listgate import`, `listgate export`).
// An import commits in batches and merges idempotently, so it is resumable: after an
// interruption, running the same file again finishes the job without duplicating
// anything. Nothing here can queue mail.
import Foundation

public protocol SubscriberDataStore: Sendable {
    /// Merges every valid row of `reader` into the list: new addresses are added, known
    /// ones updated only where the row may change them; suppressed addresses and people
    /// who left are never (re)activated. Each change is recorded as an `imported` event
    /// carrying its consent note. Bad rows go to `problem` and are skipped.
    /// Fails with `DomainError.listNotFound` before reading any row.
    func importSubscribers(
        from reader: SubscriberFileReader, options: ImportOptions, problem: (ImportProblem) -> Void,
        progress: (TransferProgress) -> Void
    ) async throws -> ImportSummary

    /// Streams the list's subscriptions (in the order their addresses were first
    /// recorded) with the columns list, email,
    /// name, status, subscribed_at, unsubscribed_at, source. Returns the rows written.
    func exportSubscribers(
        list: ListSlug, status: ExportStatusFilter, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int

    /// Streams the ledger (oldest first): every event, or one list's, from `since` on.
    func exportEvents(
        list: ListSlug?, since: Date?, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int
}
