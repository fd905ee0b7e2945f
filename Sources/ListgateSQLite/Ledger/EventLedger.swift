// Appends to the event ledger, inside the transaction of the change it records. The
// append is a plain insert: the hash chain that lets `listgate events verify` find an
// edit made behind the append-only triggers is added afterwards, in batches, by the
// sealer (EventLedger+Sealer.swift; README, "The ledger: durable now, sealed soon").
import Crypto
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

    /// SHA-256 over the previous hash and every stored field, separated by U+001F (a
    /// character no field can contain unnoticed), in a fixed order. Chains sealed by
    /// every version so far use exactly these bytes: changing them would need a migration.
    static func chainHash(
        prevHash: String, occurredAt: String, type: String, listID: Int64?, addressHash: String?,
        source: String, consentVersion: String?, detail: String
    ) -> String {
        let fields = [
            prevHash, occurredAt, type, listID.map(String.init) ?? "", addressHash ?? "", source,
            consentVersion ?? "", detail,
        ]
        return SHA256.hex(Data(fields.joined(separator: "\u{1F}").utf8))
    }

    /// The detail as one JSON object with its keys in sorted order, each string written by
    /// `JSONString.quoted`, the same writer the importer's hand-built details use, so every
    /// event's detail has one spelling whichever path wrote it.
    static func canonicalJSON(_ detail: [String: String]) -> String {
        let members = detail.sorted { $0.key < $1.key }.map { JSONString.quoted($0.key) + ":" + JSONString.quoted($0.value) }
        return "{" + members.joined(separator: ",") + "}"
    }
}
