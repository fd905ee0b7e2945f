// Membership changes shared by every route that ends or starts a subscription: the
// unsubscribe pages, one-click, preferences, admin removal. One place decides what
// "unsubscribed" means: the state, its time, a per-list suppression, and the events.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    /// Ends the subscription of `addressID` on `listID` (if it is pending or active) and
    /// suppresses the address for that list, so no import or admin add brings it back.
    /// Returns false when there was nothing to end (idempotent: unsubscribing twice is fine).
    /// `detail`: more for the `unsubscribed` event than its route (a sender's report).
    @discardableResult
    static func markUnsubscribed(
        listID: Int64, addressID: Int64, route: UnsubscribeRoute, source: EventSource, at date: Date,
        detail: [String: String] = [:], in db: Database
    ) throws -> Bool {
        let stamp = Timestamp.string(date)
        guard let hash = try String.fetchOne(
            db.cachedStatement(sql: "SELECT address_hash FROM addresses WHERE id = ?"), arguments: [addressID])
        else { return false }
        try db.cachedStatement(sql: """
            UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = ?, updated_at = ?
            WHERE list_id = ? AND address_id = ? AND status IN ('pending', 'active')
            """)
            .execute(arguments: [stamp, stamp, listID, addressID])
        let changed = db.changesCount > 0
        if changed {
            try EventLedger.append(
                NewEvent(.unsubscribed, listID: listID, addressHash: hash, source: source,
                         detail: detail.merging(["route": route.rawValue]) { $1 }),
                at: date, in: db)
        }
        try suppress(hash: hash, listID: listID, reason: "unsubscribed", source: source, at: date, in: db)
        return changed
    }

    /// Adds a suppression unless one exists; records `suppressed` when it is new.
    static func suppress(
        hash: String, listID: Int64?, reason: String, source: EventSource, at date: Date, in db: Database
    ) throws {
        try db.cachedStatement(sql: """
            INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """)
            .execute(arguments: [listID, hash, reason, Timestamp.string(date)])
        if db.changesCount > 0 {
            try EventLedger.append(
                NewEvent(.suppressed, listID: listID, addressHash: hash, source: source, detail: ["reason": reason]),
                at: date, in: db)
        }
    }
}
