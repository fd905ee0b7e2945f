// Specification of `POST /api/v1/snapshots/{id}/preflight` (README, "Before you send"):
// the sender API's usual refusals in their order (401, 403, 404), then what is not a
// message at all (415, 400, 413, 410 for a snapshot whose members are gone); anything else
// is a 200 report, `fail` with a reason for a message that is broken or hostile, `pass` for
// a correct Japanese newsletter rendered by an independent sender (Python's email
// package); no answer holds a third party's address; at most two checks run at once.
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
@testable import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Sender API preflight")
struct PreflightRoutesTests {
    static let legalName = "株式会社サンプル"
    static let postalAddress = "〒100-0001 東京都千代田区千代田1-1 サンプルビル5階"
    static let contact = "https://example.org/contact"
    static let members = (0..<300).map { "member\($0)@example.jp" }

    struct World {
        let fixture: ServerFixture
        let token: String
        let snapshotID: String
        /// The To of a correct newsletter, and its own unsubscribe link.
        let recipient: String
        let unsubscribeLink: String
    }

    /// news (with the sender's identity) of 300 members plus 田中 (tanaka@example.jp), a
    /// snapshot of them, and a token with audience:read.
    func world() async throws -> World {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "Tech", .en)])
        var change = ListChange()
        change.identity = SenderIdentityChange(
            legalName: Self.legalName, postalAddress: Self.postalAddress, contact: try SenderContact(Self.contact))
        _ = try await fixture.store.updateList(ListSlug("news"), change, source: .cli)
        let rows = (Self.members + ["tanaka@example.jp"]).map { "\($0),,active,2024-04-01T09:30:00.250Z,\n" }.joined()
        let reader = try SubscriberFileReader(
            source: InMemoryByteSource("email,name,status,subscribed_at,unsubscribed_at\n" + rows), format: .csv, name: "test")
        _ = try await fixture.store.importSubscribers(
            from: reader, options: ImportOptions(list: ListSlug("news"), rules: ImportRules(consentNote: "paper form")),
            problem: { _ in }, progress: { _ in })
        let token = SenderTokenSecret.generate()
        _ = try await fixture.store.createSenderToken(list: ListSlug("news"), name: nil, secret: token, source: .cli)
        let news = try #require(try await fixture.store.list(ListSlug("news")))
        let snapshot = try await fixture.store.takeSnapshot(listID: news.id, tokenID: nil, source: .cli)
        let publicID = try #require(try await fixture.store.pool.read { db in
            try String.fetchOne(db, sql: """
                SELECT s.public_id FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = ?
                """, arguments: ["tanaka@example.jp"])
        })
        return World(
            fixture: fixture, token: token, snapshotID: snapshot.id, recipient: "tanaka@example.jp",
            unsubscribeLink: fixture.links.unsubscribe(subscription: publicID))
    }

    func newsletter(_ world: World) -> Newsletter {
        Newsletter(
            to: world.recipient, unsubscribeLink: world.unsubscribeLink, legalName: Self.legalName,
            postalAddress: Self.postalAddress, contact: Self.contact)
    }

    func preflight(
        _ client: some TestClientProtocol, _ world: World, _ body: [UInt8], token: String? = nil, id: String? = nil,
        contentType: String = "message/rfc822"
    ) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/v1/snapshots/\(id ?? world.snapshotID)/preflight", method: .post,
            headers: [.authorization: "Bearer \(token ?? world.token)", .contentType: contentType],
            body: ByteBuffer(bytes: body))
    }

    func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
    }

    func errorCode(_ response: TestResponse) throws -> String? {
        (try object(response)["error"] as? [String: Any])?["code"] as? String
    }

    func problemCodes(_ response: TestResponse) throws -> [String] {
        (try object(response)["problems"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    @Test("a correct Japanese newsletter, rendered by another program, passes and names its recipient by id")
    func correctNewsletterPasses() async throws {
        let world = try await world()
        let message = try newsletter(world).rendered()
        try await world.fixture.test { client in
            let answer = try await preflight(client, world, message)
            #expect(answer.status == .ok)
            let report = try object(answer)
            #expect(report["verdict"] as? String == "pass", "\(answer.text)")
            #expect(try problemCodes(answer) == [])
            #expect((report["recipient"] as? String)?.isEmpty == false)
            #expect(!answer.text.contains("@"), "the answer names the recipient by id, not by address")
        }
        #expect(try await world.fixture.count("events", where: "type = 'preflight_checked'") == 1)
    }

    @Test("the 300 members in the body fail with their count, and the answer holds none of their addresses")
    func membersInTheBodyAreCountedNotEchoed() async throws {
        let world = try await world()
        var leaking = newsletter(world)
        leaking.text = (leaking.text ?? "") + "\n\n" + Self.members.joined(separator: "\n")
        let message = try leaking.rendered()
        try await world.fixture.test { client in
            let answer = try await preflight(client, world, message)
            #expect(answer.status == .ok)
            let report = try object(answer)
            #expect(report["verdict"] as? String == "fail")
            #expect(report["foreign_addresses"] as? Int == 300 && report["subscriber_addresses"] as? Int == 300)
            #expect(try problemCodes(answer) == ["foreign_addresses"])
            #expect(!answer.text.contains("@"), "no address of anyone in the answer")
            for member in Self.members.prefix(20) { #expect(!answer.text.contains(member)) }
        }
    }

    @Test("no token is 401; a token with feedback:write only is 403 insufficient_scope; another list's token is 403")
    func refusalsBeforeTheMessage() async throws {
        let world = try await world()
        let feedbackOnly = SenderTokenSecret.generate(), techToken = SenderTokenSecret.generate()
        _ = try await world.fixture.store.createSenderToken(
            list: ListSlug("news"), name: nil, scopes: [.feedbackWrite], secret: feedbackOnly, source: .cli)
        _ = try await world.fixture.store.createSenderToken(list: ListSlug("tech"), name: nil, secret: techToken, source: .cli)
        let message = try newsletter(world).rendered()
        try await world.fixture.test { client in
            let anonymous = try await client.execute(
                uri: "/api/v1/snapshots/\(world.snapshotID)/preflight", method: .post,
                headers: [.contentType: "message/rfc822"], body: ByteBuffer(bytes: message))
            #expect(anonymous.status == .unauthorized)
            let narrow = try await preflight(client, world, message, token: feedbackOnly)
            #expect(narrow.status == .forbidden)
            #expect(try errorCode(narrow) == "insufficient_scope")
            let other = try await preflight(client, world, message, token: techToken)
            #expect(other.status == .forbidden)
        }
        #expect(try await world.fixture.count("events", where: "type = 'preflight_checked'") == 0)
    }

    @Test("an unknown snapshot is 404; another media type 415; an empty body 400 empty_message")
    func notAMessageAtAll() async throws {
        let world = try await world()
        let message = try newsletter(world).rendered()
        try await world.fixture.test { client in
            let unknown = try await preflight(client, world, message, id: "no-such-snapshot")
            #expect(unknown.status == .notFound)
            let json = try await preflight(client, world, message, contentType: "application/json")
            #expect(json.status == .unsupportedMediaType)
            #expect(try errorCode(json) == "unsupported_media_type")
            let empty = try await preflight(client, world, [])
            #expect(empty.status == .badRequest)
            #expect(try errorCode(empty) == "empty_message")
        }
        #expect(try await world.fixture.count("events", where: "type = 'preflight_checked'") == 0)
    }

    @Test("a message over 10 MiB is 413, read no further than the limit")
    func overTenMebibytes() async throws {
        let world = try await world()
        let large = try newsletter(world).rendered() + Array(repeating: UInt8(ascii: "a"), count: 10 << 20)
        try await world.fixture.test { client in
            let answer = try await preflight(client, world, large)
            #expect(answer.status == .contentTooLarge)
            #expect(try errorCode(answer) == "body_too_large")
        }
        #expect(try await world.fixture.count("events", where: "type = 'preflight_checked'") == 0)
    }

    @Test("a snapshot whose members were pruned is 410 snapshot_expired")
    func expiredSnapshot() async throws {
        let world = try await world()
        _ = try await world.fixture.store.pruneSnapshots(takenBefore: Date().addingTimeInterval(60), batch: 100)
        let message = try newsletter(world).rendered()
        try await world.fixture.test { client in
            let answer = try await preflight(client, world, message)
            #expect(answer.status == .gone)
            #expect(try errorCode(answer) == "snapshot_expired")
        }
    }

    @Test("garbage, invalid UTF-8 in a header, MIME nested a thousand deep and broken base64 each answer 200 fail with a reason")
    func hostileMessagesFailWithAReason() async throws {
        let world = try await world()
        let correct = String(decoding: try newsletter(world).rendered(), as: UTF8.self)
        let headerEnd = try #require(correct.range(of: "\r\n\r\n"))
        let headers = String(correct[..<headerEnd.lowerBound])
            .replacingOccurrences(of: #"Content-Type: multipart/alternative; boundary="[^"]*""#, with: "", options: .regularExpression)
        var nested = headers + "\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
        for depth in 1..<1_000 { nested += "--b\(depth - 1)\r\nContent-Type: multipart/mixed; boundary=b\(depth)\r\n\r\n" }
        let cases: [(String, [UInt8])] = [
            ("garbage", Array(repeating: 0xFF, count: 4_096) + Array("\r\n".utf8)),
            ("invalid UTF-8 in a header", Array((headers + "\r\nX-Campaign: ").utf8) + [0xC3, 0x28] + Array("\r\n\r\nhello\r\n".utf8)),
            ("nested a thousand deep", Array(nested.utf8)),
            ("broken base64", Array((headers.replacingOccurrences(of: "MIME-Version: 1.0", with: "MIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64")
                + "\r\n\r\n5LuK5pyI44Gu!!!not base64!!!\r\n").utf8)),
        ]
        try await world.fixture.test { client in
            for (name, body) in cases {
                let answer = try await preflight(client, world, body)
                #expect(answer.status == .ok, "\(name): \(answer.status)")
                let report = try object(answer)
                #expect(report["verdict"] as? String == "fail", "\(name)")
                let problems = report["problems"] as? [[String: Any]] ?? []
                #expect(problems.contains { ($0["message"] as? String)?.isEmpty == false }, "\(name): a reason is given")
            }
        }
        #expect(try await world.fixture.count("events", where: "type = 'preflight_checked'") == 4)
    }

    @Test("the gate lets two checks run at once, queues the next, and turns away what is beyond its line")
    func gateBoundsConcurrentChecks() async throws {
        let gate = PreflightGate(running: 2, waiting: 1)
        #expect(await gate.enter())
        #expect(await gate.enter())
        let third = Task { await gate.enter() }
        // The third waits in line; a fourth finds the line full.
        while await gate.waitingCount == 0 { await Task.yield() }
        #expect(await gate.enter() == false)
        await gate.leave()
        #expect(await third.value, "the place left is handed to the one waiting")
        #expect(await gate.waitingCount == 0)
    }
}
