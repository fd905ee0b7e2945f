// The ledger's hash chain, checked: `listgate events verify` walks `event_chain` by
// position, recomputing each sealed event's hash from its contents and the hash before
// it, and compares the head with a checkpoint kept elsewhere. Also the import's bulk
// appender, which writes one event per row and no hash at all (the sealer adds them).
import Crypto
import Foundation
import GRDB
import ListgateCore

extension EventLedger {
    /// Appends events inside one write transaction with one prepared statement: the
    /// import's hot loop records an event per row.
    struct Appender {
        private let statement: BoundStatement

        init(_ db: Database, occurredAt: String) throws {
            statement = try BoundStatement(db, sql: """
                INSERT INTO events (occurred_at, type, list_id, address_hash, source, consent_version, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            statement.bind(1, occurredAt)
        }

        /// `detail` must already be a JSON object (the column's CHECK refuses anything else).
        func append(
            _ type: EventType, listID: Int64?, addressHash: String?, source: EventSource, consentVersion: String? = nil,
            detail: String
        ) throws {
            statement.bind(2, type.rawValue)
            statement.bind(3, listID)
            statement.bind(4, addressHash)
            statement.bind(5, source.rawValue)
            statement.bind(6, consentVersion)
            statement.bind(7, detail)
            try statement.run()
        }
    }

    /// Equal to `chainHash` for the same fields, without building the joined string.
    static func streamedChainHash(
        prevHash: String, occurredAt: String, type: String, listID: Int64?, addressHash: String?, source: String,
        consentVersion: String?, detail: String
    ) -> String {
        var hasher = SHA256()
        var separator: UInt8 = 0x1F
        func feed(_ text: String?) {
            guard var text else { return }
            text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        func next() {
            withUnsafeBytes(of: &separator) { hasher.update(bufferPointer: $0) }
        }
        feed(prevHash); next()
        feed(occurredAt); next()
        feed(type); next()
        if let listID { feed(String(listID)) }
        next()
        feed(addressHash); next()
        feed(source); next()
        feed(consentVersion); next()
        feed(detail)
        return hasher.finalize().hexString
    }

    /// Walks the chain from position 1 and stops at the first link that does not hold.
    /// Then, if the chain holds, looks for an event older than the head that is not in
    /// it, and compares the chain with `checkpoint`. Runs inside one read transaction.
    static func verify(
        in db: Database, against checkpoint: LedgerCheckpoint?, progress: (Int) -> Void
    ) throws -> LedgerVerification {
        let unsealed = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM events WHERE id > coalesce((SELECT max(event_id) FROM event_chain), 0)
            """) ?? 0
        let statement = try db.makeStatement(sql: """
            SELECT c.position, c.event_id, c.prev_hash, c.hash, e.id, e.occurred_at, e.type, e.list_id, e.address_hash,
                   e.source, e.consent_version, e.detail
            FROM event_chain c LEFT JOIN events e ON e.id = c.event_id
            ORDER BY c.position
            """)
        let cursor = try Row.fetchCursor(statement)
        var head = LedgerCheckpoint.empty
        var previousEventID: Int64?
        var hashAtCheckpoint: String? = checkpoint?.count == 0 ? genesisHash : nil
        func broken(_ eventID: Int64, _ position: Int64, _ reason: LedgerBreak.Reason) -> LedgerVerification {
            LedgerVerification(
                head: head, unsealed: unsealed,
                firstBreak: LedgerBreak(eventID: eventID, position: position, reason: reason))
        }
        while let row = try cursor.next() {
            let position: Int64 = row[0], eventID: Int64 = row[1]
            let storedPrev: String = row[2], storedHash: String = row[3]
            if position != Int64(head.count) + 1 {
                return broken(eventID, position, .positionsMissing(after: head.count))
            }
            if (row[4] as Int64?) == nil {
                return broken(eventID, position, .eventMissing)
            }
            if storedPrev != head.hash {
                let reason: LedgerBreak.Reason =
                    previousEventID.map { .previousHashMismatch(previousID: $0) } ?? .firstEventNotGenesis
                return broken(eventID, position, reason)
            }
            if let previousEventID, eventID <= previousEventID {
                return broken(eventID, position, .outOfOrder(previousID: previousEventID))
            }
            let computed = streamedChainHash(
                prevHash: storedPrev, occurredAt: row[5], type: row[6], listID: row[7], addressHash: row[8],
                source: row[9], consentVersion: row[10], detail: row[11])
            if computed != storedHash {
                return broken(eventID, position, .contentMismatch)
            }
            head = LedgerCheckpoint(count: head.count + 1, hash: storedHash)
            previousEventID = eventID
            if head.count == checkpoint?.count { hashAtCheckpoint = storedHash }
            if head.count % 65_536 == 0 { progress(head.count) }
        }
        // The sealer seals in id order, so every event up to the head's is in the chain;
        // one that is not was added behind the sealer's back, or lost its link.
        // Counting first keeps the usual case to one range count over the primary key.
        if let previousEventID,
            try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE id <= ?", arguments: [previousEventID]) != head.count,
            let stray = try Int64.fetchOne(db, sql: """
                SELECT min(e.id) FROM events e
                WHERE e.id < ? AND NOT EXISTS (SELECT 1 FROM event_chain c WHERE c.event_id = e.id)
                """, arguments: [previousEventID])
        {
            return LedgerVerification(
                head: head, unsealed: unsealed,
                firstBreak: LedgerBreak(eventID: stray, position: nil, reason: .notInChain(headEventID: previousEventID)))
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
