// What an admin can do to one person's membership from the CLI: add, remove, find,
// suppress, forget. Admins can never cause mail, and never bring back anyone who left
// or was suppressed: only the person's own double opt-in does that (README,
// "Subscribers, suppressions and erasure").
import Foundation

/// A subscription's state: `pending` → `active` → `unsubscribed` (or `bounced`, `complained`).
public enum SubscriptionStatus: String, Sendable, Codable, CaseIterable {
    case pending, active, unsubscribed, bounced, complained

    /// States an admin may never turn back into `pending` or `active`.
    public var hasLeft: Bool { self == .unsubscribed || self == .bounced || self == .complained }
}

/// Why an address must not be mailed or (re)activated.
public enum SuppressionReason: String, Sendable, Codable, CaseIterable {
    /// The person left the list (any route). Keeps imports and admins out; their own
    /// double opt-in may still bring them back.
    case unsubscribed
    /// "This was not me" on a confirmation mail: never mail again.
    case blocked
    /// A sender reported that mail to the address bounces. Keeps imports and admins out;
    /// the person's own double opt-in brings them back, its confirmation mail being the
    /// proof that mail reaches them again.
    case bounced
    /// A sender reported a spam complaint: like a "not me", never mail again (confirmations
    /// included) until an admin lifts it.
    case complained
    /// `listgate suppressions add`: never mail again.
    case admin
    /// `listgate subscribers forget`: the person's data was erased; only this hash is left.
    case forgotten

    /// Whether this suppression also stops confirmation mail (not only admin adds and imports).
    public var stopsMail: Bool { self == .blocked || self == .admin || self == .complained }
}

/// What `listgate subscribers add` asks for; validated on construction.
public struct NewSubscriber: Sendable {
    public let address: EmailAddress
    public let list: ListSlug
    public let name: String?
    /// true: active at once (the admin vouches for consent given elsewhere); false:
    /// pending, and no mail is sent.
    public let confirmed: Bool

    public init(address: EmailAddress, list: ListSlug, name: String? = nil, confirmed: Bool) throws(DomainError) {
        self.address = address
        self.list = list
        self.name = try Intake.validName(name)
        self.confirmed = confirmed
    }
}

public enum AddSubscriberOutcome: Sendable, Equatable {
    /// A new subscription in this state.
    case added(SubscriptionStatus)
    /// A pending subscription was made active (`--confirmed`).
    case activated
    /// Nothing changed: already in this state (active, or pending without `--confirmed`).
    case unchanged(SubscriptionStatus)
}

/// One list an address is on, for `listgate subscribers find`.
public struct SubscriptionRecord: Sendable, Equatable {
    public let listSlug: String
    /// The address as stored (as first entered).
    public let email: String
    public let status: SubscriptionStatus
    public let name: String?
    public let updatedAt: Date

    public init(listSlug: String, email: String, status: SubscriptionStatus, name: String?, updatedAt: Date) {
        self.listSlug = listSlug
        self.email = email
        self.status = status
        self.name = name
        self.updatedAt = updatedAt
    }
}

/// One row of `listgate suppressions list`.
public struct SuppressionRecord: Sendable, Equatable {
    /// The address, when listgate still stores it; nil after `forget` or when the
    /// address was suppressed without ever being stored.
    public let email: String?
    public let addressHash: String
    /// nil: every list.
    public let listSlug: String?
    public let reason: SuppressionReason
    public let createdAt: Date

    public init(email: String?, addressHash: String, listSlug: String?, reason: SuppressionReason, createdAt: Date) {
        self.email = email
        self.addressHash = addressHash
        self.listSlug = listSlug
        self.reason = reason
        self.createdAt = createdAt
    }
}

public enum SuppressOutcome: Sendable, Equatable {
    case added
    /// A suppression that only kept admins and imports out (`unsubscribed`, `forgotten`)
    /// now also stops every mail (`admin`).
    case strengthened(from: SuppressionReason)
    /// A suppression that stops mail was already there; it is kept as it was.
    case alreadySuppressed(SuppressionReason)
}

public struct SuppressResult: Sendable, Equatable {
    public let outcome: SuppressOutcome
    /// Slugs of the lists whose pending or active subscription this ended.
    public let unsubscribedFrom: [String]
    /// Messages to the address that were still queued (a confirmation waiting for a retry,
    /// or held while sending is paused) and are now discarded.
    public let discardedMessages: Int

