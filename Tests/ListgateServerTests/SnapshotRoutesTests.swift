// Specification of frozen audiences: explicit, counted, checksummed, fail-closed.
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Sender API snapshots")
struct SnapshotRoutesTests {
    /// news with three active members, one pending, one unsubscribed, one suppressed; and
    /// an empty list `tech`. Returns tokens for news and tech.
    func arrange(_ fixture: ServerFixture) async throws -> (news: String, tech: String) {
        for email in ["b@example.net", "a@example.net", "山田@example.jp", "gone@example.net", "blocked@example.net"] {
            _ = try await fixture.activeSubscriber(email)
        }
        _ = try await fixture.intake().requestSubscription(
            list: try await fixture.intake().list("news"), email: "pending@example.net", name: nil, origin: RequestOrigin(route: "test"))
        try await fixture.store.pool.write { db in
            try db.execute(sql: """
                UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = '2026-01-01T00:00:00.000Z'
                WHERE address_id = (SELECT id FROM addresses WHERE identity_key = 'gone@example.net')
                """)
            try db.execute(sql: """
                INSERT INTO suppressions (list_id, address_hash, reason, created_at)
                SELECT NULL, address_hash, 'admin', '2026-01-01T00:00:00.000Z' FROM addresses WHERE identity_key = 'blocked@example.net'
                """)
        }
        let news = SenderTokenSecret.generate(), tech = SenderTokenSecret.generate()
        _ = try await fixture.store.createSenderToken(list: ListSlug("news"), name: nil, secret: news, source: .cli)
        _ = try await fixture.store.createSenderToken(list: ListSlug("tech"), name: nil, secret: tech, source: .cli)
        return (news, tech)
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
    }

    func pythonSHA256(_ keys: [String]) throws -> String {
        try IndependentChecksum.sha256(sortedAndJoined: keys)
    }

    @Test("a snapshot freezes exactly the active, unsuppressed members, with count and sha256 over sorted identity keys")
    func freezes() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "Tech", .en)])
        let tokens = try await arrange(fixture)
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/api/v1/lists/news/snapshots", method: .post, headers: [.authorization: "Bearer \(tokens.news)"])
            #expect(response.status == .created)
            let body = try json(response)
            #expect(body["count"] as? Int == 3)
            #expect(body["list"] as? String == "news")
            let expected = try pythonSHA256(["a@example.net", "b@example.net", "山田@example.jp"])
            #expect(body["sha256"] as? String == expected)
            let id = try #require(body["id"] as? String)
            #expect(id.count >= 20, "random, unguessable id")

            // A member who confirms afterwards is not in the frozen audience.
            _ = try await fixture.activeSubscriber("late@example.net")
            let again = try await client.execute(uri: "/api/v1/snapshots/\(id)", method: .get, headers: [.authorization: "Bearer \(tokens.news)"])
            #expect(again.status == .ok)
            #expect(try json(again)["count"] as? Int == 3)
            #expect(try json(again)["sha256"] as? String == expected)
        }
        let members = try await fixture.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT identity_key FROM snapshot_members ORDER BY identity_key")
        }
        #expect(members == ["a@example.net", "b@example.net", "山田@example.jp"])
        #expect(try await fixture.eventTypes().contains("snapshot_taken"))
    }

    @Test("an empty list gives a snapshot of count 0, not an error and not someone else's audience")
    func empty() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "Tech", .en)])
        let tokens = try await arrange(fixture)
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/api/v1/lists/tech/snapshots", method: .post, headers: [.authorization: "Bearer \(tokens.tech)"])
            #expect(response.status == .created)
            #expect(try json(response)["count"] as? Int == 0)
            #expect(try json(response)["sha256"] as? String == (try pythonSHA256([])))
        }
    }

    @Test("401 without a valid token, 403 for another list, 404 for an unknown list or snapshot")
    func failClosed() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "Tech", .en)])
        let tokens = try await arrange(fixture)
        try await fixture.test { client in
            let none = try await client.execute(uri: "/api/v1/lists/news/snapshots", method: .post)
            let wrong = try await client.execute(uri: "/api/v1/lists/news/snapshots", method: .post, headers: [.authorization: "Bearer lgt_nope"])
            let other = try await client.execute(uri: "/api/v1/lists/news/snapshots", method: .post, headers: [.authorization: "Bearer \(tokens.tech)"])
            let unknown = try await client.execute(uri: "/api/v1/lists/missing/snapshots", method: .post, headers: [.authorization: "Bearer \(tokens.news)"])
            let noSnapshot = try await client.execute(uri: "/api/v1/snapshots/doesnotexist", method: .get, headers: [.authorization: "Bearer \(tokens.news)"])
            let unknownWithoutToken = try await client.execute(uri: "/api/v1/lists/missing/snapshots", method: .post)
            #expect(none.status == .unauthorized)
            #expect(wrong.status == .unauthorized)
            #expect(other.status == .forbidden)
            #expect(unknown.status == .notFound)
            #expect(noSnapshot.status == .notFound)
            #expect(unknownWithoutToken.status == .unauthorized, "404 only after authentication")

            let taken = try await client.execute(uri: "/api/v1/lists/news/snapshots", method: .post, headers: [.authorization: "Bearer \(tokens.news)"])
            let id = try #require(try json(taken)["id"] as? String)
            let foreign = try await client.execute(uri: "/api/v1/snapshots/\(id)", method: .get, headers: [.authorization: "Bearer \(tokens.tech)"])
            #expect(foreign.status == .forbidden)
        }
        #expect(try await fixture.count("snapshots") == 1, "refused requests froze nothing")
    }

    // An embedded store's pages hold 1,000 recipients and are read ahead, each page's end looked up first:
    // one short page, exactly full pages, one over, and several with the last partial.
    @Test("the recipients stream pages through the whole audience: every member once, in identity-key order",
          arguments: [999, 2_000, 2_001, 4_123])
    func streamsAcrossPages(_ members: Int) async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja)])
        try await fixture.store.pool.write { db in
            try db.execute(sql: """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO addresses (email, identity_key, address_hash, created_at)
                SELECT 'member' || i || '@example.net', 'member' || i || '@example.net', lower(hex(randomblob(32))),
                       '2026-01-01T00:00:00.000Z' FROM n
                """, arguments: [members])
            try db.execute(sql: """
                INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at)
                SELECT (SELECT id FROM lists WHERE slug = 'news'), id, 'active', 'admin',
                       created_at, created_at, created_at FROM addresses
                """)
        }
        let token = SenderTokenSecret.generate()
        _ = try await fixture.store.createSenderToken(list: ListSlug("news"), name: nil, secret: token, source: .cli)
        try await fixture.test { client in
            let taken = try await client.execute(uri: "/api/v1/lists/news/snapshots", method: .post, headers: [.authorization: "Bearer \(token)"])
            let id = try #require(try json(taken)["id"] as? String)
            let stream = try await client.execute(uri: "/api/v1/snapshots/\(id)/recipients", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(stream.status == .ok)
            let emails = try stream.text.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["email"] as? String
            }
            #expect(emails.count == members)
            #expect(Set(emails).count == members, "no one twice across page boundaries")
            #expect(emails.compactMap { $0 } == emails.compactMap { $0 }.sorted(), "identity-key order")
        }
    }
}
