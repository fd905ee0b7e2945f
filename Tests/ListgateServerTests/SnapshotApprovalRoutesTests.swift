// Specification of snapshot approvals through the sender API: a list that requires them
// streams no recipient (409 awaiting_approval) until another person's token, with the
// audience:approve scope, approved the exact count and sha256.
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateServer
import Testing

@Suite("Sender API snapshot approvals")
struct SnapshotApprovalRoutesTests {
    struct World {
        let fixture: ServerFixture
        /// audience:read and audience:approve: it takes the snapshot, so it may not approve it.
        let creator: String
        /// audience:approve only.
        let approver: String
        /// audience:read only.
        let reader: String
    }

    /// news with three active members, requiring `approvals` per snapshot.
    func world(approvals: Int = 1) async throws -> World {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "Tech", .en)])
        let reader = try await SnapshotRoutesTests().arrange(fixture).news
        var change = ListChange()
        change.snapshotApprovals = approvals
        _ = try await fixture.store.updateList(ListSlug("news"), change, source: .cli)
        let creator = SenderTokenSecret.generate(), approver = SenderTokenSecret.generate()
        _ = try await fixture.store.createSenderToken(
            list: ListSlug("news"), name: nil, scopes: [.audienceRead, .audienceApprove], secret: creator, source: .cli)
        _ = try await fixture.store.createSenderToken(
            list: ListSlug("news"), name: nil, scopes: [.audienceApprove], secret: approver, source: .cli)
        return World(fixture: fixture, creator: creator, approver: approver, reader: reader)
    }

    func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
    }

    func errorCode(_ response: TestResponse) throws -> String? {
        (try object(response)["error"] as? [String: Any])?["code"] as? String
    }

    func takeSnapshot(_ client: some TestClientProtocol, _ token: String) async throws -> [String: Any] {
        let response = try await client.execute(
            uri: "/api/v1/lists/news/snapshots", method: .post, headers: [.authorization: "Bearer \(token)"])
        #expect(response.status == .created)
        return try object(response)
    }

    func approve(_ client: some TestClientProtocol, _ token: String, id: String, count: Int, sha256: String) async throws
        -> TestResponse
    {
        try await client.execute(
            uri: "/api/v1/snapshots/\(id)/approvals", method: .post,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: ByteBuffer(string: #"{"count": \#(count), "sha256": "\#(sha256)"}"#))
    }

    func recipients(_ client: some TestClientProtocol, _ token: String, id: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/v1/snapshots/\(id)/recipients", method: .get, headers: [.authorization: "Bearer \(token)"])
    }

    @Test("the snapshot document says awaiting_approval with 0 of 1, and GET answers what POST did")
    func documentSaysAwaiting() async throws {
        let world = try await world()
        try await world.fixture.test { client in
            let taken = try await takeSnapshot(client, world.creator)
            #expect(taken["status"] as? String == "awaiting_approval")
            #expect(taken["approvals"] as? Int == 0 && taken["approvals_required"] as? Int == 1)
            let id = try #require(taken["id"] as? String)
            let read = try await client.execute(
                uri: "/api/v1/snapshots/\(id)", method: .get, headers: [.authorization: "Bearer \(world.creator)"])
            #expect(NSDictionary(dictionary: try object(read)) == NSDictionary(dictionary: taken))
        }
    }

    @Test("the stream answers 409 awaiting_approval until another token approves, then 200")
    func streamWaitsForApproval() async throws {
        let world = try await world()
        try await world.fixture.test { client in
            let taken = try await takeSnapshot(client, world.creator)
            let id = try #require(taken["id"] as? String), sha256 = try #require(taken["sha256"] as? String)
            let before = try await recipients(client, world.creator, id: id)
            #expect(before.status == .conflict)
            #expect(try errorCode(before) == "awaiting_approval")
            #expect(!before.text.contains("@"), "no recipient before approval")
            let approved = try await approve(client, world.approver, id: id, count: 3, sha256: String(sha256.prefix(8)))
            #expect(approved.status == .ok)
            #expect(try object(approved)["status"] as? String == "ready")
            #expect(try object(approved)["counted"] as? Bool == true)
            let after = try await recipients(client, world.creator, id: id)
            #expect(after.status == .ok)
            #expect(after.text.split(separator: "\n").count == 3)
        }
    }

    @Test("the token that took the snapshot is refused 403 approver_is_creator, and nothing is recorded")
    func creatorIsRefused() async throws {
        let world = try await world()
        try await world.fixture.test { client in
            let taken = try await takeSnapshot(client, world.creator)
            let id = try #require(taken["id"] as? String), sha256 = try #require(taken["sha256"] as? String)
            let answer = try await approve(client, world.creator, id: id, count: 3, sha256: sha256)
            #expect(answer.status == .forbidden)
            #expect(try errorCode(answer) == "approver_is_creator")
        }
        #expect(try await world.fixture.count("snapshot_approvals") == 0)
    }

    @Test("a token without audience:approve is refused 403 insufficient_scope")
    func scopeIsRequired() async throws {
        let world = try await world()
        try await world.fixture.test { client in
            let taken = try await takeSnapshot(client, world.reader)
            let id = try #require(taken["id"] as? String), sha256 = try #require(taken["sha256"] as? String)
            let answer = try await approve(client, world.reader, id: id, count: 3, sha256: sha256)
            #expect(answer.status == .forbidden)
            #expect(try errorCode(answer) == "insufficient_scope")
        }
        #expect(try await world.fixture.count("snapshot_approvals") == 0)
    }

    @Test("a wrong count or sha256 is 409 approval_mismatch, without the actual values, and nothing is recorded")
    func mismatchIsRefused() async throws {
        let world = try await world()
        try await world.fixture.test { client in
            let taken = try await takeSnapshot(client, world.reader)
            let id = try #require(taken["id"] as? String), sha256 = try #require(taken["sha256"] as? String)
            let wrongHash = sha256.hasPrefix("0") ? "11111111" : "00000000"
            for (count, hash) in [(4, String(sha256.prefix(8))), (3, wrongHash)] {
                let answer = try await approve(client, world.approver, id: id, count: count, sha256: hash)
                #expect(answer.status == .conflict)
                #expect(try errorCode(answer) == "approval_mismatch")
                #expect(!answer.text.contains(String(sha256.prefix(12))), "the actual sha256 is not told")
            }
        }
        #expect(try await world.fixture.count("snapshot_approvals") == 0)
    }

    @Test("the same token approving twice counts once")
    func sameTokenCountsOnce() async throws {
        let world = try await world(approvals: 2)
        try await world.fixture.test { client in
            let taken = try await takeSnapshot(client, world.reader)
            let id = try #require(taken["id"] as? String), sha256 = try #require(taken["sha256"] as? String)
            let first = try object(try await approve(client, world.approver, id: id, count: 3, sha256: sha256))
            let second = try object(try await approve(client, world.approver, id: id, count: 3, sha256: sha256))
            #expect(first["counted"] as? Bool == true && first["approvals"] as? Int == 1)
            #expect(second["counted"] as? Bool == false && second["approvals"] as? Int == 1)
            #expect(second["status"] as? String == "awaiting_approval")
        }
        #expect(try await world.fixture.count("events", where: "type = 'snapshot_approved'") == 1)
    }

    @Test("a body with an unknown key or without sha256 is 400 invalid_approval; a snapshot needing none is 409")
    func badBodiesAndNoneRequired() async throws {
        let world = try await world(approvals: 0)
        try await world.fixture.test { client in
            let taken = try await takeSnapshot(client, world.reader)
            let id = try #require(taken["id"] as? String), sha256 = try #require(taken["sha256"] as? String)
            for body in [#"{"count": 3}"#, #"{"count": 3, "sha256": "\#(sha256)", "approver": "x"}"#, "not json"] {
                let answer = try await client.execute(
                    uri: "/api/v1/snapshots/\(id)/approvals", method: .post,
                    headers: [.authorization: "Bearer \(world.approver)", .contentType: "application/json"],
                    body: ByteBuffer(string: body))
                #expect(answer.status == .badRequest, "\(body)")
                #expect(try errorCode(answer) == "invalid_approval")
            }
            let answer = try await approve(client, world.approver, id: id, count: 3, sha256: sha256)
            #expect(answer.status == .conflict)
            #expect(try errorCode(answer) == "approval_not_required")
        }
    }
}
