// Intake on PostgreSQL (IntakeStore): a subscribe request, its confirmation and its
// "not me" block, with the same checks, rows, events and answers as ListgateSQLite's
// SQLiteStore+Intake.swift. Each public method is one transaction, so the decision, the
// state change, the queued mail and the ledger event commit together or not at all.
//
// On SQLite, subscribe requests share write transactions (GroupCommit) because there is
// one writer. Here each request is its own SERIALIZABLE transaction: concurrent requests
// run side by side, and two that would decide differently run alone (one is retried), so
// the cooldown and the per-mailbox limit hold as on SQLite.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: IntakeStore {
    public func secretKey() async throws -> String {
        try await read { connection in
            guard let key = try await connection.value(
                "SELECT value FROM settings WHERE key = \(GeneratedKey.secretKey.rawValue)", as: String.self)
            else { throw StoreError.needsMigration }
            return key
        }
    }

    public func recordSubscribeRequest(_ submission: NewSubmission, mail: NewOutboxMessage, policy: IntakePolicy) async throws
        -> SubscribeOutcome
    {
        // The outbox row below takes the submitter's address hash, and a submission may
        // cause one mail, to the submitter: anything else is refused before any write.
        guard mail.recipient.identityKey == submission.address.identityKey else { throw StoreError.mailNotToSubmitter }
        let hashes = try await addressHasher().hashes(identityKey: submission.address.identityKey)
        let hash = hashes[0], mailbox = hashes.last ?? hash
        return try await write { connection -> SubscribeOutcome in
            guard try await Self.consumeFormRequest(submission.formRequestID, on: connection) else { return .alreadyDecided }
            let now = submission.requestedAt
            let listID = submission.list.id
            // The desk's four questions in one round trip, answered in this order.
            // Decided after the answer: the list may have closed since the post was recorded.
            // The cooldown and the daily limit count the mailbox, so +tags share them.
            guard let standing = try await connection.row("""
                SELECT (SELECT archived_at IS NOT NULL FROM lists WHERE id = \(listID)) AS archived,
                       EXISTS (SELECT 1 FROM suppressions
                               WHERE address_hash = ANY(\(hashes)) AND (list_id = \(listID) OR list_id IS NULL)
                                 AND reason = ANY(\(Self.mailStoppingReasons))) AS suppressed,
                       EXISTS (SELECT 1 FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                               WHERE s.list_id = \(listID) AND a.address_hash = \(hash) AND s.status = 'active') AS active,
                       EXISTS (SELECT 1 FROM submissions
                               WHERE list_id = \(listID) AND mailbox_hash = \(mailbox) AND kind = 'subscribe'
                                 AND status = 'pending' AND mailed_at > \(now.addingTimeInterval(-policy.cooldown).stored)
                                 AND expires_at > \(now.stored)) AS cooling
                """)
            else { throw StoreError.unreadableValue(column: "lists.archived_at", "the desk's questions returned no row") }
            if try standing.get("archived", as: Bool?.self) == true { return .listArchived }
            if try standing.get("suppressed", as: Bool.self) { return .suppressed }
            if try standing.get("active", as: Bool.self) { return .alreadyActive }
            if try standing.get("cooling", as: Bool.self) { return .cooldown }
            if try await Self.mailLimitReached(mailboxHash: mailbox, listID: listID, policy: policy, now: now, on: connection) {
                return .addressLimit
            }
            try await connection.execute("""
                INSERT INTO submissions (public_id, list_id, kind, email, identity_key, address_hash, mailbox_hash, name,
                    status, consent_version, client_ip_prefix, user_agent, requested_at, expires_at, mailed_at)
                VALUES (\(submission.publicID), \(listID), 'subscribe', \(submission.address.entered),
                        \(submission.address.identityKey), \(hash), \(mailbox), \(submission.name), 'pending',
                        \(submission.consentVersion), \(submission.origin.clientNetwork), \(submission.origin.userAgent),
                        \(now.stored), \(submission.expiresAt.stored), \(now.stored))
                """)
            try await Self.enqueue(mail, at: now, addressHash: hash, mailboxHash: mailbox, on: connection)
            // With the event that names it: no version is ever recorded without its text.
            if let wording = submission.wording { try await Self.archive(wording, firstUsedAt: now, on: connection) }
            try await PostgresLedger.append(
                NewEvent(.requested, listID: listID, addressHash: hash, source: EventSource(submission.origin.route),
                         consentVersion: submission.consentVersion, detail: Self.originDetail(submission.origin)),
                at: now, on: connection)
            return .mailed
        }
    }

    public func confirmSubmission(publicID: String, at date: Date, origin: RequestOrigin) async throws -> ConfirmOutcome {
        try await write { connection -> ConfirmOutcome in
            // The key is read once per store and kept (AddressHasher.Cache).
            let keyed = try await addressHasher()
            guard let row = try await Self.submissionRow(publicID, on: connection) else { return .invalid }
            let slug = try row.get("slug", as: String.self), name = try row.get("list_name", as: String.self)
            let locale = ListLocale(rawValue: try row.get("locale", as: String.self)) ?? .ja
            let status = try row.get("status", as: String.self)
            if status == "confirmed" { return .alreadyConfirmed(listSlug: slug, listName: name, locale: locale) }
            guard status == "pending" else { return .used(listSlug: slug, listName: name, locale: locale) }
            // Before the expiry: "closed" tells more than "expired, ask again".
            if try row.get("archived_at", as: Date?.self) != nil {
                return .listArchived(listSlug: slug, listName: name, locale: locale)
            }
            guard try row.get("expires_at", as: Date.self) > date else {
                return .expired(listSlug: slug, listName: name, locale: locale)
            }
            let listID = try row.get("list_id", as: Int64.self)
            let hash = try row.get("address_hash", as: String.self)
            let identityKey = try row.get("identity_key", as: String.self)
            // A suppression added after the mail was sent (admin, complaint) wins
            // over an old link: the link can no longer be used.
            if try await Self.isSuppressed(keyed.hashes(identityKey: identityKey), listID: listID, on: connection) {
                return .used(listSlug: slug, listName: name, locale: locale)
            }
            let addressID = try await Self.upsertAddress(
                email: try row.get("email", as: String.self), identityKey: identityKey, hash: hash, at: date, on: connection)
            let stamp = date.stored
            try await connection.execute("""
                INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
                VALUES (\(listID), \(addressID), \(try row.get("name", as: String?.self)), 'active', 'form', \(stamp), \(stamp), \(stamp))
                ON CONFLICT (list_id, address_id) DO UPDATE SET
                    status = 'active', source = 'form', name = coalesce(excluded.name, subscriptions.name),
                    updated_at = excluded.updated_at, subscribed_at = excluded.subscribed_at, unsubscribed_at = NULL
                """)
            try await connection.execute(
                "UPDATE submissions SET status = 'confirmed', decided_at = \(stamp) WHERE public_id = \(publicID)")
            let source = EventSource(origin.route)
            try await PostgresLedger.append(
                NewEvent(.confirmed, listID: listID, addressHash: hash, source: source,
                         consentVersion: try row.get("consent_version", as: String?.self), detail: Self.originDetail(origin)),
                at: date, on: connection)
            // The person's own double opt-in is the one thing that lifts their suppression
            // for this list (an unsubscribe, a bounce); admin and import never do.
            let lifted = try await connection.rows(
                "DELETE FROM suppressions WHERE list_id = \(listID) AND address_hash = \(hash) RETURNING id")
            if !lifted.isEmpty {
                try await PostgresLedger.append(
                    NewEvent(.unsuppressed, listID: listID, addressHash: hash, source: source,
                             detail: ["reason": "confirmed by the person"]),
                    at: date, on: connection)
            }
            return .confirmed(listSlug: slug, listName: name, locale: locale)
        }
    }

    public func blockSubmission(publicID: String, at date: Date, origin: RequestOrigin) async throws -> BlockOutcome {
        try await write { connection -> BlockOutcome in
            let keyed = try await addressHasher()
            guard let row = try await Self.submissionRow(publicID, on: connection) else { return .invalid }
            let listID = try row.get("list_id", as: Int64.self)
            let hash = try row.get("address_hash", as: String.self)
            let stamp = date.stored
            let source = EventSource(origin.route)
            if try row.get("status", as: String.self) == "pending" {
                try await connection.execute(
                    "UPDATE submissions SET status = 'blocked', decided_at = \(stamp) WHERE public_id = \(publicID)")
                try await PostgresLedger.append(
                    NewEvent(.blocked, listID: listID, addressHash: hash, source: source, detail: Self.originDetail(origin)),
                    at: date, on: connection)
            }
            // "Never mail me again" is the inbox's word: it holds for the address and for its
            // mailbox, so a +tag spelling of it cannot be used to carry on.
            for blocked in keyed.hashes(identityKey: try row.get("identity_key", as: String.self)) {
                let added = try await connection.rows("""
                    INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (\(listID), \(blocked), 'blocked', \(stamp))
                    ON CONFLICT DO NOTHING RETURNING id
                    """)
                if !added.isEmpty {
                    try await PostgresLedger.append(
                        NewEvent(.suppressed, listID: listID, addressHash: blocked, source: source, detail: ["reason": "blocked"]),
                        at: date, on: connection)
                }
            }
            // Suppression wins: a "not me" after a confirmation also ends the subscription.
            let ended = try await connection.rows("""
                UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = \(stamp), updated_at = \(stamp)
                WHERE list_id = \(listID) AND status IN ('active', 'pending')
                  AND address_id = (SELECT id FROM addresses WHERE address_hash = \(hash))
                RETURNING id
                """)
            if !ended.isEmpty {
                try await PostgresLedger.append(
                    NewEvent(.unsubscribed, listID: listID, addressHash: hash, source: source, detail: ["route": "block"]),
                    at: date, on: connection)
            }
            return .blocked(
                listName: try row.get("list_name", as: String.self),
                locale: ListLocale(rawValue: try row.get("locale", as: String.self)) ?? .ja)
        }
    }

    public func tokenPage(publicID: String, expired: Bool) async throws -> TokenPage {
        try await read { connection -> TokenPage in
            guard let row = try await Self.submissionRow(publicID, on: connection) else { return .invalid }
            let slug = try row.get("slug", as: String.self), name = try row.get("list_name", as: String.self)
            let locale = ListLocale(rawValue: try row.get("locale", as: String.self)) ?? .ja
            let status = try row.get("status", as: String.self)
            if status == "confirmed" { return .alreadyConfirmed(listSlug: slug, listName: name, locale: locale) }
            if status != "pending" { return .used(listSlug: slug, listName: name, locale: locale) }
            let pastExpiry = try row.get("expires_at", as: Date.self) <= Date()
            if try row.get("archived_at", as: Date?.self) != nil {
                return .listArchived(listSlug: slug, listName: name, locale: locale)
            }
            if expired || pastExpiry { return .expired(listSlug: slug, listName: name, locale: locale) }
            return .ready(listSlug: slug, listName: name, locale: locale)
        }
    }

    // MARK: Helpers (shared with the other rooms, as SQLite's are)

    static func submissionRow(_ publicID: String, on connection: PostgresConnection) async throws -> PostgresRandomAccessRow? {
        try await connection.row("""
            SELECT s.*, l.slug, l.name AS list_name, l.locale, l.archived_at
            FROM submissions s JOIN lists l ON l.id = s.list_id
            WHERE s.public_id = \(publicID) AND s.kind = 'subscribe'
            """)
    }

    /// The suppression reasons that stop mail (`SuppressionReason.stopsMail`), bound as an
    /// array (`reason = ANY(…)`) by every query that applies that rule.
    static let mailStoppingReasons = SuppressionReason.allCases.filter(\.stopsMail).map(\.rawValue)

    /// Whether a confirmation mail may NOT be sent to this address for this list: a
    /// suppression that says "do not mail" (the "not me" block, an admin's, a complaint)
    /// under the address's own hash or its mailbox's (`hashes`, AddressHasher.hashes), so
    /// a "not me" for victim@ also stops mail to victim+1@. Those left by the person's own
    /// unsubscribe, a bounce or an erasure do not: their own new double opt-in may.
    static func isSuppressed(_ hashes: [String], listID: Int64, on connection: PostgresConnection) async throws -> Bool {
        try await connection.value("""
            SELECT 1::bigint FROM suppressions
            WHERE address_hash = ANY(\(hashes)) AND (list_id = \(listID) OR list_id IS NULL)
              AND reason = ANY(\(mailStoppingReasons))
            LIMIT 1
            """, as: Int64.self) != nil
    }

    /// Whether this mailbox had its day's mails for this list (any kind of auto-reply).
    static func mailLimitReached(
        mailboxHash: String, listID: Int64, policy: IntakePolicy, now: Date, on connection: PostgresConnection
    ) async throws -> Bool {
        guard let limit = policy.mailsPerAddressPerDay else { return false }
        let mailed = try await connection.value("""
            SELECT count(*) FROM outbox
            WHERE list_id = \(listID) AND mailbox_hash = \(mailboxHash) AND created_at > \(now.addingTimeInterval(-86_400).stored)
            """, as: Int64.self) ?? 0
        return Int(mailed) >= limit
    }

    static func upsertAddress(
        email: String, identityKey: String, hash: String, at date: Date, on connection: PostgresConnection
    ) async throws -> Int64 {
        if let id = try await connection.value("SELECT id FROM addresses WHERE identity_key = \(identityKey)", as: Int64.self) {
            return id
        }
        let needsSMTPUTF8 = (try? EmailAddress(email))?.needsSMTPUTF8 ?? false
        guard let id = try await connection.value("""
            INSERT INTO addresses (email, identity_key, address_hash, needs_smtputf8, created_at)
            VALUES (\(email), \(identityKey), \(hash), \(needsSMTPUTF8), \(date.stored))
            RETURNING id
            """, as: Int64.self)
        else { throw StoreError.unreadableValue(column: "addresses.id", "an inserted address returned no id") }
        return id
    }

    static func originDetail(_ origin: RequestOrigin) -> [String: String] {
        var detail: [String: String] = [:]
        if let network = origin.clientNetwork { detail["client_network"] = network }
        if let agent = origin.userAgent { detail["user_agent"] = agent }
        return detail
    }
}
