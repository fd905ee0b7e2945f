// The SQL half of the address audit (ListgateCore's Addresses/AddressAudit.swift) on
// PostgreSQL: every column that holds an address, read in pages and parsed again.
import ListgateCore
import PostgresNIO

extension PostgresStore: AddressAuditStore {
    public func refusedStoredAddresses() async throws -> [RefusedStoredAddress] {
        try await read { connection in
            var refused: [RefusedStoredAddress] = []
            for (table, query) in Self.auditQueries {
                // Rows arrive as they are read (the sequence is backpressured), and only
                // the few refused ones are kept: the addresses table may hold millions.
                for try await (id, text) in try await connection.query(query, logger: PostgresConnection.quiet)
                    .decode((Int64, String).self)
                {
                    do throws(EmailAddressError) {
                        _ = try EmailAddress(text)
                    } catch {
                        refused.append(RefusedStoredAddress(table: table, rowID: id, reason: error))
                    }
                }
            }
            return refused
        }
    }

    private static let auditQueries: [(table: String, query: PostgresQuery)] = [
        ("addresses", "SELECT id, email FROM addresses ORDER BY id"),
        ("submissions", "SELECT id, email FROM submissions ORDER BY id"),
        // Sent, failed and discarded messages are history; only these would still go out.
        ("outbox", "SELECT id, recipient FROM outbox WHERE status IN ('queued', 'sending') ORDER BY id"),
        ("lists", "SELECT id, from_email FROM lists ORDER BY id"),
        ("lists", "SELECT id, reply_to FROM lists WHERE reply_to IS NOT NULL ORDER BY id"),
        // No row id of its own here: the list's id names the row's list.
        ("list_allowed_addresses", "SELECT list_id, email FROM list_allowed_addresses ORDER BY list_id, email"),
    ]
}
