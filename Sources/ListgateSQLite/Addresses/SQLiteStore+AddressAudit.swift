// The SQL half of the address audit (ListgateCore's Addresses/AddressAudit.swift): every
// column that holds an address, read through a cursor and parsed again.
import GRDB
import ListgateCore

extension SQLiteStore: AddressAuditStore {
    /// Every stored address that no longer parses, in table then row order: each
    /// person's address, each form request, each message still waiting to be sent (the
    /// outbox worker quarantines those rather than send them), and each list's own
    /// addresses (a list whose From no longer parses cannot be loaded). Reads only.
    public func refusedStoredAddresses() async throws -> [RefusedStoredAddress] {
        try await pool.read { db in
            var refused: [RefusedStoredAddress] = []
            for (table, sql) in AddressAuditQuery.all {
                // A cursor, not fetchAll: the addresses table may hold millions of rows,
                // and only the few refused ones are kept.
                let rows = try Row.fetchCursor(db, sql: sql)
                while let row = try rows.next() {
                    let text: String = row[1]
                    do throws(EmailAddressError) {
                        _ = try EmailAddress(text)
                    } catch {
                        refused.append(RefusedStoredAddress(table: table, rowID: row[0], reason: error))
                    }
                }
            }
            return refused
        }
    }
}

private enum AddressAuditQuery {
    static let all: [(table: String, sql: String)] = [
        ("addresses", "SELECT id, email FROM addresses ORDER BY id"),
        ("submissions", "SELECT id, email FROM submissions ORDER BY id"),
        // Sent, failed and discarded messages are history; only these would still go out.
        ("outbox", "SELECT id, recipient FROM outbox WHERE status IN ('queued', 'sending') ORDER BY id"),
        ("lists", "SELECT id, from_email FROM lists ORDER BY id"),
        ("lists", "SELECT id, reply_to FROM lists WHERE reply_to IS NOT NULL ORDER BY id"),
        ("list_allowed_addresses", "SELECT rowid, email FROM list_allowed_addresses ORDER BY rowid"),
    ]
}
