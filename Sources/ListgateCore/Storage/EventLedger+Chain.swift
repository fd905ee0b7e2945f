// The ledger's hash chain, checked: `listgate events verify` walks `event_chain` by
// position, recomputing each sealed event's hash from its contents and the hash before
// it, and compares the head with a checkpoint kept elsewhere. Also the import's bulk
// appender, which writes one event per row and no hash at all (the sealer adds them).
import Crypto
import Foundation
import GRDB

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

/// A point of the chain to keep outside the database (`listgate events checkpoint`):
/// the number of sealed events and the hash of the last. A later `events verify
/// --checkpoint` proves the chain still passes through it, which a chain rewritten and
/// re-hashed from an earlier event, or cut short, does not.
public struct LedgerCheckpoint: Sendable, Equatable, Codable {
    public let count: Int
    public let hash: String

    public init(count: Int, hash: String) {
        self.count = count
        self.hash = hash
    }

    /// Before the first event: the hash the first sealed event starts from.
    public static let empty = LedgerCheckpoint(count: 0, hash: EventLedger.genesisHash)

    public var isWellFormed: Bool {
        count >= 0 && hash.utf8.count == 64
            && hash.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
            && (count > 0 || hash == EventLedger.genesisHash)
    }
}

/// The outcome of checking the ledger's hash chain.
public struct LedgerVerification: Sendable, Equatable {
    /// The last sound point of the chain: all of it when the chain holds, otherwise the
    /// part before the first problem.
    public let head: LedgerCheckpoint
    /// Events appended but not sealed yet: newer than the head, waiting for the sealer.
    /// Not a problem: they are in the database, only not hashed into the chain yet.
    public let unsealed: Int
    public let firstBreak: LedgerBreak?
    /// Set when a checkpoint was given and the chain no longer passes through it.
    public var checkpointMismatch: CheckpointMismatch?
    /// Whether the triggers that refuse UPDATE and DELETE on events and on the chain are
    /// all in place.
    public var appendOnlyTriggersPresent = true

    public init(head: LedgerCheckpoint, unsealed: Int, firstBreak: LedgerBreak?) {
        self.head = head
        self.unsealed = unsealed
        self.firstBreak = firstBreak
    }

    /// Sealed events found sound.
    public var sealed: Int { head.count }
    public var isIntact: Bool { firstBreak == nil && checkpointMismatch == nil }
    /// What is wrong, in one sentence; nil when the chain holds.
    public var problem: String? { firstBreak?.description ?? checkpointMismatch?.description }
}

public struct LedgerBreak: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The event's contents do not hash to its sealed hash: it was edited.
        case contentMismatch
        /// Its prev_hash is not the hash sealed before it: chain rows were removed,
        /// inserted or reordered.
        case previousHashMismatch(previousID: Int64)
        /// The first sealed event does not start from the genesis hash: earlier ones were removed.
        case firstEventNotGenesis
        /// The chain jumps over positions after this many: their rows were removed.
        case positionsMissing(after: Int)
        /// The chain names an event that is no longer in the ledger: it was removed.
        case eventMissing
        /// Sealed after an event with a higher id, which the sealer never does.
        case outOfOrder(previousID: Int64)
        /// Older than the head's event, yet not in the chain.
        case notInChain(headEventID: Int64)
    }

    public let eventID: Int64
    /// Its place in the chain; nil for an event that has none.
    public let position: Int64?
    public let reason: Reason

    public init(eventID: Int64, position: Int64?, reason: Reason) {
        self.eventID = eventID
        self.position = position
        self.reason = reason
    }

    public var description: String {
        let at = position.map { " (chain position \($0))" } ?? ""
        return switch reason {
        case .contentMismatch:
            "event \(eventID)\(at) does not match its hash: it was changed after it was recorded"
        case .previousHashMismatch(let previousID):
            "event \(eventID)\(at) does not follow event \(previousID) (its prev_hash differs): events were removed, inserted or reordered"
        case .firstEventNotGenesis:
            "event \(eventID)\(at), the first one, does not start the chain: earlier events were removed"
        case .positionsMissing(let count):
            "event \(eventID)\(at) does not follow position \(count): the chain rows between were removed"
        case .eventMissing:
            "event \(eventID)\(at) is sealed but no longer in the ledger: it was removed"
        case .outOfOrder(let previousID):
            "event \(eventID)\(at) is sealed after event \(previousID), a newer one: the chain was reordered"
        case .notInChain(let headEventID):
            "event \(eventID) is older than the sealed head (event \(headEventID)) but not in the chain: it was inserted afterwards, or its chain row was removed"
        }
    }
}

/// How the chain fails to extend a checkpoint.
public enum CheckpointMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The chain holds fewer sealed events than the checkpoint counted: it was cut short.
    case shorter(checkpoint: LedgerCheckpoint, sealed: Int)
    /// Another hash at the checkpoint's position: the chain was rewritten up to there.
    case differentHash(checkpoint: LedgerCheckpoint, found: String)

    public var description: String {
        switch self {
        case .shorter(let checkpoint, let sealed):
            "the chain holds \(sealed) sealed events, fewer than the checkpoint's \(checkpoint.count): it was truncated"
        case .differentHash(let checkpoint, let found):
            "the event at chain position \(checkpoint.count) has hash \(found), not the checkpoint's \(checkpoint.hash): the chain was rewritten"
        }
    }
}
