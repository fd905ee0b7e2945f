// What a preflight asks of PostgreSQL (PreflightStore), as ListgateSQLite's
// (Audience/SQLiteStore+Preflight.swift): the To's member row in the snapshot, which
// addresses found in a message are the list's, and the ledger event.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: PreflightStore {
    /// Keys per query: one bound text array of 5,000 keeps each statement small without a
    /// round trip per key.
    static let preflightKeyBatch = 5_000

    public func snapshotRecipient(snapshotID: String, identityKey: String) async throws -> SnapshotRecipient? {
        try await statement { connection in
            try await connection.rows("""
                SELECT m.identity_key, s.recipient_id, s.public_id
                FROM snapshot_members m JOIN subscriptions s ON s.id = m.subscription_id
                WHERE m.snapshot_id = (SELECT id FROM snapshots WHERE public_id = \(snapshotID)) AND m.identity_key = \(identityKey)
                """
            ).first.map {
                SnapshotRecipient(
                    identityKey: try $0.get("identity_key"), recipientID: try $0.get("recipient_id"),
                    subscriptionID: try $0.get("public_id"))
            }
        }
    }

    public func subscribedKeys(listID: Int64, among identityKeys: [String]) async throws -> Set<String> {
        guard !identityKeys.isEmpty else { return [] }
        return try await read { connection in
            // Any status: an unsubscribed person's address in a newsletter is still a
            // leak of the list. An erased person has no row left to match.
            var found = Set<String>()
            var start = 0
            while start < identityKeys.count {
                let batch = Array(identityKeys[start..<min(start + Self.preflightKeyBatch, identityKeys.count)])
                // From the keys asked, one index probe each: written as `identity_key =
                // ANY(array)`, the planner scans all of addresses in parallel instead (163 ms
                // a batch of 5,000 on a million, against 71 ms this way).
                for row in try await connection.rows("""
                    SELECT a.identity_key
                    FROM unnest(\(batch)::text[]) AS asked(key)
                    JOIN addresses a ON a.identity_key = asked.key
                    JOIN subscriptions s ON s.address_id = a.id AND s.list_id = \(listID)
                    """)
                {
                    found.insert(try row.get("identity_key"))
                }
                start += Self.preflightKeyBatch
            }
            return found
        }
    }

    public func newestSnapshotID(listID: Int64) async throws -> String? {
        try await statement { connection in
            try await connection.value(
                "SELECT public_id FROM snapshots WHERE list_id = \(listID) ORDER BY created_at DESC, id DESC LIMIT 1",
                as: String.self)
        }
    }

    public func recordPreflight(_ record: PreflightRecord, source: EventSource) async throws {
        try await write { connection in
            _ = try await PostgresLedger.append(
                NewEvent(.preflightChecked, listID: record.listID, source: source, detail: record.eventDetail),
                at: Date(), on: connection)
        }
    }
}
