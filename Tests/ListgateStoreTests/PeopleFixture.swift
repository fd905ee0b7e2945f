// What the conformance tests of the people's rooms (intake, leaving, membership, one
// person) share: a store with lists, requests as the form makes them, and the address
// hashes the store writes, computed from its own key.
import Foundation
@testable import ListgateCore
import Testing

typealias PeopleStore = any ListStore & IntakeStore & MembershipStore & UnsubscribeStore & PreferencesStore & PersonStore

struct People {
    let opened: StoreUnderTest
    let store: PeopleStore
    /// The lists made by `open`, by slug.
    let lists: [String: MailingList]
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    /// A migrated store with the lists `news` and `events`.
    static func open(_ kind: StoreKind) async throws -> People {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as(PeopleStore.self)
        let news = try await store.createList(try .sample("news"), source: .cli)
        let events = try await store.createList(try .sample("events", name: "催し"), source: .cli)
        return People(opened: opened, store: store, lists: ["news": news, "events": events])
    }

    var news: MailingList { lists["news"]! }
    var events: MailingList { lists["events"]! }

    /// The keyed hash the store records for `email` (its identity key).
    func hash(_ email: String) async throws -> String {
        let key = try #require(try await opened.value(
            "SELECT value FROM settings WHERE key = '\(GeneratedKey.addressHashKey.rawValue)'"))
        return AddressHasher.hash(identityKey: try EmailAddress(email).identityKey, key: key)
    }

    /// A subscribe request from the form, and its confirmation mail to `recipient`.
    func request(
        _ submitted: String, mailTo recipient: String? = nil, on list: MailingList? = nil, at date: Date? = nil,
        consentVersion: String = "v1"
    ) throws -> (NewSubmission, NewOutboxMessage) {
        let list = list ?? news
        let date = date ?? now
        let submission = NewSubmission(
            publicID: TokenSigner.newID(), list: list, address: try EmailAddress(submitted), name: nil,
            origin: RequestOrigin(route: "form:/lists/\(list.slug.rawValue)/subscribe", clientIP: "192.0.2.7", userAgent: "test"),
            consentVersion: consentVersion, requestedAt: date, expiresAt: date.addingTimeInterval(3600))
        let to = recipient ?? submitted
        let mail = NewOutboxMessage(
            messageID: "<\(TokenSigner.newID())@listgate.test>", listID: list.id, kind: .confirmation,
            recipient: try EmailAddress(to), raw: Array("To: \(to)\r\nSubject: confirm\r\n\r\nconfirm\r\n".utf8))
        return (submission, mail)
    }

    /// Records a subscribe request; returns the outcome and the submission's public id.
    @discardableResult
    func subscribe(
        _ email: String, on list: MailingList? = nil, at date: Date? = nil, policy: IntakePolicy = IntakePolicy()
    ) async throws -> (outcome: SubscribeOutcome, publicID: String) {
        let (submission, mail) = try request(email, on: list, at: date)
        return (try await store.recordSubscribeRequest(submission, mail: mail, policy: policy), submission.publicID)
    }

    @discardableResult
    func add(_ email: String, to list: String = "news", name: String? = nil, confirmed: Bool) async throws
        -> AddSubscriberOutcome
    {
        try await store.addSubscriber(
            NewSubscriber(address: EmailAddress(email), list: ListSlug(list), name: name, confirmed: confirmed),
            source: .cli, at: now)
    }

    /// One column of the subscription of `email` on `list`, as text (nil: no such row).
    func subscription(_ email: String, _ column: String = "status", list: String = "news") async throws -> String? {
        try await opened.value("""
            SELECT s.\(column) FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
            WHERE a.identity_key = '\(try EmailAddress(email).identityKey)' AND l.slug = '\(list)'
            """)
    }

    /// The ledger, oldest first: type, list_id, address_hash, source, detail.
    func ledger() async throws -> [Event] {
        try await opened.rows("SELECT type, list_id, address_hash, source, detail FROM events ORDER BY id").map {
            Event(type: $0[0] ?? "", listID: $0[1].flatMap { Int64($0) }, addressHash: $0[2], source: $0[3] ?? "",
                  detail: $0[4] ?? "")
        }
    }

    struct Event: Equatable {
        let type: String
        let listID: Int64?
        let addressHash: String?
        let source: String
        let detail: String
    }

    /// The public id of the subscription of `email` on `list` (its unsubscribe link's).
    func subscriptionPublicID(_ email: String, list: String = "news") async throws -> String {
        try #require(try await subscription(email, "public_id", list: list))
    }
}

/// A receipt as the unsubscribe routes render one, or none.
@Sendable func receiptMail(_ list: MailingList, _ address: EmailAddress) throws -> NewOutboxMessage? {
    NewOutboxMessage(
        messageID: "<\(TokenSigner.newID())@listgate.test>", listID: list.id, kind: .receipt, recipient: address,
        raw: Array("To: \(address.entered)\r\n\r\nbye\r\n".utf8))
}
