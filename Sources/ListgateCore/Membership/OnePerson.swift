// One person, whole: what listgate holds on one address, for the admin's CLI
// (`listgate subscribers find | history | export`) and never for an HTTP route, which must
// not tell anyone whether an address is known (README, invariant 7).
import Foundation

/// Where one auto-reply stands, in the words an admin answering "I never got the mail"
/// needs: a message that was tried and will be tried again is `deferred`.
public enum MailState: String, Sendable, Equatable {
    case queued, sent, deferred, failed, quarantined, discarded
    /// No mail was sent for this request (it was erased with the outbox, or never queued).
    case none

    public init(status: OutboxStatus, attempts: Int) {
        switch status {
        case .queued, .sending: self = attempts > 0 ? .deferred : .queued
        case .sent: self = .sent
        case .failed: self = .failed
        case .quarantined: self = .quarantined
        case .discarded: self = .discarded
        }
    }
}

/// A subscription of the address, as stored.
public struct PersonSubscription: Sendable, Equatable {
    public let listSlug: String
    /// The address as first entered.
    public let email: String
    public let name: String?
    public let status: SubscriptionStatus
    /// form, admin or import.
    public let source: String
    public let createdAt: Date
    public let updatedAt: Date
    public let subscribedAt: Date?
    public let unsubscribedAt: Date?

    public init(
        listSlug: String, email: String, name: String?, status: SubscriptionStatus, source: String, createdAt: Date,
        updatedAt: Date, subscribedAt: Date?, unsubscribedAt: Date?
    ) {
        self.listSlug = listSlug
        self.email = email
        self.name = name
        self.status = status
        self.source = source
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.subscribedAt = subscribedAt
        self.unsubscribedAt = unsubscribedAt
    }
}

/// A subscribe request from a form, and its confirmation mail.
public struct ConfirmationRequest: Sendable, Equatable {
    public let listSlug: String
    public let email: String
    public let name: String?
    /// pending, confirmed, blocked, expired or superseded.
    public let status: String
    public let requestedAt: Date
    public let expiresAt: Date
    public let decidedAt: Date?
    public let consentVersion: String?
    /// The client's network (/24 or /48), never its full address.
    public let clientNetwork: String?
    public let userAgent: String?
    public let mail: MailState
    public let mailSentAt: Date?
    public let messageID: String?

    public init(
        listSlug: String, email: String, name: String?, status: String, requestedAt: Date, expiresAt: Date,
        decidedAt: Date?, consentVersion: String?, clientNetwork: String?, userAgent: String?, mail: MailState,
        mailSentAt: Date?, messageID: String?
    ) {
        self.listSlug = listSlug
        self.email = email
        self.name = name
        self.status = status
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
        self.decidedAt = decidedAt
        self.consentVersion = consentVersion
        self.clientNetwork = clientNetwork
        self.userAgent = userAgent
        self.mail = mail
        self.mailSentAt = mailSentAt
        self.messageID = messageID
    }

    /// Still waiting for the person's click at `now`.
    public func isLive(at now: Date) -> Bool { status == "pending" && expiresAt > now }
}

/// A suppression that covers the address.
public struct PersonSuppression: Sendable, Equatable {
    /// nil: every list.
    public let listSlug: String?
    public let reason: SuppressionReason
    public let since: Date
    /// Recorded for the address's mailbox (every +tag of it), not for this spelling.
    public let ofMailbox: Bool

    public init(listSlug: String?, reason: SuppressionReason, since: Date, ofMailbox: Bool) {
        self.listSlug = listSlug
        self.reason = reason
        self.since = since
        self.ofMailbox = ofMailbox
    }
}

/// One ledger event about the person.
public struct LedgerEntry: Sendable, Equatable {
    public let id: Int64
    public let occurredAt: Date
    public let type: String
    public let listSlug: String?
    public let source: String
    public let consentVersion: String?
    /// The event's facts (string values; a nested value as its JSON text).
    public let detail: [String: String]
    /// Its hash in the chain; nil until the sealer has sealed it (a second or two).
    public let hash: String?

    public init(
        id: Int64, occurredAt: Date, type: String, listSlug: String?, source: String, consentVersion: String?,
        detail: [String: String], hash: String?
    ) {
        self.id = id
        self.occurredAt = occurredAt
        self.type = type
        self.listSlug = listSlug
        self.source = source
        self.consentVersion = consentVersion
        self.detail = detail
        self.hash = hash
    }

    public var clientNetwork: String? { detail["client_network"] }
}

/// One auto-reply to the person. Its bytes are not part of it: they repeat the archived
/// wording with the person's address and live links (a confirm or unsubscribe link is a
/// credential, and a disclosure document travels).
public struct PersonMail: Sendable, Equatable {
    public let listSlug: String
    public let kind: AutoReplyKind
    public let messageID: String
    public let state: MailState
    public let attempts: Int
    public let createdAt: Date
    public let updatedAt: Date
    public let sentAt: Date?
    /// For a confirmation, the consent version of the request it was sent for.
    public let consentVersion: String?

    public init(
        listSlug: String, kind: AutoReplyKind, messageID: String, state: MailState, attempts: Int, createdAt: Date,
        updatedAt: Date, sentAt: Date?, consentVersion: String?
    ) {
        self.listSlug = listSlug
        self.kind = kind
        self.messageID = messageID
        self.state = state
        self.attempts = attempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.sentAt = sentAt
        self.consentVersion = consentVersion
    }
}

