// The outbox on PostgreSQL (OutboxStore): the same life cycle as ListgateSQLite's
// (Outbox/SQLiteStore+Outbox.swift), queued → sending → sent | queued (retry) | failed |
// quarantined, each step one short transaction, for several servers sharing one queue.
//
// On SQLite one server owns the queue. Here every server's worker claims from it, so a
// claim names its holder and a lease end (PostgresMigrations/0001_initial.sql, "Claims"):
//   * claiming runs READ COMMITTED with FOR UPDATE SKIP LOCKED, so two servers take
//     disjoint messages and never wait for each other (SERIALIZABLE would make one of
//     them fail and retry instead, for rows it never wanted);
//   * a `sending` message whose lease ended belongs to a server that died: the next claim
//     puts it back in the queue first, where it is claimed in its turn;
//   * the outcome of a send names the holder (`AND claimed_by = me`), so a server whose
//     claim was taken over cannot overwrite the new holder's outcome; every outcome also
//     renews the holder's other claims, so a server making progress keeps its batch;
//   * leases are measured by the database's clock (now()), the one clock every server
//     shares.
import Foundation
import ListgateCore
import NIOCore
import PostgresNIO

extension PostgresStore: OutboxStore {
    public func enqueue(_ message: NewOutboxMessage) async throws -> Int64 {
        let now = Date()
        return try await write { connection in try await Self.enqueue(message, at: now, on: connection) }
    }

    /// Both sides, leavers' mail first (for tests and tools that claim by hand).
    public func claimDueMessages(now: Date, limit: Int) async throws -> [OutboxMessage] {
        let leavers = try await claimDueMessages(now: now, limit: limit, confirmations: false)
        return leavers + (try await claimDueMessages(now: now, limit: limit - leavers.count, confirmations: true))
    }

    public func claimDueMessages(now: Date, limit: Int, confirmations: Bool) async throws -> [OutboxMessage] {
        guard limit > 0 else { return [] }
        let me = instance
        let lease = claimLeaseSeconds
        let stamp = now.stored
        return try await readCommitted { connection in
            try await Self.requeueExpiredClaims(at: stamp, on: connection)
            // Two statements, one per partial index (see the schema's comment on them).
            let claimed: [PostgresRandomAccessRow]
            if confirmations {
                claimed = try await connection.rows("""
                    UPDATE outbox SET status = 'sending', updated_at = \(stamp), claimed_by = \(me),
                        claimed_until = now() + make_interval(secs => \(lease))
                    WHERE id IN (SELECT id FROM outbox
                                 WHERE status = 'queued' AND kind = 'confirmation' AND next_attempt_at <= \(stamp)
                                 ORDER BY next_attempt_at, id LIMIT \(limit)
                                 FOR UPDATE SKIP LOCKED)
                    RETURNING *
                    """)
            } else {
                claimed = try await connection.rows("""
                    UPDATE outbox SET status = 'sending', updated_at = \(stamp), claimed_by = \(me),
                        claimed_until = now() + make_interval(secs => \(lease))
                    WHERE id IN (SELECT id FROM outbox
                                 WHERE status = 'queued' AND kind <> 'confirmation' AND next_attempt_at <= \(stamp)
                                 ORDER BY next_attempt_at, id LIMIT \(limit)
                                 FOR UPDATE SKIP LOCKED)
                    RETURNING *
                    """)
            }
            return try claimed.map(Self.outboxMessage).sorted { $0.id < $1.id }
        }
    }

    /// Puts back in the queue the messages of servers whose lease ended (they stopped
    /// without settling them), skipping any another claim is taking over right now.
    static func requeueExpiredClaims(at stamp: Date, on connection: PostgresConnection) async throws {
        try await connection.execute("""
            UPDATE outbox SET status = 'queued', updated_at = \(stamp), claimed_by = NULL, claimed_until = NULL
            WHERE id IN (SELECT id FROM outbox WHERE status = 'sending' AND claimed_until < now()
                         FOR UPDATE SKIP LOCKED)
            """)
    }

