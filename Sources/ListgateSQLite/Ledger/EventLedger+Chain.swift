// The ledger's hash chain for many rows at a time: appending a batch of events (an
// import records one per row) and checking the whole chain (`listgate events verify`).
// Both compute exactly EventLedger.chainHash, feeding SHA-256 field by field instead of
// building one joined string per row.
import Crypto
import Foundation
import GRDB
import ListgateCore

extension EventLedger {
    /// Appends events inside one write transaction, keeping the previous hash in memory.
    /// Nothing else may append in the same transaction while it is in use.
    struct Appender {
        private(set) var lastHash: String
        private let statement: BoundStatement
        private let occurredAt: String

        init(_ db: Database, occurredAt: String) throws {
            lastHash = try String.fetchOne(db.cachedStatement(sql: "SELECT hash FROM events ORDER BY id DESC LIMIT 1"))
                ?? genesisHash
            statement = try BoundStatement(db, sql: """
                INSERT INTO events (occurred_at, type, list_id, address_hash, source, consent_version, detail, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            statement.bind(1, occurredAt)
            self.occurredAt = occurredAt
        }

        /// `detail` must already be a JSON object (the column's CHECK refuses anything else).
        mutating func append(
            _ type: EventType, listID: Int64?, addressHash: String?, source: EventSource, consentVersion: String? = nil,
            detail: String
        ) throws {
            let hash = EventLedger.streamedChainHash(
                prevHash: lastHash, occurredAt: occurredAt, type: type.rawValue, listID: listID, addressHash: addressHash,
                source: source.rawValue, consentVersion: consentVersion, detail: detail)
            statement.bind(2, type.rawValue)
            statement.bind(3, listID)
            statement.bind(4, addressHash)
            statement.bind(5, source.rawValue)
            statement.bind(6, consentVersion)
            statement.bind(7, detail)
            statement.bind(8, lastHash)
            statement.bind(9, hash)
            try statement.run()
            lastHash = hash
        }
    }

    /// Equal to `chainHash` for the same fields.
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

    /// Recomputes the chain from the first event and stops at the first link that does
    /// not hold: an event whose stored hash is not the hash of its contents (it was
    /// edited), or whose prev_hash is not the hash of the event before it (an event was
    /// removed, inserted or reordered).
    static func verify(in db: Database, progress: (Int) -> Void) throws -> LedgerVerification {
        let statement = try db.makeStatement(sql: """
            SELECT id, occurred_at, type, list_id, address_hash, source, consent_version, detail, prev_hash, hash
            FROM events ORDER BY id
            """)
        let cursor = try Row.fetchCursor(statement)
        var previous: (id: Int64, hash: String)?
        var count = 0
        while let row = try cursor.next() {
            let id: Int64 = row[0]
            let storedPrev: String = row[8], storedHash: String = row[9]
            let expectedPrev = previous?.hash ?? genesisHash
            if storedPrev != expectedPrev {
                let reason: LedgerBreak.Reason =
                    previous.map { .previousHashMismatch(previousID: $0.id) } ?? .firstEventNotGenesis
                return LedgerVerification(
                    eventCount: count, lastHash: previous?.hash, firstBreak: LedgerBreak(eventID: id, reason: reason))
            }
            let computed = streamedChainHash(
                prevHash: storedPrev, occurredAt: row[1], type: row[2], listID: row[3], addressHash: row[4],
                source: row[5], consentVersion: row[6], detail: row[7])
            if computed != storedHash {
                return LedgerVerification(
                    eventCount: count, lastHash: previous?.hash,
                    firstBreak: LedgerBreak(eventID: id, reason: .contentMismatch))
            }
            previous = (id, storedHash)
            count += 1
            if count % 65_536 == 0 { progress(count) }
        }
        return LedgerVerification(eventCount: count, lastHash: previous?.hash, firstBreak: nil)
    }
}
