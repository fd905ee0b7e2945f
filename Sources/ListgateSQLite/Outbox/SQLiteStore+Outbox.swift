// Outbox queries. The worker's life cycle of a message is
// queued → sending → sent | queued (retry) | failed | quarantined,
// each step one short transaction, so a crash leaves every message in a known state.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func enqueue(_ message: NewOutboxMessage) async throws -> Int64 {
        try await pool.write { db in try Self.enqueue(message, at: Date(), in: db) }
    }

    /// Inserts one message inside the caller's transaction (the transactional outbox).
    /// `addressHash` is the recipient's, when the caller has already computed it.
    static func enqueue(
        _ message: NewOutboxMessage, at date: Date, addressHash: String? = nil, mailboxHash: String? = nil, in db: Database
    ) throws -> Int64 {
        let now = Timestamp.string(date)
        try db.cachedStatement(sql: """
                INSERT INTO outbox (message_id, list_id, kind, recipient, address_hash, mailbox_hash, needs_smtputf8,
                                    raw_message, next_attempt_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                message.messageID, message.listID, message.kind.rawValue, message.recipient.smtpPath,
                try addressHash ?? AddressHasher.hash(message.recipient, in: db),
                try mailboxHash ?? AddressHasher.mailboxHash(identityKey: message.recipient.identityKey, in: db),
                message.recipient.needsSMTPUTF8, Data(message.raw), now, now, now,
            ])
        return db.lastInsertedRowID
    }

    /// Both sides, leavers' mail first (for tests and tools that claim by hand).
    public func claimDueMessages(now: Date, limit: Int) async throws -> [OutboxMessage] {
        let leavers = try await claimDueMessages(now: now, limit: limit, confirmations: false)
        return leavers + (try await claimDueMessages(now: now, limit: limit - leavers.count, confirmations: true))
    }

    public func claimDueMessages(now: Date, limit: Int, confirmations: Bool) async throws -> [OutboxMessage] {
        guard limit > 0 else { return [] }
        let stamp = Timestamp.string(now)
        return try await pool.write { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                    UPDATE outbox SET status = 'sending', updated_at = ?
                    WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?
                                   AND (kind = 'confirmation') = ?
                                 ORDER BY next_attempt_at, id LIMIT ?)
                    RETURNING *
                    """),
                arguments: [stamp, stamp, confirmations, limit]
            ).map(Self.outboxMessage).sorted { $0.id < $1.id }
        }
    }

    public func requeueClaimed(ids: [Int64]?) async throws -> Int {
        try await pool.write { db in
            let now = Timestamp.string(Date())
            if let ids {
                guard !ids.isEmpty else { return 0 }
                // Not cached: the statement's text varies with the number of ids.
                try db.execute(
                    sql: """
                        UPDATE outbox SET status = 'queued', updated_at = ?
                        WHERE status = 'sending' AND id IN (\(databaseQuestionMarks(count: ids.count)))
                        """,
                    arguments: StatementArguments([now] + ids.map { $0 as (any DatabaseValueConvertible) }))
            } else {
                try db.cachedStatement(sql: "UPDATE outbox SET status = 'queued', updated_at = ? WHERE status = 'sending'")
                    .execute(arguments: [now])
            }
            return db.changesCount
        }
    }

    public func markSent(_ id: Int64, at date: Date) async throws {
        let stamp = Timestamp.string(date)
        try await updateClaimed(id, sql: "status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL", [stamp])
    }

    public func scheduleRetry(_ id: Int64, error: String, at next: Date) async throws {
        try await updateClaimed(
            id, sql: "status = 'queued', attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
            [String(error.prefix(1000)), Timestamp.string(next)])
    }

    public func markFailed(_ id: Int64, error: String) async throws {
        try await updateClaimed(id, sql: "status = 'failed', attempts = attempts + 1, last_error = ?", [String(error.prefix(1000))])
    }

    public func quarantine(_ id: Int64, reason: String) async throws {
        try await updateClaimed(id, sql: "status = 'quarantined', quarantine_reason = ?", [String(reason.prefix(1000))])
    }

    /// Changes a message the worker holds (`sending`); a message an operator moved
    /// meanwhile (discarded) is left alone.
    private func updateClaimed(_ id: Int64, sql assignments: String, _ values: [String]) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE outbox SET \(assignments), updated_at = ? WHERE id = ? AND status = 'sending'")
                .execute(arguments: StatementArguments(values) + [Timestamp.string(Date()), id])
        }
    }

    public func outboxSummary() async throws -> OutboxSummary {
        try await pool.read { db in
            var counts = Dictionary(uniqueKeysWithValues: OutboxStatus.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT status, count(*) AS n FROM outbox GROUP BY status")) {
                if let status = OutboxStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            let pause = try Self.pauseState(db)
            return OutboxSummary(counts: counts, paused: pause.paused, pauseReason: pause.reason)
        }
    }

    public func isOutboxPaused() async throws -> Bool {
        try await pool.read { db in try Self.setting(.outboxPaused, db) == "1" }
    }

    public func messages(status: OutboxStatus) async throws -> [OutboxMessage] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM outbox WHERE status = ? ORDER BY id"),
                arguments: [status.rawValue])
                .map(Self.outboxMessage)
        }
    }

    public func outboxEntries(status: OutboxStatus?, limit: Int) async throws -> [OutboxEntry] {
        try await pool.read { db in
            // Newest first by id, the order messages were queued in: walking the primary key
            // backwards stops after `limit` rows however many years of sent mail lie behind.
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT o.id, o.message_id, l.slug, o.kind, o.recipient, o.status, o.attempts, o.last_error,
                           o.quarantine_reason, o.created_at, o.next_attempt_at, o.sent_at
                    FROM outbox o JOIN lists l ON l.id = o.list_id
                    WHERE ?1 IS NULL OR o.status = ?1
                    ORDER BY o.id DESC
                    LIMIT ?2
                    """),
                arguments: [status?.rawValue, limit]
            ).map { row in
                OutboxEntry(
                    id: row["id"], messageID: row["message_id"], listSlug: row["slug"],
                    kind: try Self.outboxValue(row["kind"]), recipient: row["recipient"],
                    status: try Self.outboxValue(row["status"]), attempts: row["attempts"],
                    lastError: row["last_error"], quarantineReason: row["quarantine_reason"],
                    createdAt: Self.date(row["created_at"]), nextAttemptAt: Self.date(row["next_attempt_at"]),
                    sentAt: (row["sent_at"] as String?).map(Self.date))
            }
        }
    }

    /// A stored kind or status, or a loud error: the schema's CHECKs allow no other value.
    static func outboxValue<Value: RawRepresentable<String>>(_ text: String) throws -> Value {
        guard let value = Value(rawValue: text) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown outbox value '\(text)'")
        }
        return value
    }

    public func messagesSent(since date: Date) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM outbox WHERE sent_at > ?"),
                arguments: [Timestamp.string(date)]) ?? 0
        }
    }

    public func messagesQueued(since date: Date) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM outbox WHERE created_at > ?"),
                arguments: [Timestamp.string(date)]) ?? 0
        }
    }

    // MARK: Pause, discard, release

    public func setOutboxPaused(_ paused: Bool, reason: String?, source: EventSource) async throws {
        try await pool.write { db in
            let now = Date()
            if try Self.pauseState(db).paused == paused { return }  // no change, no event
            try Self.setSetting(.outboxPaused, paused ? "1" : "0", at: now, in: db)
            try Self.setSetting(.outboxPauseReason, paused ? (reason ?? "paused by an operator") : "", at: now, in: db)
            try EventLedger.append(
                NewEvent(paused ? .outboxPaused : .outboxResumed, source: source,
                         detail: paused ? ["reason": reason ?? "paused by an operator"] : [:]),
                at: now, in: db)
        }
    }

    public func discardMessage(_ id: Int64, source: EventSource) async throws {
        try await operatorTransition(
            id, from: [.queued, .failed, .quarantined], to: .discarded, event: .messageDiscarded, source: source)
    }

    public func releaseQuarantined(_ id: Int64, source: EventSource) async throws {
        try await operatorTransition(id, from: [.quarantined], to: .queued, event: .messageReleased, source: source)
    }

    private func operatorTransition(
        _ id: Int64, from allowed: [OutboxStatus], to target: OutboxStatus, event: EventType, source: EventSource
    ) async throws {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT status, list_id, address_hash, message_id FROM outbox WHERE id = ?"),
                arguments: [id]) else {
                throw DomainError.messageNotFound(id)
            }
            let status = OutboxStatus(rawValue: row["status"]) ?? .failed
            guard allowed.contains(status) else { throw DomainError.messageNotInState(id, status, allowed: allowed) }
            let now = Date()
            try db.cachedStatement(sql: """
                    UPDATE outbox SET status = ?, updated_at = ?, next_attempt_at = ?,
                        quarantine_reason = CASE WHEN ? = 'quarantined' THEN quarantine_reason ELSE NULL END
                    WHERE id = ?
                    """).execute(arguments: [target.rawValue, Timestamp.string(now), Timestamp.string(now), target.rawValue, id])
            try EventLedger.append(
                NewEvent(event, listID: row["list_id"], addressHash: row["address_hash"], source: source,
                         detail: ["outbox_id": String(id), "from_status": status.rawValue]),
                at: now, in: db)
        }
    }

    // MARK: Rows and settings

    static func outboxMessage(_ row: Row) -> OutboxMessage {
        let raw: Data = row["raw_message"]
        return OutboxMessage(
            id: row["id"], messageID: row["message_id"], listID: row["list_id"],
            kind: AutoReplyKind(rawValue: row["kind"]) ?? .confirmation,
            recipient: row["recipient"], raw: [UInt8](raw),
            status: OutboxStatus(rawValue: row["status"]) ?? .failed,
            attempts: row["attempts"],
            nextAttemptAt: Timestamp.parse(row["next_attempt_at"]) ?? Date(),
            lastError: row["last_error"], quarantineReason: row["quarantine_reason"],
            createdAt: Timestamp.parse(row["created_at"]) ?? Date(),
            sentAt: (row["sent_at"] as String?).flatMap(Timestamp.parse))
    }

    static func pauseState(_ db: Database) throws -> (paused: Bool, reason: String?) {
        let paused = try setting(.outboxPaused, db) == "1"
        let reason = try setting(.outboxPauseReason, db)
        return (paused, paused ? reason : nil)
    }

    static func setting(_ key: SettingKey, _ db: Database) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = ?"), arguments: [key.rawValue])
    }

    static func setSetting(_ key: SettingKey, _ value: String, at date: Date, in db: Database) throws {
        try db.cachedStatement(sql: """
                INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """).execute(arguments: [key.rawValue, value, Timestamp.string(date)])
    }
}

/// Settings rows written at run time (the generated keys are `GeneratedKey`).
enum SettingKey: String {
    case outboxPaused = "outbox_paused"
    case outboxPauseReason = "outbox_pause_reason"
}
