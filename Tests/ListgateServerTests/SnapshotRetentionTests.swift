// Specification of a snapshot's life after it was taken: its metadata always reads back
// as it was answered, and once pruned its stream answers 410. What pruning deletes is
// specified on every store in Tests/ListgateStoreTests/AudienceConformanceTests.swift.
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Snapshot metadata and retention")
struct SnapshotRetentionTests {
    /// news with `members` active members and a sender token for it.
    func arrange(_ fixture: ServerFixture, members: Int) async throws -> String {
        for index in 0..<members { _ = try await fixture.activeSubscriber("reader\(index)@example.net") }
        let token = SenderTokenSecret.generate()
        _ = try await fixture.store.createSenderToken(list: ListSlug("news"), name: nil, secret: token, source: .cli)
        return token
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
    }

    @Test("the metadata read back equals, field for field, what the creation answered (50 creations)")
    func metadataReadsBackAsAnswered() async throws {
        let fixture = try await ServerFixture()
        let token = try await arrange(fixture, members: 2)
        try await fixture.test { client in
            for _ in 0..<50 {
                let created = try await client.execute(
                    uri: "/api/v1/lists/news/snapshots", method: .post, headers: [.authorization: "Bearer \(token)"])
                #expect(created.status == .created)
                let id = try #require(try json(created)["id"] as? String)
                let read = try await client.execute(uri: "/api/v1/snapshots/\(id)", method: .get, headers: [.authorization: "Bearer \(token)"])
                // Both are written with sorted keys: equal fields make equal bytes.
                #expect(read.text == created.text)
            }
        }
    }

    @Test("a pruned snapshot's stream is 410 snapshot_expired; its metadata still answers, saying expired")
    func expiredStream() async throws {
        let fixture = try await ServerFixture()
        let token = try await arrange(fixture, members: 2)
        let list = try #require(try await fixture.store.list(ListSlug("news")))
        let snapshot = try await fixture.store.takeSnapshot(listID: list.id, tokenID: nil, source: .cli)
        try await fixture.test { client in
            let before = try await client.execute(uri: "/api/v1/snapshots/\(snapshot.id)", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(try json(before)["expired"] as? Bool == false)
            _ = try await fixture.store.pruneSnapshots(takenBefore: Date().addingTimeInterval(60), batch: 100)
            let stream = try await client.execute(
                uri: "/api/v1/snapshots/\(snapshot.id)/recipients", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(stream.status == .gone)
            #expect(stream.text.contains("snapshot_expired"))
            let metadata = try json(try await client.execute(
                uri: "/api/v1/snapshots/\(snapshot.id)", method: .get, headers: [.authorization: "Bearer \(token)"]))
            #expect(metadata["expired"] as? Bool == true)
            #expect(metadata["count"] as? Int == 2)
        }
    }
}
