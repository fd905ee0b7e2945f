// Appends to the event ledger, inside the transaction of the change it records: a plain
// insert, as on SQLite. The sealer adds it to the hash chain afterwards
// (PostgresStore+Ledger.swift), once every transaction that could still append an
// earlier event has ended.
import Foundation
import ListgateCore
import PostgresNIO

enum PostgresLedger {
    /// Returns the event's id. The insert also queues the outbound webhook deliveries the
    /// event causes (the trigger in PostgresMigrations/0001_initial.sql).
    @discardableResult
    static func append(_ event: NewEvent, at date: Date, on connection: PostgresConnection) async throws -> Int64 {
        let detail = LedgerHash.canonicalJSON(event.detail)
        guard let id = try await connection.value("""
            INSERT INTO events (occurred_at, type, list_id, address_hash, source, consent_version, detail)
            VALUES (\(date.stored), \(event.type.rawValue), \(event.listID), \(event.addressHash), \(event.source.rawValue),
                    \(event.consentVersion), \(detail))
            RETURNING id
            """, as: Int64.self)
        else { throw StoreError.unreadableValue(column: "events.id", "an appended event returned no id") }
        return id
    }
}
