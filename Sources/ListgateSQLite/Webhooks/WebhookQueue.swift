// The two queue writes the trigger of Migrations/0014_outbound_webhooks.sql cannot make,
// both for `subscribers forget`: its `forgotten` event names no list (the person leaves
// every list at once), and erasing a person must reach the deliveries that hold them.
import Foundation
import GRDB
import ListgateCore

enum WebhookQueue {
    /// Queues `forgotten` to the webhooks (that want it) of each list the person was on,
    /// with the address hash and never the address.
    static func queueForgotten(event: Int64, addressHash: String, lists: Set<Int64>, at date: Date, in db: Database) throws {
        let stamp = Timestamp.string(date)
        let statement = try db.cachedStatement(sql: """
            INSERT INTO webhook_deliveries
                (public_id, webhook_id, event_id, type, email, address_hash, created_at, first_due_at, next_attempt_at)
            SELECT 'msg_' || lower(hex(randomblob(12))), w.id, ?1, 'forgotten', NULL, ?2, ?3, ?3, ?3
            FROM webhooks w JOIN webhook_event_types t ON t.webhook_id = w.id AND t.type = 'forgotten'
            WHERE w.list_id = ?4 AND w.removed_at IS NULL
            """)
        for list in lists.sorted() {
            try statement.execute(arguments: [event, addressHash, stamp, list])
        }
    }

    /// Every delivery that holds the address, whatever its state, keeps only its hash.
    static func eraseAddress(hash: String, in db: Database) throws {
        try db.cachedStatement(sql: "UPDATE webhook_deliveries SET email = NULL WHERE address_hash = ? AND email IS NOT NULL")
            .execute(arguments: [hash])
    }
}
