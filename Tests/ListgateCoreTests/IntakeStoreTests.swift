// Specification of the intake's storage: a subscribe request writes its submission, its
// one mail and its `requested` event together, and the mail goes to the submitter alone.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Intake store")
struct IntakeStoreTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func request(_ submitted: String, mailTo recipient: String, on list: MailingList) throws -> (NewSubmission, NewOutboxMessage) {
        let submission = NewSubmission(
            publicID: TokenSigner.newID(), list: list, address: try EmailAddress(submitted), name: nil,
            origin: RequestOrigin(route: "form:/lists/news/subscribe", clientIP: "192.0.2.7", userAgent: "test"),
            consentVersion: "v1", requestedAt: now, expiresAt: now.addingTimeInterval(3600))
        let mail = NewOutboxMessage(
            messageID: "<\(TokenSigner.newID())@listgate.test>", listID: list.id, kind: .confirmation,
            recipient: try EmailAddress(recipient), raw: Array("To: \(recipient)\r\nSubject: confirm\r\n\r\nconfirm\r\n".utf8))
        return (submission, mail)
    }

    func count(_ table: String, in database: MigratedDatabase) async throws -> Int {
        try await database.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? -1 }
    }

    @Test("a request's mail is queued for the submitter, under the submitter's address hash")
    func mailQueuedForSubmitter() async throws {
        let database = try await MigratedDatabase.make()
        let list = try await database.store.createList(try .sample("news"), source: .cli)
        let (submission, mail) = try request("Ada@Example.org", mailTo: "Ada@Example.org", on: list)
        #expect(try await database.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .mailed)
        let (recipient, stored, expected) = try await database.store.pool.read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT recipient, address_hash FROM outbox"))
            return (row["recipient"] as String, row["address_hash"] as String,
                    try AddressHasher.hash(try EmailAddress("ada@example.org"), in: db))
        }
        #expect(recipient == "Ada@example.org")
        #expect(stored == expected)
    }

    @Test("a request whose mail names anyone but the submitter is refused and writes nothing")
    func mailToSomeoneElseRefused() async throws {
        let database = try await MigratedDatabase.make()
        let list = try await database.store.createList(try .sample("news"), source: .cli)
        let eventsBefore = try await count("events", in: database)
        let (submission, mail) = try request("ada@example.org", mailTo: "everyone@example.org", on: list)
        await #expect(throws: StoreError.mailNotToSubmitter) {
            try await database.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy())
        }
        #expect(try await count("outbox", in: database) == 0)
        #expect(try await count("submissions", in: database) == 0)
        #expect(try await count("events", in: database) == eventsBefore)
    }

    @Test("a request recorded before its list was archived is decided as list_archived: no mail, no submission")
    func archivedBeforeDecision() async throws {
        let database = try await MigratedDatabase.make()
        let list = try await database.store.createList(try .sample(), source: .cli)
        _ = try await database.store.archiveList(list.slug, source: .cli)
        let (submission, mail) = try request("taro@example.jp", mailTo: "taro@example.jp", on: list)
        #expect(try await database.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .listArchived)
        #expect(try await count("outbox", in: database) == 0)
        #expect(try await count("submissions", in: database) == 0)
    }

    @Test("a pending confirmation of a list archived since cannot be confirmed, and its page says closed")
    func pendingConfirmationOfArchivedList() async throws {
        let database = try await MigratedDatabase.make()
        let list = try await database.store.createList(try .sample(), source: .cli)
        let (submission, mail) = try request("taro@example.jp", mailTo: "taro@example.jp", on: list)
        #expect(try await database.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .mailed)
        _ = try await database.store.archiveList(list.slug, source: .cli)
        let closed = TokenPage.listArchived(listSlug: "news", listName: list.name, locale: .ja)
        #expect(try await database.store.tokenPage(publicID: submission.publicID, expired: false) == closed)
        let origin = RequestOrigin(route: "form:/confirm")
        #expect(try await database.store.confirmSubmission(publicID: submission.publicID, at: now, origin: origin)
            == .listArchived(listSlug: "news", listName: list.name, locale: .ja))
        #expect(try await count("subscriptions", in: database) == 0)
    }
}
