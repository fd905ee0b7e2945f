// One person, whole, on PostgreSQL (PersonStore: `listgate subscribers find | history |
// export`, `listgate export events --email`), as ListgateSQLite's SQLiteStore+Person.swift.
// Rows that hold the address are found by its identity key; those that outlive erasure
// (suppressions, events, the outbox's rows) by its keyed hash, since they never held it.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: PersonStore {
    public func standing(of address: EmailAddress) async throws -> PersonStanding {
        let hashes = try await addressHasher().hashes(identityKey: address.identityKey)
        return try await read { connection in try await Self.standing(of: address, hashes: hashes, on: connection) }
    }

    public func history(of address: EmailAddress) async throws -> [LedgerEntry] {
        let hashes = try await addressHasher().hashes(identityKey: address.identityKey)
        return try await read { connection in try await Self.events(ofHashes: hashes, on: connection) }
    }

    public func exportPersonalData(of address: EmailAddress, source: EventSource, at date: Date) async throws
        -> PersonalData
    {
        let hashes = try await addressHasher().hashes(identityKey: address.identityKey)
        let hash = hashes[0]
        return try await write { connection -> PersonalData in
            // Recorded first, so the disclosure itself is in what it discloses.
            let exportEventID = try await PostgresLedger.append(
                NewEvent(.dataExported, addressHash: hash, source: source), at: date, on: connection)
            let standing = try await Self.standing(of: address, hashes: hashes, on: connection)
            let events = try await Self.events(ofHashes: hashes, on: connection)
            let mail = try await Self.mail(toHash: hash, on: connection)
            var versions: [String] = []
            for version in standing.requests.compactMap(\.consentVersion) + events.compactMap(\.consentVersion)
            where !versions.contains(version) {
                versions.append(version)
            }
            var wordings: [ArchivedWording] = []
            var missing: [String] = []
            for version in versions {
                if let wording = try await Self.archivedWording(version, on: connection) {
                    wordings.append(wording)
                } else {
                    missing.append(version)
                }
            }
            let snapshots = try await connection.rows("""
                SELECT l.slug, s.public_id, s.created_at, m.email, m.name
                FROM snapshot_members m JOIN snapshots s ON s.id = m.snapshot_id JOIN lists l ON l.id = s.list_id
                WHERE m.identity_key = \(address.identityKey)
                ORDER BY s.id
                """
            ).map { row in
                PersonSnapshotEntry(
                    listSlug: try row.get("slug"), snapshotID: try row.get("public_id"), takenAt: try row.get("created_at"),
                    email: try row.get("email"), name: try row.get("name"))
            }
            return PersonalData(
                standing: standing, events: events, wordings: wordings, versionsWithoutWording: missing, mail: mail,
                snapshotEntries: snapshots, addressHash: hash, exportEventID: exportEventID)
        }
    }

    public func exportEvents(
        of address: EmailAddress, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int {
        let hashes = try await addressHasher().hashes(identityKey: address.identityKey)
        let (own, mailbox) = (hashes[0], hashes.last ?? hashes[0])
        return try await read { connection in
            var binds = PostgresBindings()
            binds.append(own)
            binds.append(mailbox)
            let filter = Self.personEventFilter(own: "$1", mailbox: "$2")
            return try await Self.writeEvents(
                count: "SELECT count(*) FROM events e WHERE \(filter)",
                rows: "\(Self.eventExportSelect) WHERE \(filter) ORDER BY e.id",
                binds: binds, format: format, to: destination, progress: progress, on: connection)
        }
    }

    // MARK: Queries

    static func standing(of address: EmailAddress, hashes: [String], on connection: PostgresConnection) async throws
        -> PersonStanding
    {
        let subscriptions = try await connection.rows("""
            SELECT l.slug, a.email, s.name, s.status, s.source, s.created_at, s.updated_at, s.subscribed_at,
                   s.unsubscribed_at
            FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
            WHERE a.identity_key = \(address.identityKey)
            ORDER BY l.slug COLLATE "C"
            """
        ).map { row in
            PersonSubscription(
                listSlug: try row.get("slug"), email: try row.get("email"), name: try row.get("name"),
                status: try status(try row.get("status")), source: try row.get("source"),
                createdAt: try row.get("created_at"), updatedAt: try row.get("updated_at"),
                subscribedAt: try row.get("subscribed_at"), unsubscribedAt: try row.get("unsubscribed_at"))
        }
        // A submission names no outbox row: its confirmation is the one queued for the
        // same list and address in the same transaction, which stamped both with one time.
        let requests = try await connection.rows("""
            SELECT l.slug, s.email, s.name, s.status, s.requested_at, s.expires_at, s.decided_at, s.consent_version,
                   s.client_ip_prefix, s.user_agent, o.status AS mail_status, o.attempts::bigint AS attempts, o.sent_at,
                   o.message_id
            FROM submissions s JOIN lists l ON l.id = s.list_id
            LEFT JOIN outbox o ON o.list_id = s.list_id AND o.address_hash = s.address_hash
                              AND o.kind = 'confirmation' AND o.created_at = s.mailed_at
            WHERE s.address_hash = \(hashes[0]) AND s.kind = 'subscribe'
            ORDER BY s.requested_at, s.id
            """
        ).map { row in
            ConfirmationRequest(
                listSlug: try row.get("slug"), email: try row.get("email"), name: try row.get("name"),
                status: try row.get("status"), requestedAt: try row.get("requested_at"),
                expiresAt: try row.get("expires_at"), decidedAt: try row.get("decided_at"),
                consentVersion: try row.get("consent_version"), clientNetwork: try row.get("client_ip_prefix"),
                userAgent: try row.get("user_agent"),
                mail: try mailState(try row.get("mail_status"), attempts: try row.get("attempts", as: Int64?.self)),
                mailSentAt: try row.get("sent_at"), messageID: try row.get("message_id"))
        }
        var suppressions: [PersonSuppression] = []
        for (index, hash) in hashes.enumerated() {
            suppressions += try await connection.rows("""
                SELECT l.slug, s.reason, s.created_at FROM suppressions s LEFT JOIN lists l ON l.id = s.list_id
                WHERE s.address_hash = \(hash)
                ORDER BY s.list_id IS NOT NULL, l.slug COLLATE "C"
                """
            ).map { row in
                PersonSuppression(
                    listSlug: try row.get("slug"), reason: try reason(try row.get("reason")),
                    since: try row.get("created_at"), ofMailbox: index > 0)
            }
        }
        return PersonStanding(subscriptions: subscriptions, requests: requests, suppressions: suppressions)
    }

    /// The events about one address: those under its own keyed hash, and, for a +tag
    /// spelling, the suppressions of its mailbox (they stop mail to it too). Nothing else
    /// recorded under the mailbox's hash: that is another subscriber (README, "One
    /// mailbox, one limit"). `own` and `mailbox` name the parameters that bind the hashes.
    static func personEventFilter(own: String, mailbox: String) -> String {
        let types = [EventType.suppressed, .unsuppressed].map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return "(e.address_hash = \(own) OR (e.address_hash = \(mailbox) AND e.type IN (\(types))))"
    }

    static func events(ofHashes hashes: [String], on connection: PostgresConnection) async throws -> [LedgerEntry] {
        var bindings = PostgresBindings()
        bindings.append(hashes[0])
        bindings.append(hashes.last ?? hashes[0])
        return try await connection.rows(PostgresQuery(unsafeSQL: """
            SELECT e.id, e.occurred_at, e.type, l.slug, e.source, e.consent_version, e.detail, c.hash
            FROM events e LEFT JOIN lists l ON l.id = e.list_id LEFT JOIN event_chain c ON c.event_id = e.id
            WHERE \(personEventFilter(own: "$1", mailbox: "$2"))
            ORDER BY e.id
            """, binds: bindings)
        ).map { row in
            LedgerEntry(
                id: try row.get("id"), occurredAt: try row.get("occurred_at"), type: try row.get("type"),
                listSlug: try row.get("slug"), source: try row.get("source"), consentVersion: try row.get("consent_version"),
                detail: flatDetail(try row.get("detail")), hash: try row.get("hash"))
        }
    }

    /// Every message to the address's keyed hash, oldest first, with the consent version
    /// of the request a confirmation was sent for.
    static func mail(toHash hash: String, on connection: PostgresConnection) async throws -> [PersonMail] {
        try await connection.rows("""
            SELECT l.slug, o.kind, o.message_id, o.status, o.attempts::bigint AS attempts, o.created_at, o.updated_at,
                   o.sent_at,
                   (SELECT s.consent_version FROM submissions s
                    WHERE o.kind = 'confirmation' AND s.list_id = o.list_id AND s.address_hash = o.address_hash
                      AND s.mailed_at = o.created_at LIMIT 1) AS consent_version
            FROM outbox o JOIN lists l ON l.id = o.list_id
            WHERE o.address_hash = \(hash)
            ORDER BY o.id
            """
        ).map { row in
            let kindText = try row.get("kind", as: String.self)
            guard let kind = AutoReplyKind(rawValue: kindText) else {
                throw StoreError.unreadableValue(column: "outbox.kind", "unknown outbox kind '\(kindText)'")
            }
            let attempts = try row.get("attempts", as: Int64.self)
            return PersonMail(
                listSlug: try row.get("slug"), kind: kind, messageID: try row.get("message_id"),
                state: try mailState(try row.get("status"), attempts: attempts), attempts: Int(attempts),
                createdAt: try row.get("created_at"), updatedAt: try row.get("updated_at"),
                sentAt: try row.get("sent_at"), consentVersion: try row.get("consent_version"))
        }
    }

    /// nil status: no outbox row (none was sent, or it was erased).
    static func mailState(_ status: String?, attempts: Int64?) throws -> MailState {
        guard let status else { return .none }
        guard let known = OutboxStatus(rawValue: status) else {
            throw StoreError.unreadableValue(column: "outbox.status", "unknown outbox status '\(status)'")
        }
        return MailState(status: known, attempts: Int(attempts ?? 0))
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

    // MARK: The events export

    static let eventExportColumns = [
        "id", "occurred_at", "type", "list", "address_hash", "source", "consent_version", "detail", "prev_hash", "hash",
    ]

    /// The export's columns over `events e` (add WHERE … ORDER BY e.id).
    static let eventExportSelect = """
        SELECT e.id, e.occurred_at, e.type, l.slug, e.address_hash, e.source, e.consent_version, e.detail,
               c.prev_hash, c.hash
        FROM events e LEFT JOIN lists l ON l.id = e.list_id LEFT JOIN event_chain c ON c.event_id = e.id
        """

    private static let progressEvery = 16_384

    /// Writes the rows of `rows` (`eventExportSelect` with its WHERE and ORDER BY) as the
    /// events export does on SQLite: times as `Timestamp.string`, the detail as JSON.
    /// `count` counts the same rows (for progress); both are SQL text of this package's
    /// own, never input, and take their values from `binds` as $1, $2, ….
    /// Rows stream from the server (a backpressured sequence), one held at a time.
    static func writeEvents(
        count: String, rows: String, binds bindings: PostgresBindings, format: DataFormat,
        to destination: ExportDestination, progress: @escaping @Sendable (TransferProgress) -> Void,
        on connection: PostgresConnection
    ) async throws -> Int {
        let total = Int(try await connection.value(PostgresQuery(unsafeSQL: count, binds: bindings), as: Int64.self) ?? 0)
        let writer = try TabularWriter(format: format, columns: eventExportColumns, destination: destination)
        var written = 0
        let sequence = try await connection.query(PostgresQuery(unsafeSQL: rows, binds: bindings), logger: PostgresConnection.quiet)
            .decode((Int64, Date, String, String?, String?, String, String?, String, String?, String?).self)
        for try await (id, occurredAt, type, slug, addressHash, source, consentVersion, detail, previous, hash) in sequence {
            try writer.integer(id)
            try writer.text(Timestamp.string(occurredAt))
            try writer.text(type)
            try writer.text(slug)
            try writer.text(addressHash)
            try writer.text(source)
            try writer.text(consentVersion)
            var detail = detail
            try detail.withUTF8 { try writer.json($0) }
            try writer.text(previous)
            try writer.text(hash)
            try writer.endRow()
            written += 1
            if written % progressEvery == 0 { progress(TransferProgress(rows: written, totalRows: total)) }
        }
        try writer.finish()
        progress(TransferProgress(rows: written, totalRows: total))
        return written
    }
}
