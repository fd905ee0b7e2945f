// Specification of the expected audience on `POST /api/v1/lists/{slug}/snapshots`: a
// mismatch is 409 with the actual count and keeps nothing; a body that cannot be read
// strictly (a misspelt key, a number that is not whole) is 400, never ignored.
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateServer
import Testing

@Suite("Sender API snapshots with an expected audience")
struct SnapshotExpectationRoutesTests {
    /// news with three active members; the token for news.
    func arranged() async throws -> (ServerFixture, String) {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "Tech", .en)])
        let tokens = try await SnapshotRoutesTests().arrange(fixture)
        return (fixture, tokens.news)
    }

    func post(_ client: some TestClientProtocol, token: String, body: String?, contentType: String = "application/json")
        async throws -> TestResponse
    {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if body != nil { headers[.contentType] = contentType }
        return try await client.execute(
            uri: "/api/v1/lists/news/snapshots", method: .post, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    func error(_ response: TestResponse) throws -> [String: Any] {
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
        return try #require(body["error"] as? [String: Any])
    }

    /// Snapshots, members and snapshot_taken events.
    func snapshotRows(_ fixture: ServerFixture) async throws -> [Int] {
        try await fixture.store.pool.read { db in
            [try Int.fetchOne(db, sql: "SELECT count(*) FROM snapshots") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM snapshot_members") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE type = 'snapshot_taken'") ?? -1]
        }
    }

    @Test("an audience over max_count is 409 audience_mismatch with the actual count, and nothing is kept")
    func maxCountExceeded() async throws {
        let (fixture, token) = try await arranged()
        try await fixture.test { client in
            let response = try await post(client, token: token, body: #"{"max_count": 1}"#)
            #expect(response.status == .conflict)
            let error = try error(response)
            #expect(error["code"] as? String == "audience_mismatch")
            #expect(error["count"] as? Int == 3)
        }
        let rows = try await snapshotRows(fixture)
        #expect(rows == [0, 0, 0])
    }

    @Test("an audience other than expect_count is 409 with the actual count")
    func expectCountMismatch() async throws {
        let (fixture, token) = try await arranged()
        try await fixture.test { client in
            let response = try await post(client, token: token, body: #"{"expect_count": 2}"#)
            #expect(response.status == .conflict)
            #expect(try error(response)["count"] as? Int == 3)
        }
        #expect(try await snapshotRows(fixture) == [0, 0, 0])
    }

    @Test("an audience that meets expect_count and max_count is frozen as usual")
    func expectationMet() async throws {
        let (fixture, token) = try await arranged()
        try await fixture.test { client in
            let response = try await post(client, token: token, body: #"{"expect_count": 3, "max_count": 10}"#)
            #expect(response.status == .created)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
            #expect(body["count"] as? Int == 3)
        }
        #expect(try await snapshotRows(fixture) == [1, 3, 1])
    }

    @Test("a misspelt key such as expected_count is 400 invalid_expectation, not a snapshot taken unchecked")
    func unknownKeyIsRefused() async throws {
        let (fixture, token) = try await arranged()
        try await fixture.test { client in
            let response = try await post(client, token: token, body: #"{"expected_count": 1}"#)
            #expect(response.status == .badRequest)
            let error = try error(response)
            #expect(error["code"] as? String == "invalid_expectation")
            #expect((error["message"] as? String)?.contains("expected_count") == true)
        }
        #expect(try await snapshotRows(fixture) == [0, 0, 0])
    }

    @Test("a count that is not a whole number of 0 or more, or a body that is not an object, is 400",
          arguments: [#"{"max_count": "1"}"#, #"{"max_count": 1.5}"#, #"{"max_count": true}"#, #"{"max_count": -1}"#,
                      #"[1]"#, #"{"max_count": 1"#, #"{"max_count": 99999999999999999999999}"#])
    func malformedIsRefused(_ body: String) async throws {
        let (fixture, token) = try await arranged()
        try await fixture.test { client in
            let response = try await post(client, token: token, body: body)
            #expect(response.status == .badRequest)
            #expect(try error(response)["code"] as? String == "invalid_expectation")
        }
        #expect(try await snapshotRows(fixture) == [0, 0, 0])
    }

    @Test("a body that is not JSON is 415")
    func notJSONIs415() async throws {
        let (fixture, token) = try await arranged()
        try await fixture.test { client in
            let response = try await post(client, token: token, body: "max_count=1", contentType: "application/x-www-form-urlencoded")
            #expect(response.status == .unsupportedMediaType)
        }
        #expect(try await snapshotRows(fixture) == [0, 0, 0])
    }
}
