// The provider webhook sources' SQLite schema (Migrations/0013_inbound_webhooks.sql) checks
// what it holds. What the stores keep and how is specified on every store in
// Tests/ListgateStoreTests/WebhookSourceConformanceTests.swift.
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite
import Testing

@Suite("Provider webhook sources in the SQLite schema")
struct WebhookSourceStoreTests {
    static func database() async throws -> MigratedDatabase {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        return database
    }

    @Test("the migration's CHECKs refuse a source without its provider's material")
    func checks() async throws {
        let database = try await Self.database()
        await #expect(throws: DatabaseError.self) {
            try await database.rawConnection().write { db in
                try db.execute(sql: """
                    INSERT INTO webhook_sources (public_id, list_id, provider, created_at)
                    VALUES ('wh_00000001', (SELECT id FROM lists), 'sendgrid', '2026-11-21T00:00:00Z')
                    """)
            }
        }
    }
}
