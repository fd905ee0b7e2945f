// What the outbox worker and `listgate outbox` may do with storage: queue, claim, settle
// and inspect messages. The worker holds only this (and reads each message's list for
// its sender); nothing here can read the subscriber list.
import Foundation

public protocol OutboxStore: Sendable {
    /// The list a message belongs to, for its sender and footer.
    func list(id: Int64) async throws -> MailingList?

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
