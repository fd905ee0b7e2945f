// Membership changes shared by every route that ends a subscription (the unsubscribe
// pages, one-click, preferences, admin removal, a sender's report), on PostgreSQL, as
// ListgateSQLite's SQLiteStore+Leaving.swift: the state, its time, a per-list
// suppression, and the events, inside the caller's transaction.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore {
    /// Ends the subscription of `addressID` on `listID` (if it is pending or active) and
    /// suppresses the address for that list, so no import or admin add brings it back.
    /// Returns false when there was nothing to end (idempotent: unsubscribing twice is fine).
    /// `detail`: more for the `unsubscribed` event than its route (a sender's report).
    @discardableResult
    static func markUnsubscribed(
        listID: Int64, addressID: Int64, route: UnsubscribeRoute, source: EventSource, at date: Date,
        detail: [String: String] = [:], on connection: PostgresConnection
    ) async throws -> Bool {
        let stamp = date.stored
        guard let hash = try await connection.value(
            "SELECT address_hash FROM addresses WHERE id = \(addressID)", as: String.self)
        else { return false }
        let ended = try await connection.rows("""
            UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = \(stamp), updated_at = \(stamp)
            WHERE list_id = \(listID) AND address_id = \(addressID) AND status IN ('pending', 'active')
            RETURNING id
            """)
        let changed = !ended.isEmpty
        if changed {
            try await PostgresLedger.append(
                NewEvent(.unsubscribed, listID: listID, addressHash: hash, source: source,
                         detail: detail.merging(["route": route.rawValue]) { $1 }),
                at: date, on: connection)
        }
        try await suppress(hash: hash, listID: listID, reason: "unsubscribed", source: source, at: date, on: connection)
        return changed
    }

    /// Adds a suppression unless one exists; records `suppressed` when it is new.
    static func suppress(
        hash: String, listID: Int64?, reason: String, source: EventSource, at date: Date, on connection: PostgresConnection
    ) async throws {
        let added = try await connection.rows("""
            INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (\(listID), \(hash), \(reason), \(date.stored))
            ON CONFLICT DO NOTHING RETURNING id
            """)
        if !added.isEmpty {
            try await PostgresLedger.append(
                NewEvent(.suppressed, listID: listID, addressHash: hash, source: source, detail: ["reason": reason]),
                at: date, on: connection)
        }
    }
}
