// The sealer: adds appended events to the hash chain after their commit, in id order, in
// batches (README, "The ledger: durable now, sealed soon"). Writers never read the chain
// nor hash for it, so they never wait on each other for it; the chain is still one
// sequence that `events verify` checks exactly.
//
// One sealer at a time, by a lease in the database: whoever holds the unexpired
// `ledger_sealer` row seals, renewing it as it goes; a holder that dies stops renewing
// and anyone may take the lease once it expires. On SQLite one writer at a time would
// already keep two sealers from interleaving (and event_chain's trigger refuses anything
// but the next link); the lease keeps them from competing at all, and is what a store
// with concurrent writers needs.
//
// With a single writer, id order is commit order: an event with a lower id than one
// already sealed cannot appear later, so "every event above the head's id" is exactly
// the unsealed tail.
import Crypto
import Foundation
import GRDB
import ListgateCore
#if canImport(GRDBSQLite)
import GRDBSQLite
#elseif canImport(SQLite3)
import SQLite3
#endif

extension EventLedger {
    static let sealerLeaseName = "ledger_sealer"

    struct Lease {
        let holder: String
        let expiresAt: String
    }

    static func sealerLease(in db: Database) throws -> Lease? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT holder, expires_at FROM leases WHERE name = ?"), arguments: [sealerLeaseName]
        ).map { Lease(holder: $0["holder"], expiresAt: $0["expires_at"]) }
    }

    /// Takes the lease for `holder` when it is free or expired, or renews it when
    /// `holder` has it. Returns the lease as it now stands: someone else's when it was live.
    static func takeSealerLease(holder: String, now: Date, duration: Duration, in db: Database) throws -> Lease {
        let expires = now.addingTimeInterval(duration.seconds)
        try db.cachedStatement(sql: """
            INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4
            """).execute(arguments: [sealerLeaseName, holder, Timestamp.string(expires), Timestamp.string(now)])
        guard let lease = try sealerLease(in: db) else {
            throw StoreError.unreadableValue(column: "leases.holder", "the sealer's lease vanished as it was taken")
        }
        return lease
    }

    static func releaseSealerLease(holder: String, in db: Database) throws {
        try db.execute(
            sql: "DELETE FROM leases WHERE name = ? AND holder = ?", arguments: [sealerLeaseName, holder])
    }

    /// The id of the newest event and of the newest sealed one (0 for none).
    static func tail(in db: Database) throws -> (newest: Int64, sealed: Int64) {
        let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT coalesce((SELECT max(id) FROM events), 0), coalesce((SELECT max(event_id) FROM event_chain), 0)
            """))
        return (row?[0] ?? 0, row?[1] ?? 0)
    }

    /// Seals up to `limit` of the oldest unsealed events onto the head of the chain.
    /// Returns how many, and when the oldest of them was recorded.
    ///
    /// The columns are hashed straight from SQLite's buffers, in `chainHash`'s order and
    /// with its separators, without a String per field: a command that imported a million
    /// rows seals them all as it exits. (SQLite writes an integer column as text exactly as
    /// `String(Int64)` does; LedgerConformanceTests.canonicalHashes holds the two together.)
    static func seal(upTo limit: Int, in db: Database) throws -> (count: Int, oldest: String?) {
        let head = try Row.fetchOne(db, sql: "SELECT position, event_id, hash FROM event_chain ORDER BY position DESC LIMIT 1")
        var position: Int64 = head?["position"] ?? 0
        var previousHash: String = head?["hash"] ?? genesisHash
        let sealedUpTo: Int64 = head?["event_id"] ?? 0
        let insert = try BoundStatement(db, sql: "INSERT INTO event_chain (position, event_id, prev_hash, hash) VALUES (?, ?, ?, ?)")
        let events = try db.makeStatement(sql: """
            SELECT occurred_at, type, list_id, address_hash, source, consent_version, detail, id
            FROM events WHERE id > ? ORDER BY id LIMIT ?
            """)
        try events.setArguments([sealedUpTo, limit])
        let row = events.sqliteStatement
        defer { sqlite3_reset(row) }
        var separator: UInt8 = 0x1F
        var count = 0
        var oldest: String?
        while true {
            let code = sqlite3_step(row)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code),
                    message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }, sql: events.sql)
            }
            var hasher = SHA256()
            previousHash.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
            for column: Int32 in 0..<7 {
                withUnsafeBytes(of: &separator) { hasher.update(bufferPointer: $0) }
                // Text first, then its length: SQLite may convert the value as it hands it over.
                if let text = sqlite3_column_text(row, column) {
                    hasher.update(bufferPointer: UnsafeRawBufferPointer(start: text, count: Int(sqlite3_column_bytes(row, column))))
                }
            }
            let hash = hasher.finalize().hexString
            if oldest == nil { oldest = BoundStatement.text(row, 0) }
            position += 1
            insert.bind(1, position)
            insert.bind(2, sqlite3_column_int64(row, 7))
            insert.bind(3, previousHash)
            insert.bind(4, hash)
            try insert.run()
            previousHash = hash
            count += 1
        }
        return (count, oldest)
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