    public init(outcome: SuppressOutcome, unsubscribedFrom: [String], discardedMessages: Int = 0) {
        self.outcome = outcome
        self.unsubscribedFrom = unsubscribedFrom
        self.discardedMessages = discardedMessages
    }
}

/// What `listgate subscribers forget` erased.
public struct ForgetReport: Sendable, Equatable {
    /// Rows deleted from `addresses`: the address itself and every +tag spelling of the
    /// same mailbox (one mailbox, one person).
    public let addresses: Int
    public let subscriptions: Int
    public let submissions: Int
    public let outboxMessages: Int
    public let snapshotEntries: Int
    /// The global suppression that now keeps the person out; `.forgotten` unless a
    /// stronger one (e.g. `admin`) was already there.
    public let suppression: SuppressionReason
    /// Whether the write-ahead log was checkpointed and emptied, so no copy of the erased
    /// rows is left in it. False when another process was reading at that moment.
    public let walTruncated: Bool

    public init(
        addresses: Int, subscriptions: Int, submissions: Int, outboxMessages: Int, snapshotEntries: Int,
        suppression: SuppressionReason, walTruncated: Bool
    ) {
        self.addresses = addresses
        self.subscriptions = subscriptions
        self.submissions = submissions
        self.outboxMessages = outboxMessages
        self.snapshotEntries = snapshotEntries
        self.suppression = suppression
        self.walTruncated = walTruncated
    }

    /// False when listgate stored nothing about the address.
    public var erasedAnything: Bool {
        addresses + subscriptions + submissions + outboxMessages + snapshotEntries > 0
    }

    /// The same report with the checkpoint's result.
    public func with(walTruncated: Bool) -> ForgetReport {
        ForgetReport(
            addresses: addresses, subscriptions: subscriptions, submissions: submissions, outboxMessages: outboxMessages,
            snapshotEntries: snapshotEntries, suppression: suppression, walTruncated: walTruncated)
    }
}

/// Membership requests an admin may make but listgate refuses. Each description is one
/// line for a person; the CLI prints it after `error: `.
public enum MembershipError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Suppressed for this list (`list` non-nil) or everywhere (`list` nil).
    case suppressed(address: String, list: String?, reason: SuppressionReason)
    /// The person left (or bounced, or complained); an admin cannot bring them back.
    case cannotReactivate(address: String, list: String, status: SubscriptionStatus)
    /// `subscribers remove` of an address that is not pending or active on the list.
    case notOnList(address: String, list: String, status: SubscriptionStatus?)
    case notSuppressed(address: String, list: String?)
    /// Lifting the suppression left by `forget` needs an explicit `--forgotten`.
    case forgottenNeedsConfirmation(address: String, list: String?)

    public var description: String {
        switch self {
        case .suppressed(let address, let list, let reason) where reason.stopsMail:
            "\(address.printable) is suppressed \(Self.scope(list)) (\(Self.why(reason))): it cannot be added and gets "
                + "no mail; lift the suppression only at the person's request (listgate suppressions remove)"
        case .suppressed(let address, let list, let reason):
            "\(address.printable) is suppressed \(Self.scope(list)) (\(Self.why(reason))): an admin cannot add it; "
                + "only the person's own double opt-in can subscribe them again"
        case .cannotReactivate(let address, let list, let status):
            "\(address.printable) is \(status.rawValue) on '\(list)': an admin cannot make it active or pending again; "
                + "only the person's own double opt-in can do that"
        case .notOnList(let address, let list, let status):
            if let status {
                "\(address.printable) is not on list '\(list)' (it is \(status.rawValue) already)"
            } else {
                "\(address.printable) is not on list '\(list)'"
            }
        case .notSuppressed(let address, let list):
            "\(address.printable) is not suppressed \(Self.scope(list))"
        case .forgottenNeedsConfirmation(let address, let list):
            "\(address.printable) was erased with `subscribers forget`; this suppression \(Self.scope(list)) is what keeps "
                + "imports and admins from bringing the person back. Pass --forgotten to remove it anyway"
        }
    }

    private static func scope(_ list: String?) -> String {
        list.map { "for list '\($0)'" } ?? "on every list"
    }

    private static func why(_ reason: SuppressionReason) -> String {
        switch reason {
        case .unsubscribed: "they unsubscribed"
        case .blocked: "they said a confirmation mail was not for them"
        case .bounced: "mail to it bounced"
        case .complained: "they complained"
        case .admin: "an admin suppressed it"
        case .forgotten: "the person was erased with subscribers forget"
        }
    }
}
