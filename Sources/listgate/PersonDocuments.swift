// The JSON shapes of `subscribers find | history | export` and `consent show`
// (README, "One person, whole"). Times are RFC 3339 UTC; a value that is absent is null,
// never left out, so a reader sees every field the document can have.
import Foundation
import ListgateCore

/// A value written as itself, or as `null` when absent (JSONEncoder would leave the key out).
struct OrNull<Wrapped: Encodable>: Encodable {
    let value: Wrapped?

    init(_ value: Wrapped?) { self.value = value }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encodeNil() }
    }
}

extension OrNull where Wrapped == String {
    init(_ date: Date?) { value = date.map(Timestamp.string) }
}

/// One entry of `subscribers find --json`: `list, email, status, name, updated_at`, plus
/// the request's fields when one is waiting, and the suppression (top level when the row is
/// only that, else as an object).
struct PersonRowDocument: Encodable {
    let row: PersonStanding.Row
    let email: String

    init(_ row: PersonStanding.Row, asked: EmailAddress) {
        self.row = row
        email = row.subscription?.email ?? row.request?.email ?? asked.entered
    }

    enum CodingKeys: String, CodingKey {
        case list, email, status, name, reason, since, mailbox, suppression, mail
        case updatedAt = "updated_at", requestedAt = "requested_at", expiresAt = "expires_at"
        case mailSentAt = "mail_sent_at"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(OrNull(row.listSlug), forKey: .list)
        try container.encode(email, forKey: .email)
        try container.encode(row.status, forKey: .status)
        try container.encode(OrNull(row.name), forKey: .name)
        try container.encode(Timestamp.string(row.updatedAt), forKey: .updatedAt)
        if let request = row.request {
            try container.encode(Timestamp.string(request.requestedAt), forKey: .requestedAt)
            try container.encode(Timestamp.string(request.expiresAt), forKey: .expiresAt)
            try container.encode(request.mail.rawValue, forKey: .mail)
            if let sent = request.mailSentAt { try container.encode(Timestamp.string(sent), forKey: .mailSentAt) }
        }
        guard let suppression = row.suppression else { return }
        if row.subscription == nil, row.request == nil {
            try container.encode(suppression.reason.rawValue, forKey: .reason)
            try container.encode(Timestamp.string(suppression.since), forKey: .since)
            if suppression.ofMailbox { try container.encode(true, forKey: .mailbox) }
        } else {
            try container.encode(SuppressionFact(suppression), forKey: .suppression)
        }
    }
}

struct SuppressionFact: Encodable {
    let list: OrNull<String>
    let reason: String
    let since: String
    /// Recorded for every +tag of the address's mailbox, not this spelling alone.
    let mailbox: Bool

    init(_ suppression: PersonSuppression) {
        list = OrNull(suppression.listSlug)
        reason = suppression.reason.rawValue
        since = Timestamp.string(suppression.since)
        mailbox = suppression.ofMailbox
    }
}

/// One event of `subscribers history --json` and of the export document.
struct LedgerEntryDocument: Encodable {
    let id: Int64
    let occurredAt: String
    let type: String
    let list: OrNull<String>
    let source: String
    let consentVersion: OrNull<String>
    let clientNetwork: OrNull<String>
    let detail: [String: String]
    let hash: OrNull<String>

    init(_ entry: LedgerEntry) {
        id = entry.id
        occurredAt = Timestamp.string(entry.occurredAt)
        type = entry.type
        list = OrNull(entry.listSlug)
        source = entry.source
        consentVersion = OrNull(entry.consentVersion)
        clientNetwork = OrNull(entry.clientNetwork)
        detail = entry.detail
        hash = OrNull(entry.hash)
    }

    enum CodingKeys: String, CodingKey {
        case id, type, list, source, detail, hash
        case occurredAt = "occurred_at", consentVersion = "consent_version", clientNetwork = "client_network"
    }
}

/// `consent show --json`, and each wording in the export document.
struct WordingDocument: Encodable {
    struct Part: Encodable {
        let name: String
        let text: String
    }

    let version: String
    let archived = true
    let locale: String
    let firstUsedAt: String
    /// The texts still hash to the version.
    let intact: Bool
    let parts: [Part]

    init(_ wording: ArchivedWording) {
        version = wording.version
        locale = wording.locale.rawValue
        firstUsedAt = Timestamp.string(wording.firstUsedAt)
        intact = wording.isIntact
        parts = wording.parts.map { Part(name: $0.name, text: $0.text) }
    }

    enum CodingKeys: String, CodingKey {
        case version, archived, locale, intact, parts
        case firstUsedAt = "first_used_at"
    }
}

/// `subscribers export`: everything held on one person (README, "One person, whole").
struct PersonalDataDocument: Encodable {
    struct Subscription: Encodable {
        let list, email: String
        let name: OrNull<String>
        let status, source, createdAt, updatedAt: String
        let subscribedAt, unsubscribedAt: OrNull<String>

