// Appends to the event ledger, inside the transaction of the change it records. The
// append is a plain insert: the hash chain that lets `listgate events verify` find an
// edit made behind the append-only triggers is added afterwards, in batches, by the
// sealer (EventLedger+Sealer.swift; README, "The ledger: durable now, sealed soon").
import Foundation
import GRDB
import ListgateCore

enum EventLedger {
    static let genesisHash = LedgerCheckpoint.genesisHash

    /// Returns the event's id. The insert also queues the outbound webhook deliveries the
    /// event causes (the trigger of Migrations/0014_outbound_webhooks.sql).
    @discardableResult
    static func append(_ event: NewEvent, at date: Date, in db: Database) throws -> Int64 {
        try db.cachedStatement(sql: """
                INSERT INTO events (occurred_at, type, list_id, address_hash, source, consent_version, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                Timestamp.string(date), event.type.rawValue, event.listID, event.addressHash, event.source.rawValue,
                event.consentVersion, canonicalJSON(event.detail),
            ])
        // The trigger's inserts do not change it: SQLite restores it when a trigger ends.
        return db.lastInsertedRowID
    }

    /// The chain's hash (LedgerHash.chain, shared by every store).
    static func chainHash(
        prevHash: String, occurredAt: String, type: String, listID: Int64?, addressHash: String?,
        source: String, consentVersion: String?, detail: String
    ) -> String {
        LedgerHash.chain(
            prevHash: prevHash, occurredAt: occurredAt, type: type, listID: listID, addressHash: addressHash,
            source: source, consentVersion: consentVersion, detail: detail)
    }

    static func canonicalJSON(_ detail: [String: String]) -> String { LedgerHash.canonicalJSON(detail) }
}
