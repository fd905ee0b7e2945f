// The pruner of delivered webhook deliveries (WebhookDeliveryPruner) against a real SQLite
// store: what it deletes and what it must keep.
import Foundation
import GRDB
@testable import ListgateCore
import ListgateMail
@testable import ListgateSQLite
import Logging
import Testing

@Suite("Webhook deliveries: pruning the delivered ones")
struct WebhookDeliveryPrunerTests {
    @Test("the pruner deletes deliveries delivered more than the retention ago, and keeps failed and pending ones")
    func prunes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-pruner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("listgate.sqlite3").path)
        _ = try await store.migrate()
        _ = try await store.createList(
            NewList(slug: ListSlug("news"), name: "News", from: Mailbox("News <news@example.org>")), source: .cli)
        _ = try await WebhookRegistry(store: store).add(url: "http://127.0.0.1:9/hooks", list: ListSlug("news"), types: [], source: .cli)
        for index in 0..<6 {
            _ = try await store.addSubscriber(
                NewSubscriber(address: EmailAddress("reader\(index)@example.net"), list: ListSlug("news"), name: nil, confirmed: true),
                source: .cli, at: Date())
        }
        let now = Date()
        let old = Timestamp.string(now.addingTimeInterval(-31 * 86_400)), recent = Timestamp.string(now.addingTimeInterval(-29 * 86_400))
        try await store.pool.write { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM webhook_deliveries ORDER BY id")
            #expect(ids.count == 6)
            // Two delivered long ago, one delivered recently, one failed long ago, two pending.
            for id in ids[0..<2] {
                try db.execute(sql: "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, created_at = ? WHERE id = ?",
                               arguments: [old, old, id])
            }
            try db.execute(sql: "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ? WHERE id = ?", arguments: [recent, ids[2]])
            try db.execute(sql: "UPDATE webhook_deliveries SET status = 'failed', created_at = ? WHERE id = ?", arguments: [old, ids[3]])
            try db.execute(sql: "UPDATE webhook_deliveries SET created_at = ?, first_due_at = ? WHERE id = ?", arguments: [old, old, ids[4]])
        }
        let pruner = WebhookDeliveryPruner(store: store, retentionDays: 30, logger: Logger(label: "test"))
        #expect(await pruner.prune(now: now) == 2)
        let left = try await store.pool.read { try String.fetchAll($0, sql: "SELECT status FROM webhook_deliveries ORDER BY id") }
        #expect(left == ["delivered", "failed", "pending", "pending"])
        #expect(await pruner.prune(now: now) == 0, "nothing more to prune")
        #expect(try await store.webhookDeliveries(status: .failed, limit: 10).count == 1, "still there to retry")
    }
}
