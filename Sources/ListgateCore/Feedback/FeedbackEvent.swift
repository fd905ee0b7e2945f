// Feedback from senders: what a newsletter sender (or its provider, through a webhook)
// tells listgate happened to a mail it sent — a hard or soft bounce, a spam complaint,
// an unsubscribe it received — so the audience it pulls next time leaves those people
// out. This file is the room's vocabulary, shared by the sender API's feedback route and
// the provider webhooks: both turn what they receive into `FeedbackEvent`s and hand them
// to `Feedback` (docs/design.md, "Feedback from senders").
import Foundation

/// What happened to one mail, as a sender reports it.
public enum FeedbackType: String, Sendable, CaseIterable, Codable {
    case hardBounce = "hard_bounce"
    case softBounce = "soft_bounce"
    case complaint
    case unsubscribe
}

/// Whom a report is about: the stream's opaque `recipient_id` (a sender need not handle
/// addresses), or the address itself (what providers' webhooks carry).
public enum FeedbackRecipient: Sendable, Equatable {
    case recipientID(String)
    case email(String)
}

/// One report. `id` is the sender's (or provider's) own event id: a report whose id was
/// already seen for the list is a duplicate and changes nothing.
public struct FeedbackEvent: Sendable, Equatable {
    public var id: String
    public var type: FeedbackType
    public var recipient: FeedbackRecipient
    public var occurredAt: Date
    /// Flat facts kept in the ledger event (e.g. the SMTP status, the provider's
    /// diagnostic); never an address.
    public var detail: [String: String]

    public init(id: String, type: FeedbackType, recipient: FeedbackRecipient, occurredAt: Date, detail: [String: String] = [:]) {
        self.id = id
        self.type = type
        self.recipient = recipient
        self.occurredAt = occurredAt
        self.detail = detail
    }

    /// Longest event id kept (providers' ids are far shorter).
    public static let maximumIDLength = 200
}

/// What one batch of reports did: the answer of `POST /api/v1/lists/{slug}/feedback`.
public struct FeedbackOutcome: Sendable, Equatable {
    /// Reports applied (including those that found the person already gone: the report
    /// is recorded, the state is unchanged).
    public var accepted = 0
    /// Reports whose id was already seen for the list.
    public var duplicates = 0
    /// Reports naming nobody on the list.
    public var unknown = 0
    /// Reports that could not be read, by their index in the batch.
    public var invalid: [FeedbackProblem] = []

    public init() {}
}

public struct FeedbackProblem: Sendable, Equatable {
    public let index: Int
    public let error: String

    public init(index: Int, error: String) {
        self.index = index
        self.error = error
    }
}
