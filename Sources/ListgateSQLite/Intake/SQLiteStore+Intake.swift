// Intake queries: a subscribe request, its confirmation and its "not me" block.
// Each public method is one write transaction, so the decision, the state change,
// the queued mail and the ledger event commit together or not at all.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func secretKey() async throws -> String {
        try await pool.read { db in
            guard let key = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = ?"),
                arguments: [GeneratedKey.secretKey.rawValue])
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
        return try await intakeCommits.write { db in
            guard try Self.consumeFormRequest(submission.formRequestID, in: db) else { return .alreadyDecided }
            let now = submission.requestedAt
            let listID = submission.list.id
            // Decided after the answer: the list may have closed since the post was recorded.
            if try Self.isArchived(listID: listID, in: db) { return .listArchived }
            if try Self.isSuppressed(hashes, listID: listID, in: db) { return .suppressed }
            if try Self.subscriptionStatus(hash, listID: listID, in: db) == "active" { return .alreadyActive }
            // The cooldown and the daily limit count the mailbox, so +tags share them.
            let recent = try Bool.fetchOne(db.cachedStatement(sql: """
                    SELECT 1 FROM submissions
                    WHERE list_id = ? AND mailbox_hash = ? AND kind = 'subscribe' AND status = 'pending'
                      AND mailed_at > ? AND expires_at > ?
                    """),
                arguments: [listID, mailbox, Timestamp.string(now.addingTimeInterval(-policy.cooldown)), Timestamp.string(now)])
            if recent == true { return .cooldown }
            if try Self.mailLimitReached(mailboxHash: mailbox, listID: listID, policy: policy, now: now, in: db) {
                return .addressLimit
            }
            try db.cachedStatement(sql: """
                    INSERT INTO submissions (public_id, list_id, kind, email, identity_key, address_hash, mailbox_hash, name,
                        status, consent_version, client_ip_prefix, user_agent, requested_at, expires_at, mailed_at)
                    VALUES (?, ?, 'subscribe', ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [
                    submission.publicID, listID, submission.address.entered, submission.address.identityKey, hash, mailbox,
                    submission.name, submission.consentVersion, submission.origin.clientNetwork,
                    submission.origin.userAgent, Timestamp.string(now), Timestamp.string(submission.expiresAt),
                    Timestamp.string(now),
                ])
            _ = try Self.enqueue(mail, at: now, addressHash: hash, mailboxHash: mailbox, in: db)
            // With the event that names it: no version is ever recorded without its text.
            if let wording = submission.wording { try Self.archive(wording, firstUsedAt: now, in: db) }
            try EventLedger.append(
                NewEvent(.requested, listID: listID, addressHash: hash, source: EventSource(submission.origin.route),
                         consentVersion: submission.consentVersion, detail: Self.originDetail(submission.origin)),
                at: now, in: db)
            return .mailed
        }
    }

    public func confirmSubmission(publicID: String, at date: Date, origin: RequestOrigin) async throws -> ConfirmOutcome {
        try await pool.write { db in
            guard let row = try Self.submissionRow(publicID, in: db) else { return .invalid }
            let (slug, name): (String, String) = (row["slug"], row["list_name"])
            let locale = ListLocale(rawValue: row["locale"]) ?? .ja
            if row["status"] == "confirmed" { return .alreadyConfirmed(listSlug: slug, listName: name, locale: locale) }
            guard row["status"] == "pending" else { return .used(listSlug: slug, listName: name, locale: locale) }
            // Before the expiry: "closed" tells more than "expired, ask again".
            if (row["archived_at"] as String?) != nil { return .listArchived(listSlug: slug, listName: name, locale: locale) }
            guard let expires = Timestamp.parse(row["expires_at"]), expires > date else {
                return .expired(listSlug: slug, listName: name, locale: locale)
            }
            let listID: Int64 = row["list_id"]
            let hash: String = row["address_hash"]
            // A suppression added after the mail was sent (admin, complaint) wins
            // over an old link: the link can no longer be used.
            if try Self.isSuppressed(try AddressHasher.hashes(identityKey: row["identity_key"], in: db), listID: listID, in: db) { return .used(listSlug: slug, listName: name, locale: locale) }
            let addressID = try Self.upsertAddress(
                email: row["email"], identityKey: row["identity_key"], hash: hash, at: date, in: db)
            let stamp = Timestamp.string(date)
            try db.cachedStatement(sql: """
                    INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
                    VALUES (?, ?, ?, 'active', 'form', ?, ?, ?)
                    ON CONFLICT (list_id, address_id) DO UPDATE SET
                        status = 'active', source = 'form', name = coalesce(excluded.name, name),
                        updated_at = excluded.updated_at, subscribed_at = excluded.subscribed_at, unsubscribed_at = NULL
                    """).execute(arguments: [listID, addressID, row["name"] as String?, stamp, stamp, stamp])
            try db.cachedStatement(sql: "UPDATE submissions SET status = 'confirmed', decided_at = ? WHERE public_id = ?")
                .execute(arguments: [stamp, publicID])
            let source = EventSource(origin.route)
            try EventLedger.append(
                NewEvent(.confirmed, listID: listID, addressHash: hash, source: source,
                         consentVersion: row["consent_version"], detail: Self.originDetail(origin)),
                at: date, in: db)
            // The person's own double opt-in is the one thing that lifts their suppression
            // for this list (an unsubscribe, a bounce); admin and import never do.
            try db.cachedStatement(sql: "DELETE FROM suppressions WHERE list_id = ? AND address_hash = ?")
                .execute(arguments: [listID, hash])
            if db.changesCount > 0 {
                try EventLedger.append(
                    NewEvent(.unsuppressed, listID: listID, addressHash: hash, source: source,
                             detail: ["reason": "confirmed by the person"]),
                    at: date, in: db)
            }
            return .confirmed(listSlug: slug, listName: name, locale: locale)
        }
    }

    public func blockSubmission(publicID: String, at date: Date, origin: RequestOrigin) async throws -> BlockOutcome {
        try await pool.write { db in
            guard let row = try Self.submissionRow(publicID, in: db) else { return .invalid }
            let listID: Int64 = row["list_id"]
            let hash: String = row["address_hash"]
            let stamp = Timestamp.string(date)
            let source = EventSource(origin.route)
            if row["status"] == "pending" {
                try db.cachedStatement(sql: "UPDATE submissions SET status = 'blocked', decided_at = ? WHERE public_id = ?")
                    .execute(arguments: [stamp, publicID])
                try EventLedger.append(
                    NewEvent(.blocked, listID: listID, addressHash: hash, source: source, detail: Self.originDetail(origin)),
                    at: date, in: db)
            }
            // "Never mail me again" is the inbox's word: it holds for the address and for its
            // mailbox, so a +tag spelling of it cannot be used to carry on.
            for blocked in try AddressHasher.hashes(identityKey: row["identity_key"], in: db) {
                try db.cachedStatement(sql: """
                        INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (?, ?, 'blocked', ?)
                        ON CONFLICT DO NOTHING
                        """).execute(arguments: [listID, blocked, stamp])
                if db.changesCount > 0 {
                    try EventLedger.append(
                        NewEvent(.suppressed, listID: listID, addressHash: blocked, source: source, detail: ["reason": "blocked"]),
                        at: date, in: db)
                }
            }
            // Suppression wins: a "not me" after a confirmation also ends the subscription.
            try db.cachedStatement(sql: """
                    UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = ?, updated_at = ?
                    WHERE list_id = ? AND status IN ('active', 'pending')
                      AND address_id = (SELECT id FROM addresses WHERE address_hash = ?)
                    """).execute(arguments: [stamp, stamp, listID, hash])
            if db.changesCount > 0 {
                try EventLedger.append(
                    NewEvent(.unsubscribed, listID: listID, addressHash: hash, source: source, detail: ["route": "block"]),
                    at: date, in: db)
            }
            return .blocked(listName: row["list_name"], locale: ListLocale(rawValue: row["locale"]) ?? .ja)
        }
    }

    public func tokenPage(publicID: String, expired: Bool) async throws -> TokenPage {
        try await pool.read { db in
            guard let row = try Self.submissionRow(publicID, in: db) else { return .invalid }
            let slug: String = row["slug"], name: String = row["list_name"]
            let locale = ListLocale(rawValue: row["locale"]) ?? .ja
            if row["status"] == "confirmed" { return .alreadyConfirmed(listSlug: slug, listName: name, locale: locale) }
            if row["status"] != "pending" { return .used(listSlug: slug, listName: name, locale: locale) }
            let pastExpiry = Timestamp.parse(row["expires_at"]).map { $0 <= Date() } ?? true
            if (row["archived_at"] as String?) != nil { return .listArchived(listSlug: slug, listName: name, locale: locale) }
            if expired || pastExpiry { return .expired(listSlug: slug, listName: name, locale: locale) }
            return .ready(listSlug: slug, listName: name, locale: locale)
        }
    }

    // MARK: Helpers

    static func submissionRow(_ publicID: String, in db: Database) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: """
                SELECT s.*, l.slug, l.name AS list_name, l.locale, l.archived_at
                FROM submissions s JOIN lists l ON l.id = s.list_id
                WHERE s.public_id = ? AND s.kind = 'subscribe'
                """),
            arguments: [publicID])
    }

    static func isArchived(listID: Int64, in db: Database) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT archived_at IS NOT NULL FROM lists WHERE id = ?"), arguments: [listID]) ?? false
    }

    /// Whether a confirmation mail may NOT be sent to this address for this list.
    /// Suppressions that say "do not mail" (the "not me" block, an admin's, a complaint)
    /// stop it. Those left by the person's own unsubscribe, a bounce or an erasure only keep
    /// imports and admins from bringing them back; their own new double opt-in may (after
    /// a bounce, the confirmation mail that arrives is the proof the address works again).
    /// The suppression reasons that stop mail (`SuppressionReason.stopsMail`) as an SQL
    /// list, for every query that applies that rule. Built from the enum, never from input.
    static let mailStoppingReasons =
        "(" + SuppressionReason.allCases.filter(\.stopsMail).map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"

    /// `hashes`: the address's own and its mailbox's (AddressHasher.hashes), so a "not me"
    /// for victim@ also stops mail to victim+1@.
    static func isSuppressed(_ hashes: [String], listID: Int64, in db: Database) throws -> Bool {
        for hash in hashes {
            let found = try Bool.fetchOne(
                db.cachedStatement(sql: """
                    SELECT 1 FROM suppressions
                    WHERE address_hash = ? AND (list_id = ? OR list_id IS NULL)
                      AND reason IN \(mailStoppingReasons)
                    """),
                arguments: [hash, listID]) ?? false
            if found { return true }
        }
        return false
    }

    /// Whether this mailbox had its day's mails for this list (any kind of auto-reply).
    static func mailLimitReached(mailboxHash: String, listID: Int64, policy: IntakePolicy, now: Date, in db: Database) throws
        -> Bool
    {
        guard let limit = policy.mailsPerAddressPerDay else { return false }
        let mailed = try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM outbox WHERE list_id = ? AND mailbox_hash = ? AND created_at > ?"),
            arguments: [listID, mailboxHash, Timestamp.string(now.addingTimeInterval(-86_400))]) ?? 0
        return mailed >= limit
    }

    static func subscriptionStatus(_ hash: String, listID: Int64, in db: Database) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: """
                SELECT s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                WHERE s.list_id = ? AND a.address_hash = ?
                """),
            arguments: [listID, hash])
    }

    static func upsertAddress(email: String, identityKey: String, hash: String, at date: Date, in db: Database) throws -> Int64 {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM addresses WHERE identity_key = ?"),
            arguments: [identityKey]) {
            return id
        }
        let needsSMTPUTF8 = (try? EmailAddress(email))?.needsSMTPUTF8 ?? false
        try db.cachedStatement(sql: "INSERT INTO addresses (email, identity_key, address_hash, needs_smtputf8, created_at) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [email, identityKey, hash, needsSMTPUTF8, Timestamp.string(date)])
        return db.lastInsertedRowID
    }

    static func originDetail(_ origin: RequestOrigin) -> [String: String] {
        var detail: [String: String] = [:]
        if let network = origin.clientNetwork { detail["client_network"] = network }
        if let agent = origin.userAgent { detail["user_agent"] = agent }
        return detail
    }
}