    /// With `ids`, this server's claims among them (the rest of a batch it will not send).
    /// Without, what the worker settles when it starts: this server's own claims and any
    /// whose lease ended, never another live server's.
    public func requeueClaimed(ids: [Int64]?) async throws -> Int {
        let me = instance
        let now = Date().stored
        return try await readCommitted { connection in
            if let ids {
                guard !ids.isEmpty else { return 0 }
                return try await connection.rows("""
                    UPDATE outbox SET status = 'queued', updated_at = \(now), claimed_by = NULL, claimed_until = NULL
                    WHERE status = 'sending' AND claimed_by = \(me) AND id = ANY(\(ids))
                    RETURNING id
                    """).count
            }
            return try await connection.rows("""
                UPDATE outbox SET status = 'queued', updated_at = \(now), claimed_by = NULL, claimed_until = NULL
                WHERE id IN (SELECT id FROM outbox
                             WHERE status = 'sending' AND (claimed_by = \(me) OR claimed_until < now())
                             FOR UPDATE SKIP LOCKED)
                RETURNING id
                """).count
        }
    }

    /// Not limited to this server's claims, unlike the other outcomes: that the SMTP server
    /// accepted a message is a fact, whoever records it. The worker that starts after a
    /// crash marks what its delivery journal says was accepted, claimed by the process
    /// before it (another instance id); a server whose claim was taken over but whose send
    /// went through spares the new holder a second send, or finds the message settled.
    public func markSent(_ id: Int64, at date: Date) async throws {
        let stamp = date.stored
        let now = Date().stored
        let me = instance
        let lease = claimLeaseSeconds
        try await readCommitted { connection in
            try await connection.execute("""
                UPDATE outbox SET status = 'sent', sent_at = \(stamp), attempts = attempts + 1, last_error = NULL,
                    updated_at = \(now), claimed_by = NULL, claimed_until = NULL
                WHERE id = \(id) AND status = 'sending'
                """)
            try await Self.renewClaims(of: me, lease: lease, on: connection)
        }
    }

    public func scheduleRetry(_ id: Int64, error: String, at next: Date) async throws {
        let text = String(error.prefix(1000))
        let next = next.stored
        try await updateClaimed(id) { now, me in
            """
            UPDATE outbox SET status = 'queued', attempts = attempts + 1, last_error = \(text), next_attempt_at = \(next),
                updated_at = \(now), claimed_by = NULL, claimed_until = NULL
            WHERE id = \(id) AND status = 'sending' AND claimed_by = \(me)
            """
        }
    }

    public func markFailed(_ id: Int64, error: String) async throws {
        let text = String(error.prefix(1000))
        try await updateClaimed(id) { now, me in
            """
            UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = \(text),
                updated_at = \(now), claimed_by = NULL, claimed_until = NULL
            WHERE id = \(id) AND status = 'sending' AND claimed_by = \(me)
            """
        }
    }

    public func quarantine(_ id: Int64, reason: String) async throws {
        let text = String(reason.prefix(1000))
        try await updateClaimed(id) { now, me in
            """
            UPDATE outbox SET status = 'quarantined', quarantine_reason = \(text),
                updated_at = \(now), claimed_by = NULL, claimed_until = NULL
            WHERE id = \(id) AND status = 'sending' AND claimed_by = \(me)
            """
        }
    }

    /// Changes a message this server holds (`sending`, claimed by it); a message an
    /// operator moved meanwhile (discarded), or another server took over, is left alone.
    private func updateClaimed(_ id: Int64, _ statement: @escaping @Sendable (Date, String) -> PostgresQuery) async throws {
        let me = instance
        let lease = claimLeaseSeconds
        let now = Date().stored
        try await readCommitted { connection in
            try await connection.execute(statement(now, me))
            try await Self.renewClaims(of: me, lease: lease, on: connection)
        }
    }

