// What the feedback room may do with storage: apply checked reports to one list. One
// call may take many transactions (a batch of 100,000 must not hold the writer for
// long), but each report's change, its ledger event and the record of its id commit
// together, so a batch cut short by a crash is finished by sending it again: what was
// applied is then a duplicate.
import Foundation

/// A report `Feedback` has checked, ready for the store.
public struct FeedbackReport: Sendable, Equatable {
    /// Whom it names, as the store looks them up.
    public enum Target: Sendable, Equatable {
        /// The recipients stream's opaque id.
        case recipientID(String)
        /// A normalised address (`EmailAddress.identityKey`); the store hashes it.
        case identityKey(String)
    }

    /// The report's place in the batch it came in (what `FeedbackProblem.index` names).
    public let index: Int
    public let id: String
    public let type: FeedbackType
    public let target: Target
    public let occurredAt: Date
    /// What the ledger event records besides the store's own facts; never an address.
    public let ledgerDetail: [String: String]

    public init(index: Int, id: String, type: FeedbackType, target: Target, occurredAt: Date, ledgerDetail: [String: String]) {
        (self.index, self.id, self.type, self.target, self.occurredAt, self.ledgerDetail) =
            (index, id, type, target, occurredAt, ledgerDetail)
    }
}

public protocol FeedbackStore: Sendable {
    /// Applies `reports` to the list `slug` under its soft-bounce policy, as
    /// `Feedback.apply` describes, with `source` on every event and `date` as the time of
    /// the changes. Counts accepted, duplicate and unknown reports (`invalid` stays
    /// empty: the reports were checked). Throws `DomainError.listNotFound` for no such list.
    func applyFeedback(_ reports: [FeedbackReport], toList slug: ListSlug, source: EventSource, at date: Date) async throws
        -> FeedbackOutcome
}
