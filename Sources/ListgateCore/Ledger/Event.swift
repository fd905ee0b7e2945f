// The ledger's vocabulary. Every state change is recorded as one Event in the same
// transaction as the change itself (README, invariant 8).
import Foundation

public enum EventType: String, Sendable, Codable, CaseIterable {
    case listCreated = "list_created"
    case listUpdated = "list_updated"
    case listArchived = "list_archived"
    case requested, confirmed, blocked
    case subscriberAdded = "subscriber_added"
    case imported, unsubscribed, resubscribed, bounced, complained
    case suppressed, unsuppressed, forgotten
    case dataExported = "data_exported"
    case tokenCreated = "token_created"
    case tokenRevoked = "token_revoked"
    case snapshotTaken = "snapshot_taken"
    case snapshotApproved = "snapshot_approved"
    case outboxPaused = "outbox_paused"
    case outboxResumed = "outbox_resumed"
    case messageDiscarded = "message_discarded"
    case messageReleased = "message_released"
    /// A soft bounce a sender reported, counted towards the list's policy.
    case softBounced = "soft_bounced"
    case webhookAdded = "webhook_added"
    case webhookRemoved = "webhook_removed"
    case webhookSourceAdded = "webhook_source_added"
    case webhookSourceRemoved = "webhook_source_removed"
    /// A rendered message checked against a snapshot before sending (README, "Before you send").
    case preflightChecked = "preflight_checked"
}

/// Where a change came from: `cli`, `form:/lists/news/subscribe`, `api:token-id`, ...
public struct EventSource: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = String(rawValue.prefix(100)) }
    public static let cli = EventSource("cli")
    public var description: String { rawValue }
}

/// An event about to be appended. People are named only by address hash, never by
/// address, so erasing a person leaves the ledger intact and free of their address.
public struct NewEvent: Sendable {
    public var type: EventType
    public var listID: Int64?
    public var addressHash: String?
    public var source: EventSource
    public var consentVersion: String?
    /// Extra facts as a flat JSON object; never an email address.
    public var detail: [String: String]

    public init(
        _ type: EventType, listID: Int64? = nil, addressHash: String? = nil, source: EventSource,
        consentVersion: String? = nil, detail: [String: String] = [:]
    ) {
        self.type = type
        self.listID = listID
        self.addressHash = addressHash
        self.source = source
        self.consentVersion = consentVersion
        self.detail = detail
    }
}
