// Specification of leaving, on every store: an unsubscribe link ends its one
// subscription (twice is fine), the unsubscribe-by-address form mails a link only to
// someone on the list, and a preferences link leaves only the lists in its scope.
import Foundation
@testable import ListgateCore
import Testing

@Suite("Leaving, on every store")
struct LeavingConformanceTests {
    @Test("an unsubscribe link ends the subscription, suppresses for that list, and queues the receipt in the same change",
          arguments: StoreKind.underTest)
    func unsubscribe(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("Ada@Example.org", confirmed: true)
        let publicID = try await people.subscriptionPublicID("ada@example.org")
        #expect(try await people.store.unsubscribePage(publicID: publicID)
            == .ready(listSlug: "news", listName: people.news.name, locale: .ja))
        let origin = RequestOrigin(route: "page:/unsubscribe")
        #expect(try await people.store.unsubscribe(publicID: publicID, route: .page, origin: origin, at: people.now, receipt: receiptMail)
            == .unsubscribed(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.subscription("ada@example.org") == "unsubscribed")
        let hash = try await people.hash("ada@example.org")
        #expect(try await people.opened.rows("SELECT list_id, address_hash, reason FROM suppressions")
            == [[String(people.news.id), hash, "unsubscribed"]])
        #expect(try await people.opened.rows("SELECT kind, recipient, address_hash FROM outbox")
            == [["receipt", "Ada@example.org", hash]])
        let added = try await people.ledger().suffix(2)
        #expect(added.map(\.type) == ["unsubscribed", "suppressed"])
        #expect(added.first?.detail == #"{"route":"page"}"#)
        #expect(added.allSatisfy { $0.source == "page:/unsubscribe" })
        // The link keeps working, and says it was done.
        #expect(try await people.store.unsubscribePage(publicID: publicID)
            == .used(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.store.unsubscribe(publicID: publicID, route: .page, origin: origin, at: people.now, receipt: receiptMail)
            == .alreadyUnsubscribed(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.opened.count("outbox") == 1, "no second receipt")
    }

    @Test("one-click sends no receipt; an unknown link is invalid", arguments: StoreKind.underTest)
    func oneClickAndUnknown(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        let publicID = try await people.subscriptionPublicID("ada@example.org")
        #expect(try await people.store.unsubscribe(
            publicID: publicID, route: .oneClick, origin: RequestOrigin(route: "one-click"), at: people.now,
            receipt: { _, _ in nil }) == .unsubscribed(listSlug: "news", listName: people.news.name, locale: .ja))
        #expect(try await people.opened.count("outbox") == 0)
        #expect(try await people.ledger().last { $0.type == "unsubscribed" }?.detail == #"{"route":"one-click"}"#)
        #expect(try await people.store.unsubscribePage(publicID: "nope") == .invalid)
        #expect(try await people.store.unsubscribe(
            publicID: "nope", route: .page, origin: RequestOrigin(route: "page"), at: people.now, receipt: receiptMail) == .invalid)
    }

    @Test("a link request mails the subscriber's link under its hash; someone not on the list gets nothing",
          arguments: StoreKind.underTest)
    func requestLink(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada+news@example.org", confirmed: false)
        let publicID = try await people.subscriptionPublicID("ada+news@example.org")
        let hash = try await people.hash("ada+news@example.org")
        let seen = SeenArguments()
        func ask(_ email: String) async throws -> Bool {
            let address = try EmailAddress(email)
            return try await people.store.requestUnsubscribeLink(
                list: people.news, address: address, at: people.now, policy: IntakePolicy(), formRequestID: nil
            ) { id, addressHash in
                seen.record(id, addressHash)
                return NewOutboxMessage(
                    messageID: "<\(TokenSigner.newID())@listgate.test>", listID: people.news.id, kind: .unsubscribeLink,
                    recipient: address, raw: Array("To: \(email)\r\n\r\nleave\r\n".utf8))
            }
        }
        #expect(try await ask("Ada+News@example.org"))
        #expect(seen.calls == [[publicID, hash]])
        #expect(try await people.opened.rows("SELECT kind, address_hash, mailbox_hash FROM outbox")
            == [["unsubscribe_link", hash, try await people.hash("ada@example.org")]])
        #expect(try await ask("bob@example.org") == false)
        try await people.add("bob@example.org", to: "events", confirmed: true)
        #expect(try await ask("bob@example.org") == false, "on another list only")
        #expect(try await people.opened.count("outbox") == 1)
        #expect(seen.calls.count == 1)
    }

    @Test("link requests stop at the mailbox's daily limit, which subscribe requests share", arguments: StoreKind.underTest)
    func requestLinkLimit(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        try await people.subscribe("ada+x@example.org")
        var answers: [Bool] = []
        for _ in 0..<3 {
            answers.append(try await people.store.requestUnsubscribeLink(
                list: people.news, address: try EmailAddress("ada@example.org"), at: people.now, policy: IntakePolicy(),
                formRequestID: nil
            ) { _, _ in
                NewOutboxMessage(
                    messageID: "<\(TokenSigner.newID())@listgate.test>", listID: people.news.id, kind: .unsubscribeLink,
                    recipient: try EmailAddress("ada@example.org"), raw: Array("To: ada@example.org\r\n\r\nleave\r\n".utf8))
            })
        }
        #expect(answers == [true, true, false])
        #expect(try await people.opened.count("outbox") == 3)
    }

    @Test("a link request consumes its recorded post: deciding it again does nothing", arguments: StoreKind.underTest)
    func requestLinkConsumesPost(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        let address = try EmailAddress("ada@example.org")
        try await people.store.recordFormRequest(
            kind: .unsubscribeLink, list: people.news, address: address, name: nil, origin: RequestOrigin(route: "form"),
            at: people.now)
        let id = try #require(try await people.store.pendingFormRequests(limit: 1).first?.id)
        for expected in [true, false] {
            #expect(try await people.store.requestUnsubscribeLink(
                list: people.news, address: address, at: people.now, policy: IntakePolicy(), formRequestID: id
            ) { _, _ in
                NewOutboxMessage(
                    messageID: "<\(TokenSigner.newID())@listgate.test>", listID: people.news.id, kind: .unsubscribeLink,
                    recipient: address, raw: Array("To: ada@example.org\r\n\r\nleave\r\n".utf8))
            } == expected)
        }
        #expect(try await people.opened.count("outbox") == 1)
    }

    // MARK: Preferences

    @Test("a subscription's preferences show and leave that list only, whatever slugs are posted",
          arguments: StoreKind.underTest)
    func subscriptionScope(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", to: "news", confirmed: true)
        try await people.add("ada@example.org", to: "events", confirmed: true)
        let scope = PreferencesScope.subscription(publicID: try await people.subscriptionPublicID("ada@example.org"))
        #expect(try await people.store.preferences(scope)
            == [PreferenceEntry(listSlug: "news", listName: people.news.name, status: "active", locale: .ja)])
        let left = try await people.store.leave(
            scope, listSlugs: ["news", "events"], origin: RequestOrigin(route: "page:/preferences"), at: people.now,
            receipt: receiptMail)
        #expect(left == ["news"])
        #expect(try await people.subscription("ada@example.org", list: "events") == "active")
        #expect(try await people.ledger().last { $0.type == "unsubscribed" }?.detail == #"{"route":"preferences"}"#)
        #expect(try await people.opened.count("outbox", where: "kind = 'receipt'") == 1)
    }

    @Test("an address's preferences show every list by slug and leave the chosen ones, with one receipt",
          arguments: StoreKind.underTest)
    func addressScope(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        _ = try await people.store.createList(try .sample("alpha", name: "アルファ"), source: .cli)
        for list in ["news", "events", "alpha"] { try await people.add("ada@example.org", to: list, confirmed: true) }
        try await people.add("bob@example.org", to: "news", confirmed: true)
        let scope = PreferencesScope.address(hash: try await people.hash("ada@example.org"))
        #expect(try await people.store.preferences(scope).map(\.listSlug) == ["alpha", "events", "news"])
        let left = try await people.store.leave(
            scope, listSlugs: ["news", "alpha", "nope"], origin: RequestOrigin(route: "page:/preferences"), at: people.now,
            receipt: receiptMail)
        #expect(left == ["alpha", "news"])
        #expect(try await people.store.preferences(scope).map(\.status) == ["unsubscribed", "active", "unsubscribed"])
        #expect(try await people.opened.count("outbox", where: "kind = 'receipt'") == 1, "one person, one message")
        #expect(try await people.subscription("bob@example.org") == "active")
        // Leaving again leaves nothing and sends nothing.
        #expect(try await people.store.leave(
            scope, listSlugs: ["news"], origin: RequestOrigin(route: "page"), at: people.now, receipt: receiptMail).isEmpty)
        #expect(try await people.opened.count("outbox") == 1)
    }
}

/// What a mail closure was called with.
final class SeenArguments: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [[String]] = []

    func record(_ values: String...) { lock.withLock { seen.append(values) } }
    var calls: [[String]] { lock.withLock { seen } }
}
