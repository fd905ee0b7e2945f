// The outbox's vocabulary. A queued message is already rendered (so retries send the
// same bytes under the same Message-ID) and names exactly one recipient: the type has
// a single EmailAddress and nothing that could hold a second one.
import Foundation

/// The only three kinds of mail listgate sends, each to one person about themselves.
public enum AutoReplyKind: String, Sendable, Codable, CaseIterable {
    case confirmation
    case unsubscribeLink = "unsubscribe_link"
    case receipt
}

public enum OutboxStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for its next attempt.
    case queued
    /// Claimed by the worker; found in this state at start-up, it was interrupted by a
    /// crash and goes back to `queued` (the at-least-once window).
    case sending
    case sent
    /// Given up: a permanent SMTP refusal or too old to be useful. Kept, visible.
    case failed
    /// Refused by the content guard. Never sent, never deleted by the worker.
    case quarantined
    /// Removed from sending by an operator (`listgate outbox discard`).
    case discarded
}

/// A rendered auto-reply, ready to be queued in the same transaction as the change
/// that caused it.
public struct NewOutboxMessage: Sendable {
    public let messageID: String
    public let listID: Int64
    public let kind: AutoReplyKind
    public let recipient: EmailAddress
    public let raw: [UInt8]

    public init(messageID: String, listID: Int64, kind: AutoReplyKind, recipient: EmailAddress, raw: [UInt8]) {
        self.messageID = messageID
        self.listID = listID
        self.kind = kind
        self.recipient = recipient
        self.raw = raw
    }
}

public struct OutboxMessage: Sendable, Equatable {
    public let id: Int64
    public let messageID: String
    public let listID: Int64
    public let kind: AutoReplyKind
    /// The recipient's SMTP path (A-label domain), as stored.
    public let recipient: String
    public let raw: [UInt8]
    public let status: OutboxStatus
    public let attempts: Int
    public let nextAttemptAt: Date
    public let lastError: String?
    public let quarantineReason: String?
    public let createdAt: Date
    public let sentAt: Date?

    package init(
        id: Int64, messageID: String, listID: Int64, kind: AutoReplyKind, recipient: String, raw: [UInt8],
        status: OutboxStatus, attempts: Int, nextAttemptAt: Date, lastError: String?, quarantineReason: String?,
        createdAt: Date, sentAt: Date?
    ) {
        (self.id, self.messageID, self.listID, self.kind, self.recipient, self.raw) = (id, messageID, listID, kind, recipient, raw)
        (self.status, self.attempts, self.nextAttemptAt, self.lastError) = (status, attempts, nextAttemptAt, lastError)
        (self.quarantineReason, self.createdAt, self.sentAt) = (quarantineReason, createdAt, sentAt)
    }
}

/// One message as an operator sees it (`listgate outbox list`): where it stands and why,
/// without its bytes.
public struct OutboxEntry: Sendable, Equatable {
    public let id: Int64
    public let messageID: String
    public let listSlug: String
    public let kind: AutoReplyKind
    /// The recipient's SMTP path, as stored.
    public let recipient: String
    public let status: OutboxStatus
    public let attempts: Int
    /// The last delivery failure (an SMTP reply with addresses redacted, a network or TLS
    /// error, or why it was given up); nil once sent.
    public let lastError: String?
    public let quarantineReason: String?
    public let createdAt: Date
    /// When a queued message is tried next.
    public let nextAttemptAt: Date
    public let sentAt: Date?

    public init(
        id: Int64, messageID: String, listSlug: String, kind: AutoReplyKind, recipient: String, status: OutboxStatus,
        attempts: Int, lastError: String?, quarantineReason: String?, createdAt: Date, nextAttemptAt: Date, sentAt: Date?
    ) {
        self.id = id
        self.messageID = messageID
        self.listSlug = listSlug
        self.kind = kind
        self.recipient = recipient
        self.status = status
        self.attempts = attempts
        self.lastError = lastError
        self.quarantineReason = quarantineReason
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.sentAt = sentAt
    }
}

public struct OutboxSummary: Sendable, Equatable {
    public var counts: [OutboxStatus: Int]
    public var paused: Bool
    public var pauseReason: String?

    package init(counts: [OutboxStatus: Int], paused: Bool, pauseReason: String?) {
        (self.counts, self.paused, self.pauseReason) = (counts, paused, pauseReason)
    }
}
