// Appends to the event ledger. Each row carries the hash of the row before it, so
// `listgate events verify` can find an edit made behind the append-only triggers.
import Crypto
import Foundation
import GRDB
import ListgateCore

enum EventLedger {
    static let genesisHash = String(repeating: "0", count: 64)

    static func append(_ event: NewEvent, at date: Date, in db: Database) throws {
        let prevHash = try String.fetchOne(db.cachedStatement(sql: "SELECT hash FROM events ORDER BY id DESC LIMIT 1")) ?? genesisHash
        let occurredAt = Timestamp.string(date)
        let detail = canonicalJSON(event.detail)
        let hash = chainHash(
            prevHash: prevHash, occurredAt: occurredAt, type: event.type.rawValue, listID: event.listID,
            addressHash: event.addressHash, source: event.source.rawValue, consentVersion: event.consentVersion,
            detail: detail)
        try db.cachedStatement(sql: """
                INSERT INTO events (occurred_at, type, list_id, address_hash, source, consent_version, detail, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                occurredAt, event.type.rawValue, event.listID, event.addressHash, event.source.rawValue,
                event.consentVersion, detail, prevHash, hash,
            ])
    }

    /// SHA-256 over the previous hash and every stored field, separated by U+001F (a
    /// character no field can contain unnoticed), in a fixed order.
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
