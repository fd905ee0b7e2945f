// What stays of admin membership's tests here, beside the store conformance suite
// (Tests/ListgateStoreTests/MembershipConformanceTests.swift): SQLite's own write-ahead
// log after `forget`, a name refused before any store, and forget's meeting with
// snapshots and the departures feed (the Audience room's, until it is on both stores).
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Membership store")
struct MembershipStoreTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    /// A migrated database with the lists `news` and `events`.
    func prepared() async throws -> (MigratedDatabase, news: MailingList, events: MailingList) {
        let database = try await MigratedDatabase.make()
        let news = try await database.store.createList(try .sample("news"), source: .cli)
        let events = try await database.store.createList(try .sample("events", name: "催し"), source: .cli)
        return (database, news, events)
    }

    func add(_ email: String, to list: String = "news", name: String? = nil, confirmed: Bool,
             in database: MigratedDatabase) async throws -> AddSubscriberOutcome {
        try await database.store.addSubscriber(
            NewSubscriber(address: EmailAddress(email), list: ListSlug(list), name: name, confirmed: confirmed),
            source: .cli, at: now)
    }

    @Test("a name with a line break is refused before anything is stored")
    func badName() throws {
        #expect(throws: DomainError.self) {
            try NewSubscriber(address: EmailAddress("a@example.org"), list: ListSlug("news"), name: "A\nBcc: x", confirmed: true)
        }
    }

    @Test("forget empties the write-ahead log")
    func forgetTruncatesWAL() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        let wal = database.path + "-wal"
        #expect(try Self.fileSize(wal) > 0)
        let report = try await database.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: now)
        #expect(report.walTruncated)
        #expect(try Self.fileSize(wal) == 0)
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test("after forget and the person's own double opt-in, the next snapshot holds them and the feed names only the erased subscription; an admin suppression still keeps them out")
    func forgottenThenOptedIn() async throws {
        let (database, news, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.forget(ada, source: .cli, at: now)
        // Her own new request and confirmation, as the form and the link make them.
        let submission = NewSubmission(
            publicID: TokenSigner.newID(), list: news, address: ada, name: nil,
            origin: RequestOrigin(route: "form:/lists/news/subscribe"), consentVersion: "v1",
            requestedAt: now, expiresAt: now.addingTimeInterval(3600))
        let mail = NewOutboxMessage(
            messageID: "<c2@listgate.test>", listID: news.id, kind: .confirmation, recipient: ada,
            raw: Array("To: ada@example.org\r\n\r\nconfirm\r\n".utf8))
        #expect(try await database.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .mailed)
        _ = try await database.store.confirmSubmission(
            publicID: submission.publicID, at: now.addingTimeInterval(60), origin: RequestOrigin(route: "confirm"))
        #expect(try await database.store.takeSnapshot(listID: news.id, tokenID: nil, source: .cli).count == 1)
        // The feed names only the erased subscription (by recipient id, without an address):
        // the person who came back is not a leaver.
        let departures = try await database.store.departures(
            listID: news.id, since: Timestamp.string(now.addingTimeInterval(-30)), after: nil, limit: 10)
        #expect(departures.map(\.reason) == ["erased"])
        #expect(departures.allSatisfy { $0.email == nil })

        _ = try await database.store.suppress(ada, list: nil, source: .cli, at: now.addingTimeInterval(120))
        #expect(try await database.store.takeSnapshot(listID: news.id, tokenID: nil, source: .cli).count == 0)
    }
}
