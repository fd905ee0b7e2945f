// Specification of the intake's storage, on every store: a subscribe request writes its
// submission, its one mail and its `requested` event together, and the mail goes to the
// submitter alone; confirmations, "not me" blocks, recorded form posts and consent
// wordings.
import Foundation
@testable import ListgateCore
import Testing

@Suite("Intake, on every store")
struct IntakeConformanceTests {
    @Test("a request's mail is queued for the submitter, under the submitter's address hash", arguments: StoreKind.underTest)
    func mailQueuedForSubmitter(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let (submission, mail) = try people.request("Ada@Example.org")
        #expect(try await people.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .mailed)
        let rows = try await people.opened.rows("SELECT recipient, address_hash, kind, status FROM outbox")
        #expect(rows == [["Ada@example.org", try await people.hash("ada@example.org"), "confirmation", "queued"]])
    }

    @Test("a request writes its submission, its mail and its requested event together", arguments: StoreKind.underTest)
    func requestWritesTogether(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let (outcome, publicID) = try await people.subscribe("ada+news@example.org")
        #expect(outcome == .mailed)
        let hash = try await people.hash("ada+news@example.org")
        let mailbox = try await people.hash("ada@example.org")
        #expect(try await people.opened.rows("""
            SELECT public_id, kind, email, address_hash, mailbox_hash, status, consent_version, client_ip_prefix,
                   requested_at, mailed_at
            FROM submissions
            """) == [[publicID, "subscribe", "ada+news@example.org", hash, mailbox, "pending", "v1", "192.0.2.0/24",
                      Timestamp.string(people.now), Timestamp.string(people.now)]])
        #expect(try await people.opened.rows("SELECT mailbox_hash, created_at FROM outbox")
            == [[mailbox, Timestamp.string(people.now)]])
        let requested = try #require(try await people.ledger().last)
        #expect(requested == People.Event(
            type: "requested", listID: people.news.id, addressHash: hash, source: "form:/lists/news/subscribe",
            detail: #"{"client_network":"192.0.2.0/24","user_agent":"test"}"#))
        #expect(try await people.opened.value("SELECT consent_version FROM events WHERE type = 'requested'") == "v1")
    }

    @Test("a request whose mail names anyone but the submitter is refused and writes nothing", arguments: StoreKind.underTest)
    func mailToSomeoneElseRefused(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let eventsBefore = try await people.opened.count("events")
        let (submission, mail) = try people.request("ada@example.org", mailTo: "everyone@example.org")
        await #expect(throws: StoreError.mailNotToSubmitter) {
            try await people.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy())
        }
        #expect(try await people.opened.count("outbox") == 0)
        #expect(try await people.opened.count("submissions") == 0)
        #expect(try await people.opened.count("events") == eventsBefore)
    }

    @Test("a request recorded before its list was archived is decided as list_archived: no mail, no submission",
          arguments: StoreKind.underTest)
    func archivedBeforeDecision(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        _ = try await people.store.archiveList(people.news.slug, source: .cli)
        #expect(try await people.subscribe("taro@example.jp").outcome == .listArchived)
        #expect(try await people.opened.count("outbox") == 0)
        #expect(try await people.opened.count("submissions") == 0)
    }

    @Test("a pending confirmation of a list archived since cannot be confirmed, and its page says closed",
          arguments: StoreKind.underTest)
    func pendingConfirmationOfArchivedList(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let (outcome, publicID) = try await people.subscribe("taro@example.jp")
        #expect(outcome == .mailed)
        _ = try await people.store.archiveList(people.news.slug, source: .cli)
        let closed = TokenPage.listArchived(listSlug: "news", listName: people.news.name, locale: .ja)
        #expect(try await people.store.tokenPage(publicID: publicID, expired: false) == closed)
        #expect(try await people.store.confirmSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "form:/confirm"))
            == .listArchived(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.opened.count("subscriptions") == 0)
    }

    @Test("a second request within the cooldown mails nothing; past it, the mailbox's daily limit holds across +tags",
          arguments: StoreKind.underTest)
    func cooldownAndDailyLimit(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        #expect(try await people.subscribe("ada@example.org").outcome == .mailed)
        #expect(try await people.subscribe("ada+1@example.org", at: people.now.addingTimeInterval(60)).outcome == .cooldown)
        #expect(try await people.subscribe("ada+2@example.org", at: people.now.addingTimeInterval(20 * 60)).outcome == .mailed)
        #expect(try await people.subscribe("ada+3@example.org", at: people.now.addingTimeInterval(40 * 60)).outcome == .mailed)
        #expect(try await people.subscribe("ada+4@example.org", at: people.now.addingTimeInterval(60 * 60)).outcome == .addressLimit)
        #expect(try await people.opened.count("outbox") == 3)
        #expect(try await people.opened.count("submissions") == 3)
        // Another list has limits of its own.
        #expect(try await people.subscribe("ada@example.org", on: people.events, at: people.now.addingTimeInterval(60)).outcome
            == .mailed)
    }

    @Test("requests for one mailbox at the same moment queue one mail; the others are told cooldown",
          arguments: StoreKind.underTest)
    func concurrentRequestsOneMail(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let outcomes = try await withThrowingTaskGroup(of: SubscribeOutcome.self) { group in
            for tag in 1...6 {
                group.addTask { try await people.subscribe("ada+\(tag)@example.org").outcome }
            }
            return try await group.reduce(into: [SubscribeOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .mailed }.count == 1)
        #expect(outcomes.filter { $0 == .cooldown }.count == 5)
        #expect(try await people.opened.count("outbox") == 1)
        #expect(try await people.opened.count("events", where: "type = 'requested'") == 1)
    }

    @Test("confirming makes the subscription active, records confirmed, and the link then says already confirmed",
          arguments: StoreKind.underTest)
    func confirm(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        // The page compares the link's expiry with the clock: a request made now.
        let start = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let (_, publicID) = try await people.subscribe("Ada@Example.org", at: start)
        let later = start.addingTimeInterval(60)
        #expect(try await people.store.tokenPage(publicID: publicID, expired: false)
            == .ready(listSlug: "news", listName: people.news.name, locale: .ja))
        let origin = RequestOrigin(route: "form:/confirm", clientIP: "198.51.100.9", userAgent: "phone")
        #expect(try await people.store.confirmSubmission(publicID: publicID, at: later, origin: origin)
            == .confirmed(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.opened.rows("""
            SELECT a.email, s.status, s.source, s.subscribed_at FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            """) == [["Ada@Example.org", "active", "form", Timestamp.string(later)]])
        #expect(try await people.opened.rows("SELECT status, decided_at FROM submissions")
            == [["confirmed", Timestamp.string(later)]])
        let confirmed = try #require(try await people.ledger().last)
        #expect(confirmed == People.Event(
            type: "confirmed", listID: people.news.id, addressHash: try await people.hash("ada@example.org"),
            source: "form:/confirm", detail: #"{"client_network":"198.51.100.0/24","user_agent":"phone"}"#))
        #expect(try await people.store.confirmSubmission(publicID: publicID, at: later, origin: origin)
            == .alreadyConfirmed(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.store.tokenPage(publicID: publicID, expired: false)
            == .alreadyConfirmed(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.subscribe("ada@example.org", at: later.addingTimeInterval(3600)).outcome == .alreadyActive)
    }

    @Test("a link past its expiry is expired and confirms nothing; an unknown one is invalid", arguments: StoreKind.underTest)
    func expiredAndUnknown(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let (_, publicID) = try await people.subscribe("ada@example.org")
        let expired = TokenPage.expired(listSlug: "news", listName: people.news.name, locale: .ja)
        #expect(try await people.store.tokenPage(publicID: publicID, expired: true) == expired)
        #expect(try await people.store.confirmSubmission(
            publicID: publicID, at: people.now.addingTimeInterval(3600), origin: RequestOrigin(route: "confirm"))
            == .expired(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.opened.count("subscriptions") == 0)
        #expect(try await people.store.tokenPage(publicID: "nope", expired: false) == .invalid)
        #expect(try await people.store.confirmSubmission(publicID: "nope", at: people.now, origin: RequestOrigin(route: "confirm"))
            == .invalid)
        #expect(try await people.store.blockSubmission(publicID: "nope", at: people.now, origin: RequestOrigin(route: "block"))
            == .invalid)
    }

    @Test("the person's own confirmation lifts their unsubscribed suppression for that list, with an unsuppressed event",
          arguments: StoreKind.underTest)
    func confirmationLiftsOwnSuppression(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.removeSubscriber(try EmailAddress("ada@example.org"), from: ListSlug("news"), source: .cli, at: people.now)
        let (outcome, publicID) = try await people.subscribe("ada@example.org")
        #expect(outcome == .mailed, "an unsubscribe keeps admins out, not the person's own opt-in")
        _ = try await people.store.confirmSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "confirm"))
        #expect(try await people.subscription("ada@example.org") == "active")
        #expect(try await people.subscription("ada@example.org", "unsubscribed_at") == nil)
        #expect(try await people.opened.count("suppressions") == 0)
        let last = try await people.ledger().suffix(2).map(\.type)
        #expect(last == ["confirmed", "unsuppressed"])
    }

    @Test("a \"not me\" block suppresses the address and its mailbox, ends the subscription, and the link is used after",
          arguments: StoreKind.underTest)
    func block(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let (_, publicID) = try await people.subscribe("victim+1@example.com")
        #expect(try await people.store.blockSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "block"))
            == .blocked(listName: people.news.name, locale: .ja))
        let own = try await people.hash("victim+1@example.com"), mailbox = try await people.hash("victim@example.com")
        let added = Array(try await people.ledger().suffix(3))
        #expect(added.map(\.type) == ["blocked", "suppressed", "suppressed"])
        #expect(added.map(\.addressHash) == [own, own, mailbox])
        #expect(added.map(\.detail).dropFirst() == [#"{"reason":"blocked"}"#, #"{"reason":"blocked"}"#])
        #expect(try await people.opened.count("suppressions", where: "reason = 'blocked'") == 2)
        #expect(try await people.store.tokenPage(publicID: publicID, expired: false)
            == .used(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.store.confirmSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "confirm"))
            == .used(listSlug: "news", listName: people.news.name, locale: .ja))
        // Blocking again adds nothing.
        let before = try await people.opened.count("events")
        _ = try await people.store.blockSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "block"))
        #expect(try await people.opened.count("events") == before)
    }

    @Test("a \"not me\" block from a +tag's mail stops mail to every tag of that mailbox", arguments: StoreKind.underTest)
    func blockCoversTheMailbox(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let (first, publicID) = try await people.subscribe("victim+1@example.com")
        #expect(first == .mailed)
        _ = try await people.store.blockSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "block"))
        // An hour later, past the cooldown: still nothing, under any tag or none.
        for spelling in ["victim+2@example.com", "victim@example.com", "victim+1@example.com"] {
            #expect(try await people.subscribe(spelling, at: people.now.addingTimeInterval(3600)).outcome == .suppressed, "\(spelling)")
        }
    }

    @Test("a block after a confirmation ends the subscription (route block)", arguments: StoreKind.underTest)
    func blockAfterConfirmation(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let (_, publicID) = try await people.subscribe("ada@example.org")
        _ = try await people.store.confirmSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "confirm"))
        _ = try await people.store.blockSubmission(publicID: publicID, at: people.now, origin: RequestOrigin(route: "block"))
        #expect(try await people.subscription("ada@example.org") == "unsubscribed")
        let last = try #require(try await people.ledger().last)
        #expect(last.type == "unsubscribed" && last.detail == #"{"route":"block"}"#)
    }

    // MARK: Recorded form posts

    @Test("recorded posts come back oldest first with what was posted; a failure is counted; a discard removes one",
          arguments: StoreKind.underTest)
    func formRequests(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let origin = RequestOrigin(route: "form:/lists/news/subscribe", clientIP: "192.0.2.7", userAgent: "test")
        try await people.store.recordFormRequest(
            kind: .subscribe, list: people.news, address: try EmailAddress("Ada@Example.org"), name: "エイダ", origin: origin,
            at: people.now)
        try await people.store.recordFormRequest(
            kind: .unsubscribeLink, list: people.events, address: try EmailAddress("bob@example.org"), name: nil,
            origin: RequestOrigin(route: "form:/lists/events/unsubscribe"), at: people.now.addingTimeInterval(1))
        let pending = try await people.store.pendingFormRequests(limit: 10)
        #expect(pending.map(\.kind) == [.subscribe, .unsubscribeLink])
        #expect(pending.map(\.listSlug) == ["news", "events"])
        #expect(pending.map(\.email) == ["Ada@Example.org", "bob@example.org"])
        #expect(pending.map(\.name) == ["エイダ", nil])
        #expect(pending[0].origin == RequestOrigin(route: origin.route, clientNetwork: "192.0.2.0/24", userAgent: "test"))
        #expect(pending.map(\.receivedAt) == [people.now, people.now.addingTimeInterval(1)])
        #expect(try await people.store.pendingFormRequests(limit: 1).map(\.id) == [pending[0].id])
        #expect(try await people.store.noteFormRequestFailure(id: pending[0].id) == 1)
        #expect(try await people.store.noteFormRequestFailure(id: pending[0].id) == 2)
        try await people.store.discardFormRequest(id: pending[0].id)
        #expect(try await people.store.pendingFormRequests(limit: 10).map(\.id) == [pending[1].id])
    }

    @Test("a recorded post is consumed by its decision: deciding it again changes nothing", arguments: StoreKind.underTest)
    func formRequestDecidedOnce(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.store.recordFormRequest(
            kind: .subscribe, list: people.news, address: try EmailAddress("ada@example.org"), name: nil,
            origin: RequestOrigin(route: "form"), at: people.now)
        let id = try #require(try await people.store.pendingFormRequests(limit: 1).first?.id)
        var (submission, mail) = try people.request("ada@example.org")
        submission.formRequestID = id
        #expect(try await people.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .mailed)
        #expect(try await people.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .alreadyDecided)
        #expect(try await people.store.pendingFormRequests(limit: 10).isEmpty)
        #expect(try await people.opened.count("outbox") == 1)
    }

    // MARK: Consent wordings

    @Test("a wording is archived with the first request that names it, once, and read back by its version",
          arguments: StoreKind.underTest)
    func consentWordingArchived(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let wording = ConsentWording(locale: .ja, parts: [.init(name: "page", text: "登録すると / 同意します")])
        for (index, email) in ["ada@example.org", "bob@example.org"].enumerated() {
            let date = people.now.addingTimeInterval(Double(index))
            var (submission, mail) = try people.request(email, at: date, consentVersion: wording.version)
            submission.wording = wording
            #expect(try await people.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .mailed)
        }
        #expect(try await people.opened.count("consent_wordings") == 1)
        #expect(try await people.store.consentVersion(wording.version)
            == .archived(ArchivedWording(version: wording.version, locale: .ja, parts: wording.parts, firstUsedAt: people.now)))
        // A version the ledger names without a wording (recorded before the archive).
        _ = try await people.subscribe("carol@example.org", at: people.now.addingTimeInterval(5))
        #expect(try await people.store.consentVersion("v1")
            == .recordedWithoutWording(firstRecordedAt: people.now.addingTimeInterval(5)))
        #expect(try await people.store.consentVersion("0123456789abcdef") == .unknown)
    }

    @Test("the signing secret is the one migrate generated", arguments: StoreKind.underTest)
    func secretKey(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let stored = try await people.opened.value("SELECT value FROM settings WHERE key = 'secret_key'")
        #expect(try await people.store.secretKey() == stored)
        #expect(stored?.count == 64)
    }
}