        enum CodingKeys: String, CodingKey {
            case list, email, name, status, source
            case createdAt = "created_at", updatedAt = "updated_at", subscribedAt = "subscribed_at"
            case unsubscribedAt = "unsubscribed_at"
        }
    }

    struct Request: Encodable {
        let list, email: String
        let name: OrNull<String>
        let status, requestedAt, expiresAt: String
        let decidedAt, consentVersion, clientNetwork, userAgent: OrNull<String>
        let mail: String
        let mailSentAt, messageID: OrNull<String>

        enum CodingKeys: String, CodingKey {
            case list, email, name, status, mail
            case requestedAt = "requested_at", expiresAt = "expires_at", decidedAt = "decided_at"
            case consentVersion = "consent_version", clientNetwork = "client_network", userAgent = "user_agent"
            case mailSentAt = "mail_sent_at", messageID = "message_id"
        }
    }

    struct Mail: Encodable {
        let list, kind, messageID, state: String
        let attempts: Int
        let createdAt, updatedAt: String
        let sentAt, consentVersion: OrNull<String>

        enum CodingKeys: String, CodingKey {
            case list, kind, state, attempts
            case messageID = "message_id", createdAt = "created_at", updatedAt = "updated_at", sentAt = "sent_at"
            case consentVersion = "consent_version"
        }
    }

    struct SnapshotEntry: Encodable {
        let list, snapshot, takenAt, email: String
        let name: OrNull<String>

        enum CodingKeys: String, CodingKey {
            case list, snapshot, email, name
            case takenAt = "taken_at"
        }
    }

    let format = "listgate-personal-data/1"
    let exportedAt: String
    let address: String
    let addressHash: String
    let forgotten: Bool
    let note: OrNull<String>
    let subscriptions: [Subscription]
    let requests: [Request]
    let suppressions: [SuppressionFact]
    let events: [LedgerEntryDocument]
    let consentWordings: [WordingDocument]
    let consentVersionsWithoutWording: [String]
    let mail: [Mail]
    let snapshotEntries: [SnapshotEntry]

    init(_ data: PersonalData, address: EmailAddress, at date: Date) {
        exportedAt = Timestamp.string(date)
        self.address = address.entered
        addressHash = data.addressHash
        forgotten = data.standing.isForgotten
        note = OrNull(Self.note(data))
        subscriptions = data.standing.subscriptions.map {
            Subscription(
                list: $0.listSlug, email: $0.email, name: OrNull($0.name), status: $0.status.rawValue, source: $0.source,
                createdAt: Timestamp.string($0.createdAt), updatedAt: Timestamp.string($0.updatedAt),
                subscribedAt: OrNull($0.subscribedAt), unsubscribedAt: OrNull($0.unsubscribedAt))
        }
        requests = data.standing.requests.map {
            Request(
                list: $0.listSlug, email: $0.email, name: OrNull($0.name), status: $0.status,
                requestedAt: Timestamp.string($0.requestedAt), expiresAt: Timestamp.string($0.expiresAt),
                decidedAt: OrNull($0.decidedAt), consentVersion: OrNull($0.consentVersion),
                clientNetwork: OrNull($0.clientNetwork), userAgent: OrNull($0.userAgent), mail: $0.mail.rawValue,
                mailSentAt: OrNull($0.mailSentAt), messageID: OrNull($0.messageID))
        }
        suppressions = data.standing.suppressions.map(SuppressionFact.init)
        events = data.events.map(LedgerEntryDocument.init)
        consentWordings = data.wordings.map(WordingDocument.init)
        consentVersionsWithoutWording = data.versionsWithoutWording
        mail = data.mail.map {
            Mail(
                list: $0.listSlug, kind: $0.kind.rawValue, messageID: $0.messageID, state: $0.state.rawValue,
                attempts: $0.attempts, createdAt: Timestamp.string($0.createdAt), updatedAt: Timestamp.string($0.updatedAt),
                sentAt: OrNull($0.sentAt), consentVersion: OrNull($0.consentVersion))
        }
        snapshotEntries = data.snapshotEntries.map {
            SnapshotEntry(
                list: $0.listSlug, snapshot: $0.snapshotID, takenAt: Timestamp.string($0.takenAt), email: $0.email,
                name: OrNull($0.name))
        }
    }

    /// Said in the document itself, for the person who receives it.
    static func note(_ data: PersonalData) -> String? {
        guard data.holdsNothingPersonal else { return nil }
        if data.standing.isForgotten {
            return "This address was erased. listgate keeps no address, name or mail of it: only a keyed hash, as a "
                + "suppression (so it is never mailed or added again) and in the ledger's records of consent."
        }
        return "listgate holds no subscription, request, mail or name for this address."
    }

    enum CodingKeys: String, CodingKey {
        case format, address, forgotten, note, subscriptions, requests, suppressions, events, mail
        case exportedAt = "exported_at", addressHash = "address_hash", consentWordings = "consent_wordings"
        case consentVersionsWithoutWording = "consent_versions_without_wording", snapshotEntries = "snapshot_entries"
    }
}