/// The person's line in an audience snapshot a sender took.
public struct PersonSnapshotEntry: Sendable, Equatable {
    public let listSlug: String
    public let snapshotID: String
    public let takenAt: Date
    public let email: String
    public let name: String?

    public init(listSlug: String, snapshotID: String, takenAt: Date, email: String, name: String?) {
        self.listSlug = listSlug
        self.snapshotID = snapshotID
        self.takenAt = takenAt
        self.email = email
        self.name = name
    }
}

/// What `subscribers find` reads: the address's subscriptions, requests and suppressions.
public struct PersonStanding: Sendable, Equatable {
    public let subscriptions: [PersonSubscription]
    public let requests: [ConfirmationRequest]
    public let suppressions: [PersonSuppression]

    public init(subscriptions: [PersonSubscription], requests: [ConfirmationRequest], suppressions: [PersonSuppression]) {
        self.subscriptions = subscriptions
        self.requests = requests
        self.suppressions = suppressions
    }

    public var isEmpty: Bool { subscriptions.isEmpty && requests.isEmpty && suppressions.isEmpty }

    /// Erased by `subscribers forget`: only its keyed hash is left, as a suppression.
    public var isForgotten: Bool { suppressions.contains { $0.listSlug == nil && $0.reason == .forgotten } }

    /// One row per list the address touches at `now` (a request counts while it is live),
    /// plus a first row, `listSlug` nil, for a suppression on every list. A list's own
    /// suppression comes before its mailbox's.
    public func rows(at now: Date) -> [Row] {
        var slugs = Set(subscriptions.map(\.listSlug))
        let live = requests.filter { $0.isLive(at: now) }
        slugs.formUnion(live.map(\.listSlug))
        slugs.formUnion(suppressions.compactMap(\.listSlug))
        func suppression(_ slug: String?) -> PersonSuppression? {
            let covering = suppressions.filter { $0.listSlug == slug }
            return covering.first { !$0.ofMailbox } ?? covering.first
        }
        var rows: [Row] = []
        if let everywhere = suppression(nil) {
            rows.append(Row(listSlug: nil, subscription: nil, request: nil, suppression: everywhere))
        }
        for slug in slugs.sorted() {
            rows.append(Row(
                listSlug: slug, subscription: subscriptions.first { $0.listSlug == slug },
                request: live.filter { $0.listSlug == slug }.max { $0.requestedAt < $1.requestedAt },
                suppression: suppression(slug)))
        }
        return rows
    }

    /// The address on one list (or, `listSlug` nil, on every list).
    public struct Row: Sendable, Equatable {
        public let listSlug: String?
        public let subscription: PersonSubscription?
        /// The newest request still waiting for the person's click.
        public let request: ConfirmationRequest?
        public let suppression: PersonSuppression?

        /// The subscription's status when there is one; else `pending` for a live request,
        /// else `suppressed`.
        public var status: String {
            subscription?.status.rawValue ?? (request == nil ? "suppressed" : SubscriptionStatus.pending.rawValue)
        }

        public var name: String? { subscription?.name ?? request?.name }

        public var updatedAt: Date {
            subscription?.updatedAt ?? request?.requestedAt ?? suppression?.since ?? Date(timeIntervalSince1970: 0)
        }
    }
}

/// Everything `subscribers export` discloses (GDPR Art. 15, APPI): one person's records in
/// every table, their events, the wordings they were shown and the mail sent to them.
public struct PersonalData: Sendable, Equatable {
    public let standing: PersonStanding
    public let events: [LedgerEntry]
    /// The wording of every consent version named by the person's requests and events.
    public let wordings: [ArchivedWording]
    /// Versions named there that were recorded before wordings were archived.
    public let versionsWithoutWording: [String]
    public let mail: [PersonMail]
    public let snapshotEntries: [PersonSnapshotEntry]
    /// The keyed hash the ledger and the suppressions know the address by.
    public let addressHash: String
    /// The `data_exported` event that records this disclosure.
    public let exportEventID: Int64

    public init(
        standing: PersonStanding, events: [LedgerEntry], wordings: [ArchivedWording], versionsWithoutWording: [String],
        mail: [PersonMail], snapshotEntries: [PersonSnapshotEntry], addressHash: String, exportEventID: Int64
    ) {
        self.standing = standing
        self.events = events
        self.wordings = wordings
        self.versionsWithoutWording = versionsWithoutWording
        self.mail = mail
        self.snapshotEntries = snapshotEntries
        self.addressHash = addressHash
        self.exportEventID = exportEventID
    }

    /// Nothing that names the person is held: no subscription, request, mail or snapshot
    /// line (suppressions and events are keyed hashes).
    public var holdsNothingPersonal: Bool {
        standing.subscriptions.isEmpty && standing.requests.isEmpty && mail.isEmpty && snapshotEntries.isEmpty
    }
}

/// The admin's questions about one person. Every method takes the address as the admin
/// typed it and finds the rows by identity key or keyed hash.
public protocol PersonStore: Sendable {
    func standing(of address: EmailAddress) async throws -> PersonStanding
    /// Oldest first: events recorded under the address's keyed hash, and the suppressions
    /// of its mailbox (which stop mail to this spelling too).
    func history(of address: EmailAddress) async throws -> [LedgerEntry]
    /// Reads everything and records a `data_exported` event, in one transaction.
    func exportPersonalData(of address: EmailAddress, source: EventSource, at date: Date) async throws -> PersonalData
    func consentVersion(_ version: String) async throws -> ConsentVersionLookup
    /// `history(of:)` as the events export writes it.
    func exportEvents(
        of address: EmailAddress, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int
}
