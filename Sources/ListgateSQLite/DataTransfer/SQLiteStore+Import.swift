// `listgate import` in SQLite. Rows are read and validated on the calling task while
// the previous batch commits on GRDB's writer, each batch one transaction. The merge is
// idempotent (a row that is already so changes nothing and records nothing), so an
// interrupted import is resumed by running it again. Imported rows are written exactly
// as other paths write them: same address identity and hash, source 'import', an
// `imported` event per change, a per-list suppression for people who left. Nothing here
// touches the outbox.
import Foundation
import GRDB
import ListgateCore
#if canImport(GRDBSQLite)
import GRDBSQLite
#elseif canImport(SQLite3)
import SQLite3
#endif

extension SQLiteStore {
    public func importSubscribers(
        from reader: SubscriberFileReader, options: ImportOptions, problem: (ImportProblem) -> Void,
        progress: (TransferProgress) -> Void
    ) async throws -> ImportSummary {
        let slug = options.list
        let (listID, key) = try await pool.read { db in
            (try Self.requireOpenListID(slug, in: db), try AddressHasher.key(in: db))
        }
        let hasher = AddressHasher.Keyed(key: key)
        var summary = ImportSummary(importID: RandomToken.hex(bytes: 8))
        let context = ImportContext(listID: listID, importID: summary.importID, source: options.source)
        var inFlight: Task<ImportCounts, Error>?
        try await tuneWriter(forImport: true)
        func report() {
            progress(TransferProgress(rows: summary.rows, bytes: reader.source.bytesRead, totalBytes: reader.source.totalBytes))
        }
        do {
            while true {
                let batch = try reader.nextBatch(limit: options.batchSize, rules: options.rules)
                batch.problems.forEach(problem)
                summary.invalid += batch.problems.count
                var rows = batch.records.map { record in
                    let mailbox = EmailAddress.mailboxKey(ofIdentityKey: record.identityKey)
                    return ImportRow(
                        record: record, addressHash: hasher.hash(identityKey: record.identityKey),
                        mailboxHash: mailbox == record.identityKey ? nil : hasher.hash(identityKey: mailbox))
                }
                // In hash order, the batch walks the address-hash indexes front to back
                // instead of jumping around them; rows for one address keep file order.
                rows.sort { ($0.addressHash, $0.record.line) < ($1.addressHash, $1.record.line) }
                if let previous = inFlight {
                    inFlight = nil
                    summary.add(try await previous.value)
                    report()
                }
                if !rows.isEmpty {
                    inFlight = Task { try await self.writeImportBatch(rows, context) }
                }
                if batch.endOfInput { break }
            }
            if let last = inFlight {
                inFlight = nil
                summary.add(try await last.value)
            }
        } catch {
            // Let a commit already under way finish before the error ends the process.
            _ = try? await inFlight?.value
            try? await tuneWriter(forImport: false)
            throw error
        }
        try await tuneWriter(forImport: false)
        report()
        return summary
    }

    /// Statement journals (SQLite keeps one per insert into a table with foreign keys)
    /// stay in memory instead of a temp file rewritten on every row, and the writer gets
    /// a larger page cache for the indexes a batch touches. Undone when the import ends.
    private func tuneWriter(forImport: Bool) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: forImport ? "PRAGMA temp_store = MEMORY" : "PRAGMA temp_store = DEFAULT")
            try db.execute(sql: "PRAGMA cache_size = -\(forImport ? Self.importCacheKiB : Self.defaultCacheKiB)")
        }
    }

    /// Enough for the upper levels of every index a batch touches, within the bulk
    /// commands' 64 MB peak.
    static let importCacheKiB = 8192

    /// SQLite's own default.
    static let defaultCacheKiB = 2000

    private func writeImportBatch(_ rows: [ImportRow], _ context: ImportContext) async throws -> ImportCounts {
        // Public ids are random, handed out in ascending order: the batch then appends to
        // their index instead of writing all over it. They stay unguessable: 10,000
        // random 128-bit values, sorted, are still about 2^115 apart.
        // Recipient ids (what the sender API names a subscription by) likewise.
        var generator = SystemRandomNumberGenerator()
        func ascendingIDs() -> [String] {
            (0..<rows.count).map { _ in (generator.next() as UInt64, generator.next() as UInt64) }.sorted { $0 < $1 }
                .map { Self.hex128($0.0, $0.1) }
        }
        let ids = zip(ascendingIDs(), ascendingIDs()).map { NewSubscriptionIDs(publicID: $0, recipientID: $1) }
        return try await pool.write { db in
            var writer = try ImportWriter(db, context: context, now: Date())
            for (row, id) in zip(rows, ids) { try writer.merge(row, ids: id) }
            return writer.counts
        }
    }

    /// 32 hex digits, most significant first, so text order is numeric order.
    private static func hex128(_ high: UInt64, _ low: UInt64) -> String {
        withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { $0.hexString }
    }
}