    /// Extends the lease of every message `holder` still holds: it is making progress.
    static func renewClaims(of holder: String, lease: Double, on connection: PostgresConnection) async throws {
        try await connection.execute("""
            UPDATE outbox SET claimed_until = now() + make_interval(secs => \(lease))
            WHERE status = 'sending' AND claimed_by = \(holder)
            """)
    }

    public func outboxSummary() async throws -> OutboxSummary {
        try await read { connection in
            var counts = Dictionary(uniqueKeysWithValues: OutboxStatus.allCases.map { ($0, 0) })
            for row in try await connection.rows("SELECT status, count(*) AS n FROM outbox GROUP BY status") {
                if let status = OutboxStatus(rawValue: try row.get("status", as: String.self)) {
                    counts[status] = Int(try row.get("n", as: Int64.self))
                }
            }
            let pause = try await Self.pauseState(on: connection)
            return OutboxSummary(counts: counts, paused: pause.paused, pauseReason: pause.reason)
        }
    }

    /// Read from the database on every call (no cache), so a pause set on one server stops
    /// every server's worker at its next check.
    public func isOutboxPaused() async throws -> Bool {
        try await read { connection in try await Self.setting(.outboxPaused, on: connection) == "1" }
    }

    public func messages(status: OutboxStatus) async throws -> [OutboxMessage] {
        try await read { connection in
            try await connection.rows("SELECT * FROM outbox WHERE status = \(status.rawValue) ORDER BY id")
                .map(Self.outboxMessage)
        }
    }

    public func outboxEntries(status: OutboxStatus?, limit: Int) async throws -> [OutboxEntry] {
        try await read { connection in
            // Newest first by id, the order messages were queued in: walking the primary key
            // backwards stops after `limit` rows however many years of sent mail lie behind.
            try await connection.rows("""
                SELECT o.id, o.message_id, l.slug, o.kind, o.recipient, o.status, o.attempts, o.last_error,
                       o.quarantine_reason, o.created_at, o.next_attempt_at, o.sent_at
                FROM outbox o JOIN lists l ON l.id = o.list_id
                WHERE \(status?.rawValue)::text IS NULL OR o.status = \(status?.rawValue)
                ORDER BY o.id DESC
                LIMIT \(limit)
                """
            ).map { row in
                OutboxEntry(
                    id: try row.get("id"), messageID: try row.get("message_id"), listSlug: try row.get("slug"),
                    kind: try Self.outboxValue(try row.get("kind")), recipient: try row.get("recipient"),
                    status: try Self.outboxValue(try row.get("status")), attempts: Int(try row.get("attempts", as: Int32.self)),
                    lastError: try row.get("last_error"), quarantineReason: try row.get("quarantine_reason"),
                    createdAt: try row.get("created_at"), nextAttemptAt: try row.get("next_attempt_at"),
                    sentAt: try row.get("sent_at"))
            }
        }
    }

    /// A stored kind or status, or a loud error: the schema's CHECKs allow no other value.
    static func outboxValue<Value: RawRepresentable<String>>(_ text: String) throws -> Value {
        guard let value = Value(rawValue: text) else { throw StoreError.unreadableValue(column: "outbox", text) }
        return value
    }

    public func messagesSent(since date: Date) async throws -> Int {
        let since = date.stored
        return try await read { connection in
            Int(try await connection.value("SELECT count(*) FROM outbox WHERE sent_at > \(since)", as: Int64.self) ?? 0)
        }
    }

    public func messagesQueued(since date: Date) async throws -> Int {
        let since = date.stored
        return try await read { connection in
            Int(try await connection.value("SELECT count(*) FROM outbox WHERE created_at > \(since)", as: Int64.self) ?? 0)
        }
    }

    // MARK: Pause, discard, release

