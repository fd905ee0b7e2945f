// The ledger's chain on PostgreSQL (LedgerStore): the sealer's passes and `listgate events
// verify`, as ListgateSQLite's Ledger/SQLiteStore+Ledger.swift, EventLedger+Sealer.swift
// and EventLedger+Chain.swift do them, over the same hashes (LedgerHash.chain).
//
// What differs is the order. On SQLite one writer at a time makes id order commit order;
// here a transaction that took id 10 may commit after one that took id 11. So the chain
// follows `(written_by, id)`: `written_by` is the writing transaction's id, and the
// sealer takes only events whose writer is older than every transaction still running
// (`pg_snapshot_xmin(pg_current_snapshot())`), which nothing can precede any more
// (PostgresMigrations/0001_initial.sql, "The ledger"). Hence, here:
//   - the unsealed tail is every event after the head in `(written_by, id)` order;
//   - verify checks each link's order by `(written_by, id)`, and looks for strays below
//     the head's `(written_by, id)` that are not in the chain.
//
// Writers never wait on the sealer: they only insert events, and the sealer's
// transaction is READ COMMITTED (not the SERIALIZABLE of `write`), so its reads of events
// take no predicate locks that could make a writer's transaction fail and retry. What
// keeps two sealers apart is the lease row (upserted first, so a second sealer's pass
// finds it taken) and, behind it, event_chain's primary key and its head trigger.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: LedgerStore {
    static let sealerLeaseName = "ledger_sealer"

    /// The chain's head: its last link's event, with the event's writer (xid8 as text:
    /// postgres-nio has no decoder for it, and it is only bound back).
    struct ChainHead: Sendable {
        let eventID: Int64
        let writtenBy: String
    }

    /// The order key of the chain: the writing transaction's id, then the event's.
    struct SealingOrder: Comparable, Sendable {
        let writtenBy: UInt64
        let id: Int64

        static func < (a: SealingOrder, b: SealingOrder) -> Bool { (a.writtenBy, a.id) < (b.writtenBy, b.id) }
    }

    static func chainHead(on connection: PostgresConnection) async throws -> ChainHead? {
        guard let row = try await connection.row("""
            SELECT c.event_id, e.written_by::text AS written_by
            FROM event_chain c JOIN events e ON e.id = c.event_id
            ORDER BY c.position DESC LIMIT 1
            """) else { return nil }
        return ChainHead(eventID: try row.get("event_id"), writtenBy: try row.get("written_by"))
    }

    public func sealLedger(as holder: String, lease: Duration, batch: Int, releasingWhenDone: Bool) async throws -> SealPass {
        // A read first: most passes of an idle server find nothing to do, and a sealer
        // that does not hold the lease learns it without writing. Lease times are the
        // database's clock: the holders may run on several machines.
        let half = lease.seconds / 2
        let (current, waiting) = try await read { connection -> (LeaseState?, Bool) in
            let lease = try await connection.row("""
                SELECT holder, expires_at, expires_at > clock_timestamp() AS live,
                       expires_at > clock_timestamp() + make_interval(secs => \(half)) AS fresh
                FROM leases WHERE name = \(Self.sealerLeaseName)
                """).map { row in
                LeaseState(
                    holder: try row.get("holder"), expiresAt: try row.get("expires_at"), live: try row.get("live"),
                    fresh: try row.get("fresh"))
            }
            let head = try await Self.chainHead(on: connection)
            let waiting = try await connection.value("""
                SELECT EXISTS (
                    SELECT 1 FROM events
                    WHERE (written_by, id) > (\(head?.writtenBy ?? "0")::xid8, \(head?.eventID ?? 0))
                      AND written_by < pg_snapshot_xmin(pg_current_snapshot()))
                """, as: Bool.self) ?? false
            return (lease, waiting)
        }
        if let current, current.holder != holder, current.live {
            return .leaseHeld(by: current.holder, until: current.expiresAt)
        }
        if !waiting {
            guard let current, current.holder == holder else { return .sealed(count: 0, more: false, oldest: nil) }
            // Renewed when half gone: an idle holder writes every few seconds, not every pass.
            if !releasingWhenDone, current.fresh { return .sealed(count: 0, more: false, oldest: nil) }
        }
        let seconds = lease.seconds
        return try await readCommitted { connection -> SealPass in
            let taken = try await Self.takeSealerLease(holder: holder, seconds: seconds, on: connection)
            guard taken.holder == holder else { return .leaseHeld(by: taken.holder, until: taken.expiresAt) }
            let sealed = try await Self.seal(upTo: batch, on: connection)
            let more = sealed.count == batch
            if releasingWhenDone, !more { try await Self.releaseSealerLease(holder: holder, on: connection) }
            return .sealed(count: sealed.count, more: more, oldest: sealed.oldest)
        }
    }

    public func releaseSealerLease(held holder: String) async throws {
        try await write { connection in try await Self.releaseSealerLease(holder: holder, on: connection) }
    }

    struct LeaseState: Sendable {
        let holder: String
        let expiresAt: Date
        var live = true
        var fresh = true
    }

    /// Takes the lease for `holder` when it is free or expired, or renews it when
    /// `holder` has it. Returns the lease as it now stands: someone else's when it was
    /// live. The upsert locks the row: a second sealer's waits for this transaction, then
    /// finds the lease taken.
    static func takeSealerLease(holder: String, seconds: Double, on connection: PostgresConnection) async throws -> LeaseState {
        try await connection.execute("""
            INSERT INTO leases (name, holder, expires_at)
            VALUES (\(sealerLeaseName), \(holder), date_trunc('milliseconds', clock_timestamp() + make_interval(secs => \(seconds))))
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at <= clock_timestamp()
            """)
        guard let row = try await connection.row("SELECT holder, expires_at FROM leases WHERE name = \(sealerLeaseName)") else {
            throw StoreError.unreadableValue(column: "leases.holder", "the sealer's lease vanished as it was taken")
        }
        return LeaseState(holder: try row.get("holder"), expiresAt: try row.get("expires_at"))
    }

    static func releaseSealerLease(holder: String, on connection: PostgresConnection) async throws {
        try await connection.execute("DELETE FROM leases WHERE name = \(sealerLeaseName) AND holder = \(holder)")
    }

    /// Seals up to `limit` of the events after the head, in `(written_by, id)` order,
    /// among those no running transaction can precede. Returns how many, and when the
    /// first of them was recorded.
    static func seal(upTo limit: Int, on connection: PostgresConnection) async throws -> (count: Int, oldest: Date?) {
        let head = try await connection.row("""
            SELECT c.position, c.hash, c.event_id, e.written_by::text AS written_by
            FROM event_chain c JOIN events e ON e.id = c.event_id
            ORDER BY c.position DESC LIMIT 1
            """)
        var position: Int64 = try head?.get("position", as: Int64.self) ?? 0
        var previousHash: String = try head?.get("hash", as: String.self) ?? LedgerCheckpoint.genesisHash
        let headEventID: Int64 = try head?.get("event_id", as: Int64.self) ?? 0
        let headWriter: String = try head?.get("written_by", as: String.self) ?? "0"
        var positions: [Int64] = [], ids: [Int64] = [], previous: [String] = [], hashes: [String] = []
        var oldest: Date?
        let events = try await connection.query("""
            SELECT id, occurred_at, type, list_id, address_hash, source, consent_version, detail
            FROM events
            WHERE (written_by, id) > (\(headWriter)::xid8, \(headEventID))
              AND written_by < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY written_by, id
            LIMIT \(limit)
            """, logger: PostgresConnection.quiet)
        for try await (id, occurredAt, type, listID, addressHash, source, consentVersion, detail) in events.decode(
            (Int64, Date, String, Int64?, String?, String, String?, String).self)
        {
            let hash = LedgerHash.chain(
                prevHash: previousHash, occurredAt: Timestamp.string(occurredAt), type: type, listID: listID,
                addressHash: addressHash, source: source, consentVersion: consentVersion, detail: detail)
            if oldest == nil { oldest = occurredAt.stored }
            position += 1
            positions.append(position)
            ids.append(id)
            previous.append(previousHash)
            hashes.append(hash)
            previousHash = hash
        }
        guard !ids.isEmpty else { return (0, nil) }
        // One statement for the batch, in position order: each row's head check sees the
        // rows inserted before it by the same statement.
        try await connection.execute("""
            INSERT INTO event_chain (position, event_id, prev_hash, hash)
            SELECT position, event_id, prev_hash, hash
            FROM unnest(\(positions)::bigint[], \(ids)::bigint[], \(previous)::text[], \(hashes)::text[])
                AS link (position, event_id, prev_hash, hash)
            ORDER BY position
            """)
        return (ids.count, oldest)
    }

    public func verifyLedger(
        against checkpoint: LedgerCheckpoint?, progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> LedgerVerification {
        // One snapshot for the whole walk, which may take minutes on a large ledger: not
        // bounded by the store's deadline for one operation.
        try await longRead { connection in
            let total = Int(try await connection.value("SELECT count(*) FROM event_chain", as: Int64.self) ?? 0)
            var result = try await Self.verify(on: connection, against: checkpoint) {
                progress(TransferProgress(rows: $0, totalRows: total))
            }
            // The refusals of UPDATE, DELETE and TRUNCATE on both tables, present and enabled.
            result.appendOnlyTriggersPresent = try await connection.value("""
                SELECT count(*) FROM pg_trigger t
                WHERE t.tgenabled <> 'D' AND (
                    (t.tgrelid = 'events'::regclass AND t.tgname IN (
                        'events_are_append_only_update', 'events_are_append_only_delete', 'events_are_append_only_truncate'))
                    OR (t.tgrelid = 'event_chain'::regclass AND t.tgname IN (
                        'event_chain_is_append_only_update', 'event_chain_is_append_only_delete',
                        'event_chain_is_append_only_truncate')))
                """, as: Int64.self) == 6
            return result
        }
    }

    /// Walks the chain from position 1 and stops at the first link that does not hold.
    /// Then, if the chain holds, looks for an event before the head (in sealing order)
    /// that is not in it, and compares the chain with `checkpoint`.
    static func verify(
        on connection: PostgresConnection, against checkpoint: LedgerCheckpoint?, progress: (Int) -> Void
    ) async throws -> LedgerVerification {
        let unsealed: Int
        let newestSealed = try await connection.row("""
            SELECT e.id, e.written_by::text AS written_by FROM event_chain c JOIN events e ON e.id = c.event_id
            ORDER BY e.written_by DESC, e.id DESC LIMIT 1
            """)
        if let newestSealed {
            unsealed = Int(try await connection.value("""
                SELECT count(*) FROM events
                WHERE (written_by, id) > (\(try newestSealed.get("written_by", as: String.self))::xid8,
                                          \(try newestSealed.get("id", as: Int64.self)))
                """, as: Int64.self) ?? 0)
        } else {
            unsealed = Int(try await connection.value("SELECT count(*) FROM events", as: Int64.self) ?? 0)
        }
        var head = LedgerCheckpoint.empty
        var previous: (order: SealingOrder, writtenBy: String)?
        var hashAtCheckpoint: String? = checkpoint?.count == 0 ? LedgerCheckpoint.genesisHash : nil
        func broken(_ eventID: Int64, _ position: Int64, _ reason: LedgerBreak.Reason) -> LedgerVerification {
            LedgerVerification(
                head: head, unsealed: unsealed, firstBreak: LedgerBreak(eventID: eventID, position: position, reason: reason))
        }
        let links = try await connection.query("""
            SELECT c.position, c.event_id, c.prev_hash, c.hash, e.id, e.written_by::text, e.occurred_at, e.type, e.list_id,
                   e.address_hash, e.source, e.consent_version, e.detail
            FROM event_chain c LEFT JOIN events e ON e.id = c.event_id
            ORDER BY c.position
            """, logger: PostgresConnection.quiet)
        for try await (position, eventID, storedPrev, storedHash, found, writtenBy, occurredAt, type, listID, addressHash, source,
                       consentVersion, detail)
            in links.decode((Int64, Int64, String, String, Int64?, String?, Date?, String?, Int64?, String?, String?, String?,
                             String?).self)
        {
            if position != Int64(head.count) + 1 {
                return broken(eventID, position, .positionsMissing(after: head.count))
            }
            guard found != nil, let writtenBy, let writer = UInt64(writtenBy), let occurredAt, let type, let source, let detail
            else {
                return broken(eventID, position, .eventMissing)
            }
            if storedPrev != head.hash {
                let reason: LedgerBreak.Reason =
                    previous.map { .previousHashMismatch(previousID: $0.order.id) } ?? .firstEventNotGenesis
                return broken(eventID, position, reason)
            }
            let order = SealingOrder(writtenBy: writer, id: eventID)
            if let previous, order <= previous.order {
                return broken(eventID, position, .outOfOrder(previousID: previous.order.id))
            }
            let computed = LedgerHash.chain(
                prevHash: storedPrev, occurredAt: Timestamp.string(occurredAt), type: type, listID: listID,
                addressHash: addressHash, source: source, consentVersion: consentVersion, detail: detail)
            if computed != storedHash {
                return broken(eventID, position, .contentMismatch)
            }
            head = LedgerCheckpoint(count: head.count + 1, hash: storedHash)
            previous = (order, writtenBy)
            if head.count == checkpoint?.count { hashAtCheckpoint = storedHash }
            if head.count % 65_536 == 0 { progress(head.count) }
        }
        // The sealer seals in (written_by, id) order, so every event up to the head's is in
        // the chain; one that is not was added behind the sealer's back, or lost its link.
        // Counting first keeps the usual case to one range count over events_sealing_order.
        if let previous {
            let below = try await connection.value("""
                SELECT count(*) FROM events WHERE (written_by, id) <= (\(previous.writtenBy)::xid8, \(previous.order.id))
                """, as: Int64.self)
            if below != Int64(head.count), let stray = try await connection.value("""
                SELECT e.id FROM events e
                WHERE (e.written_by, e.id) < (\(previous.writtenBy)::xid8, \(previous.order.id))
                  AND NOT EXISTS (SELECT 1 FROM event_chain c WHERE c.event_id = e.id)
                ORDER BY e.written_by, e.id LIMIT 1
                """, as: Int64.self)
            {
                return LedgerVerification(
                    head: head, unsealed: unsealed,
                    firstBreak: LedgerBreak(eventID: stray, position: nil, reason: .notInChain(headEventID: previous.order.id)))
            }
        }
        var result = LedgerVerification(head: head, unsealed: unsealed, firstBreak: nil)
        if let checkpoint {
            if head.count < checkpoint.count {
                result.checkpointMismatch = .shorter(checkpoint: checkpoint, sealed: head.count)
            } else if hashAtCheckpoint != checkpoint.hash {
                result.checkpointMismatch = .differentHash(checkpoint: checkpoint, found: hashAtCheckpoint ?? "")
            }
        }
        return result
    }
}

private extension Duration {
    /// The duration in seconds, fractions included.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