struct ImportContext: Sendable {
    let listID: Int64
    let importID: String
    let source: EventSource
}

/// The random ids a subscription is given (so the triggers that fill missing ones have
/// nothing to do).
struct NewSubscriptionIDs {
    let publicID: String
    let recipientID: String
}

struct ImportRow: Sendable {
    let record: ImportRecord
    let addressHash: String
    /// The hash of the address with its +tag removed, when it has one: a suppression of
    /// the mailbox keeps every +tag spelling out too.
    let mailboxHash: String?
}

/// Merges rows into one list inside one write transaction.
private struct ImportWriter {
    let db: Database
    let context: ImportContext
    let stamp: String
    let ledger: EventLedger.Appender
    var counts = ImportCounts()
    /// The last consent note and its JSON form: usually one note serves the whole file.
    private var quotedNote: (note: String, json: String)?
    private let isSuppressed: BoundStatement
    private let findAddress: BoundStatement
    private let findSubscription: BoundStatement
    private let insertAddress: BoundStatement
    private let insertSubscription: BoundStatement
    private let activate: BoundStatement
    private let leave: BoundStatement
    private let rename: BoundStatement
    private let insertSuppression: BoundStatement

    init(_ db: Database, context: ImportContext, now: Date) throws {
        self.db = db
        self.context = context
        stamp = Timestamp.string(now)
        ledger = try EventLedger.Appender(db, occurredAt: stamp)
        // Two probes rather than one OR, so each uses its own unique index.
        isSuppressed = try BoundStatement(db, sql: """
            SELECT EXISTS (SELECT 1 FROM suppressions WHERE list_id = ?1 AND address_hash = ?2)
                OR EXISTS (SELECT 1 FROM suppressions WHERE list_id IS NULL AND address_hash = ?2)
            """)
        findAddress = try BoundStatement(db, sql: "SELECT id FROM addresses WHERE identity_key = ?")
        findSubscription = try BoundStatement(db, sql: "SELECT id, status, name FROM subscriptions WHERE list_id = ? AND address_id = ?")
        insertAddress = try BoundStatement(db, sql: """
            INSERT INTO addresses (email, identity_key, address_hash, needs_smtputf8, created_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """)
        // The ids are given, so the triggers that fill missing ones have nothing to do.
        insertSubscription = try BoundStatement(db, sql: """
            INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at,
                                       unsubscribed_at, public_id, recipient_id)
            VALUES (?1, ?2, ?3, ?4, 'import', ?5, ?5, ?6, ?7, ?8, ?9)
            """)
        activate = try BoundStatement(db, sql: """
            UPDATE subscriptions SET status = 'active', source = 'import', name = coalesce(?1, name), subscribed_at = ?2,
                updated_at = ?3
            WHERE id = ?4
            """)
        leave = try BoundStatement(db, sql: """
            UPDATE subscriptions SET status = ?1, name = coalesce(?2, name), unsubscribed_at = ?3, updated_at = ?4 WHERE id = ?5
            """)
        rename = try BoundStatement(db, sql: "UPDATE subscriptions SET name = ?1, updated_at = ?2 WHERE id = ?3")
        insertSuppression = try BoundStatement(db, sql: """
            INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        isSuppressed.bind(1, context.listID)
        findSubscription.bind(1, context.listID)
    }

    mutating func merge(_ row: ImportRow, ids: NewSubscriptionIDs) throws {
        // Suppression wins, whatever its reason or scope.
        for hash in [row.addressHash, row.mailboxHash].compactMap({ $0 }) {
            isSuppressed.bind(2, hash)
            if try isSuppressed.firstRow({ sqlite3_column_int64($0, 0) != 0 }) == true {
                counts.suppressed += 1
                return
            }
        }
        let record = row.record
        // Inserting first and looking up only on a conflict spares new addresses (nearly
        // every row of a first import) one walk down the identity index.
        insertAddress.bind(1, record.email)
        insertAddress.bind(2, record.identityKey)
        insertAddress.bind(3, row.addressHash)
        insertAddress.bind(4, record.needsSMTPUTF8)
        insertAddress.bind(5, stamp)
        try insertAddress.run()
        if db.changesCount > 0 {
            try insert(row, addressID: db.lastInsertedRowID, ids: ids)
            return
        }
        findAddress.bind(1, record.identityKey)
        guard let addressID = try findAddress.firstRow({ sqlite3_column_int64($0, 0) }) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "an address row is neither insertable nor found")
        }
        findSubscription.bind(2, addressID)
        let found = try findSubscription.firstRow { row in
            (sqlite3_column_int64(row, 0), BoundStatement.text(row, 1) ?? "", BoundStatement.text(row, 2))
        }
        guard let (id, status, name) = found else {
            try insert(row, addressID: addressID, ids: ids)
            return
        }
        try update(row, id: id, from: SQLiteStore.status(status), name: name)
    }

    private mutating func insert(_ row: ImportRow, addressID: Int64, ids: NewSubscriptionIDs) throws {
        let record = row.record
        let subscribedAt: String? =
            switch record.status {
            case .active: record.subscribedAt ?? stamp
            case .pending: nil
            default: record.subscribedAt
            }
        let unsubscribedAt = record.status == .unsubscribed ? record.unsubscribedAt ?? stamp : record.unsubscribedAt
        insertSubscription.bind(1, context.listID)
        insertSubscription.bind(2, addressID)
        insertSubscription.bind(3, record.name)
        insertSubscription.bind(4, record.status.rawValue)
        insertSubscription.bind(5, stamp)
        insertSubscription.bind(6, subscribedAt)
        insertSubscription.bind(7, unsubscribedAt)
        insertSubscription.bind(8, ids.publicID)
        insertSubscription.bind(9, ids.recipientID)
        try insertSubscription.run()
        counts.imported += 1
        if record.status == .pending, record.lacksConsent { counts.pendingWithoutConsent += 1 }
        try recordEvent(row, status: record.status, previous: nil)
        if record.status.hasLeft { try suppress(row.addressHash, reason: record.status.rawValue) }
    }

    private mutating func update(_ row: ImportRow, id: Int64, from current: SubscriptionStatus, name: String?) throws {
        let record = row.record
        // Nobody who left comes back through an import (normally their suppression
        // already stopped the row).
        if current.hasLeft {
            counts.skipped += 1
            return
        }
        if record.status == .active, current == .pending {
            activate.bind(1, record.name)
            activate.bind(2, record.subscribedAt ?? stamp)
            activate.bind(3, stamp)
            activate.bind(4, id)
            try activate.run()
            counts.updated += 1
            try recordEvent(row, status: .active, previous: current)
            return
        }
        if record.status.hasLeft {
            leave.bind(1, record.status.rawValue)
            leave.bind(2, record.name)
            leave.bind(3, record.status == .unsubscribed ? record.unsubscribedAt ?? stamp : record.unsubscribedAt)
            leave.bind(4, stamp)
            leave.bind(5, id)
            try leave.run()
            counts.updated += 1
            try recordEvent(row, status: record.status, previous: current)
            try suppress(row.addressHash, reason: record.status.rawValue)
            return
        }
        // The same state, or pending for someone already active (never a step back):
        // only the name may change, which is not a consent event.
        if let newName = record.name, newName != name {
            rename.bind(1, newName)
            rename.bind(2, stamp)
            rename.bind(3, id)
            try rename.run()
            counts.updated += 1
            if current == .pending, record.lacksConsent { counts.pendingWithoutConsent += 1 }
        } else {
            counts.skipped += 1
        }
    }

    /// The `imported` event: the state the row produced and, for the consent record, the
    /// admin's note and the time of consent the file claims (without one, consent dates
    /// from the event itself).
    private mutating func recordEvent(_ row: ImportRow, status: SubscriptionStatus, previous: SubscriptionStatus?) throws {
        // Keys in sorted order, as EventLedger.canonicalJSON writes them.
        var detail = "{"
        if let note = row.record.consentNote {
            let json: String
            if let cached = quotedNote, cached.note == note {
                json = cached.json
            } else {
                json = JSONString.quoted(note)
                quotedNote = (note, json)
            }
            detail += "\"consent_note\":" + json + ","
        }
        detail += "\"import\":\"" + context.importID + "\""
        if let previous { detail += ",\"previous_status\":\"" + previous.rawValue + "\"" }
        detail += ",\"status\":\"" + status.rawValue + "\""
        if status == .active, let claimed = row.record.subscribedAt { detail += ",\"subscribed_at\":\"" + claimed + "\"" }
        detail += "}"
        try ledger.append(
            .imported, listID: context.listID, addressHash: row.addressHash, source: context.source, detail: detail)
    }

    /// Keeps someone who left out of later imports and admin adds, as an unsubscribe does.
    private mutating func suppress(_ hash: String, reason: String) throws {
        insertSuppression.bind(1, context.listID)
        insertSuppression.bind(2, hash)
        insertSuppression.bind(3, reason)
        insertSuppression.bind(4, stamp)
        try insertSuppression.run()
        if db.changesCount > 0 {
            try ledger.append(
                .suppressed, listID: context.listID, addressHash: hash, source: context.source,
                detail: "{\"reason\":\"" + reason + "\"}")
        }
    }
}
