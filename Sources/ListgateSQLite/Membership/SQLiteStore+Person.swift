// One person, whole, in SQLite (`listgate subscribers find | history | export`). Rows
// that hold the address are found by its identity key; those that outlive erasure
// (suppressions, events, the outbox's rows) by its keyed hash, since they never held it.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func standing(of address: EmailAddress) async throws -> PersonStanding {
        try await pool.read { db in try Self.standing(of: address, in: db) }
    }

    public func history(of address: EmailAddress) async throws -> [LedgerEntry] {
        try await pool.read { db in try Self.events(of: address, in: db) }
    }

    public func exportPersonalData(of address: EmailAddress, source: EventSource, at date: Date) async throws
        -> PersonalData
    {
        try await pool.write { db in
            let hash = try AddressHasher.hash(address, in: db)
            // Recorded first, so the disclosure itself is in what it discloses.
            try EventLedger.append(NewEvent(.dataExported, addressHash: hash, source: source), at: date, in: db)
            let exportEventID = db.lastInsertedRowID
            let standing = try Self.standing(of: address, in: db)
            let events = try Self.events(of: address, in: db)
            let mail = try Self.mail(toHash: hash, in: db)
            var versions: [String] = []
            for version in standing.requests.compactMap(\.consentVersion) + events.compactMap(\.consentVersion)
            where !versions.contains(version) {
                versions.append(version)
            }
            var wordings: [ArchivedWording] = []
            var missing: [String] = []
            for version in versions {
                if let wording = try Self.archivedWording(version, in: db) { wordings.append(wording) } else { missing.append(version) }
            }
            let snapshots = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT l.slug, s.public_id, s.created_at, m.email, m.name
                    FROM snapshot_members m JOIN snapshots s ON s.id = m.snapshot_id JOIN lists l ON l.id = s.list_id
                    WHERE m.identity_key = ?
                    ORDER BY s.id
                    """),
                arguments: [address.identityKey]
            ).map { row in
                PersonSnapshotEntry(
                    listSlug: row["slug"], snapshotID: row["public_id"], takenAt: Self.date(row["created_at"]),
                    email: row["email"], name: row["name"])
            }
            return PersonalData(
                standing: standing, events: events, wordings: wordings, versionsWithoutWording: missing, mail: mail,
                snapshotEntries: snapshots, addressHash: hash, exportEventID: exportEventID)
        }
    }

    // MARK: Queries

    static func standing(of address: EmailAddress, in db: Database) throws -> PersonStanding {
        let hashes = try AddressHasher.hashes(identityKey: address.identityKey, in: db)
        let subscriptions = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT l.slug, a.email, s.name, s.status, s.source, s.created_at, s.updated_at, s.subscribed_at,
                       s.unsubscribed_at
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                WHERE a.identity_key = ?
                ORDER BY l.slug
                """),
            arguments: [address.identityKey]
        ).map { row in
            PersonSubscription(
                listSlug: row["slug"], email: row["email"], name: row["name"], status: try status(row["status"]),
                source: row["source"], createdAt: date(row["created_at"]), updatedAt: date(row["updated_at"]),
                subscribedAt: (row["subscribed_at"] as String?).map(date),
                unsubscribedAt: (row["unsubscribed_at"] as String?).map(date))
        }
        // A submission names no outbox row: its confirmation is the one queued for the
        // same list and address in the same transaction, which stamped both with one time.
        let requests = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT l.slug, s.email, s.name, s.status, s.requested_at, s.expires_at, s.decided_at, s.consent_version,
                       s.client_ip_prefix, s.user_agent, o.status AS mail_status, o.attempts, o.sent_at, o.message_id
                FROM submissions s JOIN lists l ON l.id = s.list_id
                LEFT JOIN outbox o ON o.list_id = s.list_id AND o.address_hash = s.address_hash
                                  AND o.kind = 'confirmation' AND o.created_at = s.mailed_at
                WHERE s.address_hash = ? AND s.kind = 'subscribe'
                ORDER BY s.requested_at, s.id
                """),
            arguments: [hashes[0]]
        ).map { row in
            ConfirmationRequest(
                listSlug: row["slug"], email: row["email"], name: row["name"], status: row["status"],
                requestedAt: date(row["requested_at"]), expiresAt: date(row["expires_at"]),
                decidedAt: (row["decided_at"] as String?).map(date), consentVersion: row["consent_version"],
                clientNetwork: row["client_ip_prefix"], userAgent: row["user_agent"],
                mail: try mailState(row["mail_status"], attempts: row["attempts"]),
                mailSentAt: (row["sent_at"] as String?).map(date), messageID: row["message_id"])
        }
        var suppressions: [PersonSuppression] = []
        for (index, hash) in hashes.enumerated() {
            suppressions += try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT l.slug, s.reason, s.created_at FROM suppressions s LEFT JOIN lists l ON l.id = s.list_id
                    WHERE s.address_hash = ?
                    ORDER BY s.list_id IS NOT NULL, l.slug
                    """),
                arguments: [hash]
            ).map { row in
                PersonSuppression(
                    listSlug: row["slug"], reason: try reason(row["reason"]), since: date(row["created_at"]),
                    ofMailbox: index > 0)
            }
        }
        return PersonStanding(subscriptions: subscriptions, requests: requests, suppressions: suppressions)
    }

    static func events(of address: EmailAddress, in db: Database) throws -> [LedgerEntry] {
        let (filter, arguments) = try personEventFilter(address, in: db)
        return try Row.fetchAll(
            db.makeStatement(sql: """
                SELECT e.id, e.occurred_at, e.type, l.slug, e.source, e.consent_version, e.detail, c.hash
                FROM events e LEFT JOIN lists l ON l.id = e.list_id LEFT JOIN event_chain c ON c.event_id = e.id
                WHERE \(filter)
                ORDER BY e.id
                """),
            arguments: arguments
        ).map { row in
            LedgerEntry(
                id: row["id"], occurredAt: date(row["occurred_at"]), type: row["type"], listSlug: row["slug"],
                source: row["source"], consentVersion: row["consent_version"], detail: flatDetail(row["detail"]),
                hash: row["hash"])
        }
    }

    /// The events about one address: those under its own keyed hash, and, for a +tag
    /// spelling, the suppressions of its mailbox (they stop mail to it too). Nothing else
    /// recorded under the mailbox's hash: that is another subscriber (README, "One
    /// mailbox, one limit").
    static func personEventFilter(_ address: EmailAddress, in db: Database) throws -> (String, StatementArguments) {
        let hashes = try AddressHasher.hashes(identityKey: address.identityKey, in: db)
        let types = [EventType.suppressed, .unsuppressed].map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return (
            "(e.address_hash = ? OR (e.address_hash = ? AND e.type IN (\(types))))",
            [hashes[0], hashes.last ?? hashes[0]]
        )
    }

    /// Every message to the address's keyed hash, oldest first, with the consent version
    /// of the request a confirmation was sent for.
    static func mail(toHash hash: String, in db: Database) throws -> [PersonMail] {
        try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT l.slug, o.kind, o.message_id, o.status, o.attempts, o.created_at, o.updated_at, o.sent_at,
                       (SELECT s.consent_version FROM submissions s
                        WHERE o.kind = 'confirmation' AND s.list_id = o.list_id AND s.address_hash = o.address_hash
                          AND s.mailed_at = o.created_at LIMIT 1) AS consent_version
                FROM outbox o JOIN lists l ON l.id = o.list_id
                WHERE o.address_hash = ?
                ORDER BY o.id
                """),
            arguments: [hash]
        ).map { row in
            let kindText: String = row["kind"]
            guard let kind = AutoReplyKind(rawValue: kindText) else {
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown outbox kind '\(kindText)'")
            }
            return PersonMail(
                listSlug: row["slug"], kind: kind, messageID: row["message_id"],
                state: try mailState(row["status"], attempts: row["attempts"]), attempts: row["attempts"],
                createdAt: date(row["created_at"]), updatedAt: date(row["updated_at"]),
                sentAt: (row["sent_at"] as String?).map(date), consentVersion: row["consent_version"])
        }
    }

    /// nil status: no outbox row (none was sent, or it was erased).
    static func mailState(_ status: String?, attempts: Int?) throws -> MailState {
        guard let status else { return .none }
        guard let known = OutboxStatus(rawValue: status) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown outbox status '\(status)'")
        }
        return MailState(status: known, attempts: attempts ?? 0)
    }

    /// The ledger writes detail as a flat object of strings; anything else is shown as
    /// its JSON text rather than dropped.
    static func flatDetail(_ text: String) -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return text == "{}" ? [:] : ["detail": text]
        }
        return object.mapValues { value in
            if let string = value as? String { return string }
            if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return String(describing: value)
        }
    }
}