    public func setOutboxPaused(_ paused: Bool, reason: String?, source: EventSource) async throws {
        let now = Date()
        try await write { connection in
            if try await Self.pauseState(on: connection).paused == paused { return }  // no change, no event
            try await Self.setSetting(.outboxPaused, paused ? "1" : "0", at: now, on: connection)
            try await Self.setSetting(
                .outboxPauseReason, paused ? (reason ?? "paused by an operator") : "", at: now, on: connection)
            try await PostgresLedger.append(
                NewEvent(paused ? .outboxPaused : .outboxResumed, source: source,
                         detail: paused ? ["reason": reason ?? "paused by an operator"] : [:]),
                at: now, on: connection)
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
        let now = Date()
        try await write { connection in
            guard let row = try await connection.row(
                "SELECT status, list_id, address_hash, message_id FROM outbox WHERE id = \(id)")
            else { throw DomainError.messageNotFound(id) }
            let status = OutboxStatus(rawValue: try row.get("status", as: String.self)) ?? .failed
            guard allowed.contains(status) else { throw DomainError.messageNotInState(id, status, allowed: allowed) }
            try await connection.execute("""
                UPDATE outbox SET status = \(target.rawValue), updated_at = \(now.stored), next_attempt_at = \(now.stored),
                    quarantine_reason = CASE WHEN \(target.rawValue) = 'quarantined' THEN quarantine_reason ELSE NULL END
                WHERE id = \(id)
                """)
            try await PostgresLedger.append(
                NewEvent(event, listID: try row.get("list_id", as: Int64.self),
                         addressHash: try row.get("address_hash", as: String?.self), source: source,
                         detail: ["outbox_id": String(id), "from_status": status.rawValue]),
                at: now, on: connection)
        }
    }

    // MARK: Rows and settings

    static func outboxMessage(_ row: PostgresRandomAccessRow) throws -> OutboxMessage {
        let raw = try row.get("raw_message", as: ByteBuffer.self)
        return OutboxMessage(
            id: try row.get("id"), messageID: try row.get("message_id"), listID: try row.get("list_id"),
            kind: AutoReplyKind(rawValue: try row.get("kind", as: String.self)) ?? .confirmation,
            recipient: try row.get("recipient"), raw: Array(raw.readableBytesView),
            status: OutboxStatus(rawValue: try row.get("status", as: String.self)) ?? .failed,
            attempts: Int(try row.get("attempts", as: Int32.self)),
            nextAttemptAt: try row.get("next_attempt_at"),
            lastError: try row.get("last_error"), quarantineReason: try row.get("quarantine_reason"),
            createdAt: try row.get("created_at"), sentAt: try row.get("sent_at"))
    }

    static func pauseState(on connection: PostgresConnection) async throws -> (paused: Bool, reason: String?) {
        let paused = try await setting(.outboxPaused, on: connection) == "1"
        let reason = try await setting(.outboxPauseReason, on: connection)
        return (paused, paused ? reason : nil)
    }

    static func setting(_ key: OutboxSetting, on connection: PostgresConnection) async throws -> String? {
        try await connection.value("SELECT value FROM settings WHERE key = \(key.rawValue)", as: String.self)
    }

    static func setSetting(_ key: OutboxSetting, _ value: String, at date: Date, on connection: PostgresConnection) async throws {
        try await connection.execute("""
            INSERT INTO settings (key, value, updated_at) VALUES (\(key.rawValue), \(value), \(date.stored))
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """)
    }
}

/// The settings rows the outbox writes at run time, named as on SQLite (SettingKey).
enum OutboxSetting: String {
    case outboxPaused = "outbox_paused"
    case outboxPauseReason = "outbox_pause_reason"
}

extension PostgresStore {
    /// The claim lease in seconds, to bind into `make_interval(secs => …)`.
    var claimLeaseSeconds: Double {
        Double(claimLease.components.seconds) + Double(claimLease.components.attoseconds) / 1e18
    }
}
