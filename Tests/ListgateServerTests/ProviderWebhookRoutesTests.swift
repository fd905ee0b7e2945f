// Specification of `POST /webhooks/{provider}/{slug}` in the app `listgate serve` runs:
// a request signed the way its provider signs it changes the subscriber as the policy
// says; an unverified or stale one is 401 and changes nothing; a replay changes nothing
// twice; an unconfigured provider or list is 404; too large is 413; unreadable 400.
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Provider webhooks: the routes")
struct ProviderWebhookRoutesTests {
    static let news = try! ListSlug("news")

    /// A fixture with `news`, one active subscriber per address, and `setting` configured.
    static func fixture(_ setting: WebhookSourceSetting, active: [String] = ["bounce@example.com"]) async throws -> ServerFixture {
        let fixture = try await ServerFixture()
        for address in active {
            _ = try await fixture.store.addSubscriber(
                NewSubscriber(address: EmailAddress(address), list: news, confirmed: true), source: .cli, at: Date())
        }
        _ = try await fixture.store.addWebhookSource(list: news, setting: setting, source: .cli)
        return fixture
    }

    static func status(_ fixture: ServerFixture, _ address: String) async throws -> String? {
        try await fixture.store.pool.read { db in
            try String.fetchOne(db, sql: """
                SELECT s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.email = ?
                """, arguments: [address])
        }
    }

    /// Every row of the tables a webhook could change, as text.
    static func state(_ fixture: ServerFixture) async throws -> String {
        try await fixture.store.pool.read { db in
            try ["subscriptions", "suppressions", "events"].map { table in
                try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid").map(\.description).joined(separator: "\n")
            }.joined(separator: "\n--\n")
        }
    }

    static func headers(_ pairs: [String: String]) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in pairs { fields[HTTPField.Name(name)!] = value }
        return fields
    }

    // MARK: One bounce per provider

    @Test("a signed SendGrid bounce makes the subscriber bounced, recorded with source webhook:sendgrid")
    func sendgridBounce() async throws {
        let signer = SendGridSigner()
        let fixture = try await Self.fixture(.sendgrid(publicKey: signer.publicKey))
        let body = try JSONSerialization.data(withJSONObject: [
            SendGridSigner.event("bounce", email: "bounce@example.com", id: "sg-1", extra: ["type": "bounce"]),
            SendGridSigner.event("delivered", email: "other@example.com", id: "sg-2"),
        ])
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/webhooks/sendgrid/news", method: .post, headers: Self.headers(try signer.headers(for: body)),
                body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
            let answer = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Int])
            #expect(answer["accepted"] == 1)
            #expect(answer["ignored"] == 1)
        }
        #expect(try await Self.status(fixture, "bounce@example.com") == "bounced")
        let sources = try await fixture.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT source FROM events WHERE type = 'bounced'")
        }
        #expect(sources == ["webhook:sendgrid"])
    }

    @Test("a signed Mailgun permanent failure makes the subscriber bounced")
    func mailgunBounce() async throws {
        let signer = MailgunSigner()
        let fixture = try await Self.fixture(.mailgun(signingKey: signer.signingKey))
        let body = try signer.body(MailgunSigner.failed("bounce@example.com"))
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/webhooks/mailgun/news", method: .post, headers: Self.headers([:]), body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
        }
        #expect(try await Self.status(fixture, "bounce@example.com") == "bounced")
    }

    @Test("a Postmark hard bounce with the right Basic credentials makes the subscriber bounced")
    func postmarkBounce() async throws {
        let password = "a-generated-password-for-the-test"
        let fixture = try await Self.fixture(.postmark(username: "listgate", password: password))
        let body = try PostmarkRequests.bounce("bounce@example.com")
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/webhooks/postmark/news", method: .post,
                headers: Self.headers(["Authorization": PostmarkRequests.authorization(user: "listgate", password: password)]),
                body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
        }
        #expect(try await Self.status(fixture, "bounce@example.com") == "bounced")
    }

    @Test("a signed SNS notification of an SES complaint makes the subscriber complained")
    func sesComplaint() async throws {
        let signer = try SNSSigner()
        let server = try WebServer.start()
        try server.serve(signer.certificatePEM, as: "SimpleNotificationService-test.pem")
        let fixture = try await Self.fixture(.ses(topicARN: signer.topicARN), active: ["spam@example.com"])
        fixture.configuration.providerWebhooks.extraSNSOrigins = [server.origin]
        let body = try signer.notification(
            SNSSigner.sesComplaint("spam@example.com"), certificateURL: server.origin + "/SimpleNotificationService-test.pem")
        try await fixture.test { client in
            let response = try await client.execute(uri: "/webhooks/ses/news", method: .post, headers: Self.headers([:]), body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
        }
        #expect(try await Self.status(fixture, "spam@example.com") == "complained")
    }

    // MARK: Refusals change nothing

    @Test("an unverified request is 401 and changes nothing, for every provider", arguments: WebhookProvider.allCases)
    func unverified(provider: WebhookProvider) async throws {
        let sendgrid = SendGridSigner(), mailgun = MailgunSigner(), sns = try SNSSigner(), server = try WebServer.start()
        try server.serve(sns.certificatePEM, as: "cert.pem")
        let setting: WebhookSourceSetting, body: Data, headers: [String: String]
        switch provider {
        case .ses:
            setting = .ses(topicARN: nil)
            // Signed by another key than the certificate's.
            body = try SNSSigner().notification(SNSSigner.sesBounce(["bounce@example.com"]), certificateURL: server.origin + "/cert.pem")
            headers = [:]
        case .sendgrid:
            setting = .sendgrid(publicKey: sendgrid.publicKey)
            body = try JSONSerialization.data(withJSONObject: [
                SendGridSigner.event("bounce", email: "bounce@example.com", id: "sg-1", extra: ["type": "bounce"])])
            headers = try SendGridSigner().headers(for: body)
        case .mailgun:
            setting = .mailgun(signingKey: mailgun.signingKey)
            body = try MailgunSigner().body(MailgunSigner.failed("bounce@example.com"))
            headers = [:]
        case .postmark:
            setting = .postmark(username: "listgate", password: "the-right-password-123")
            body = try PostmarkRequests.bounce("bounce@example.com")
            headers = ["Authorization": PostmarkRequests.authorization(user: "listgate", password: "a-wrong-password-1234")]
        }
        let fixture = try await Self.fixture(setting)
        fixture.configuration.providerWebhooks.extraSNSOrigins = [server.origin]
        let before = try await Self.state(fixture)
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/webhooks/\(provider.rawValue)/news", method: .post, headers: Self.headers(headers), body: ByteBuffer(bytes: body))
            #expect(response.status == .unauthorized)
            #expect(String(buffer: response.body).contains(#""code":"unverified""#))
        }
        #expect(try await Self.state(fixture) == before)
    }

    @Test("a request signed more than 5 minutes ago is 401 and changes nothing")
    func stale() async throws {
        let signer = SendGridSigner()
        let fixture = try await Self.fixture(.sendgrid(publicKey: signer.publicKey))
        let body = try JSONSerialization.data(withJSONObject: [
            SendGridSigner.event("bounce", email: "bounce@example.com", id: "sg-1", extra: ["type": "bounce"])])
        let before = try await Self.state(fixture)
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/webhooks/sendgrid/news", method: .post,
                headers: Self.headers(try signer.headers(for: body, timestamp: Date().addingTimeInterval(-360))), body: ByteBuffer(bytes: body))
            #expect(response.status == .unauthorized)
        }
        #expect(try await Self.state(fixture) == before)
    }

    @Test("an SNS certificate URL on a host that is not allowed is 401, and nothing is fetched")
    func sesCertificateHostRefused() async throws {
        let signer = try SNSSigner()
        let server = try WebServer.start()
        try server.serve(signer.certificatePEM, as: "cert.pem")
        let fixture = try await Self.fixture(.ses(topicARN: nil))  // the server's origin is not trusted
        let body = try signer.notification(SNSSigner.sesBounce(["bounce@example.com"]), certificateURL: server.origin + "/cert.pem")
        let before = try await Self.state(fixture)
        try await fixture.test { client in
            let response = try await client.execute(uri: "/webhooks/ses/news", method: .post, headers: Self.headers([:]), body: ByteBuffer(bytes: body))
            #expect(response.status == .unauthorized)
        }
        #expect(server.requests().isEmpty)
        #expect(try await Self.state(fixture) == before)
    }

    @Test("an SNS SubscriptionConfirmation is answered 200 after its SubscribeURL is fetched")
    func sesSubscriptionConfirmation() async throws {
        let signer = try SNSSigner()
        let server = try WebServer.start()
        try server.serve(signer.certificatePEM, as: "cert.pem")
        let fixture = try await Self.fixture(.ses(topicARN: signer.topicARN))
        fixture.configuration.providerWebhooks.extraSNSOrigins = [server.origin]
        let body = try signer.subscriptionConfirmation(
            subscribeURL: server.origin + "/confirm?Action=ConfirmSubscription&Token=t", certificateURL: server.origin + "/cert.pem")
        try await fixture.test { client in
            let response = try await client.execute(uri: "/webhooks/ses/news", method: .post, headers: Self.headers([:]), body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
        }
        #expect(server.requests().contains("/confirm?Action=ConfirmSubscription&Token=t"))
    }

    @Test("the same signed request twice changes the subscriber once")
    func replay() async throws {
        let password = "a-generated-password-for-the-test"
        let fixture = try await Self.fixture(.postmark(username: "listgate", password: password))
        let body = try PostmarkRequests.bounce("bounce@example.com", id: 7)
        let headers = Self.headers(["Authorization": PostmarkRequests.authorization(user: "listgate", password: password)])
        let afterFirst = Shared("")
        try await fixture.test { client in
            let first = try await client.execute(uri: "/webhooks/postmark/news", method: .post, headers: headers, body: ByteBuffer(bytes: body))
            #expect(first.status == .ok)
            let state = try await Self.state(fixture)
            afterFirst.withLock { $0 = state }
            let second = try await client.execute(uri: "/webhooks/postmark/news", method: .post, headers: headers, body: ByteBuffer(bytes: body))
            #expect(second.status == .ok)
            let answer = try #require(JSONSerialization.jsonObject(with: Data(second.body.readableBytesView)) as? [String: Int])
            #expect(answer["accepted"] == 0)
            #expect(answer["duplicates"] == 1)
        }
        #expect(try await Self.state(fixture) == afterFirst.current)
    }

    @Test("a Mailgun token used before is refused, even with other event data")
    func mailgunTokenReplay() async throws {
        let signer = MailgunSigner()
        let fixture = try await Self.fixture(.mailgun(signingKey: signer.signingKey), active: ["bounce@example.com", "victim@example.com"])
        let token = "0123456789abcdef0123456789abcdef0123456789abcdef00"
        let first = try signer.body(MailgunSigner.failed("bounce@example.com"), token: token)
        let replayed = try signer.body(MailgunSigner.failed("victim@example.com"), token: token)
        try await fixture.test { client in
            let one = try await client.execute(uri: "/webhooks/mailgun/news", method: .post, headers: Self.headers([:]), body: ByteBuffer(bytes: first))
            #expect(one.status == .ok)
            let two = try await client.execute(uri: "/webhooks/mailgun/news", method: .post, headers: Self.headers([:]), body: ByteBuffer(bytes: replayed))
            #expect(two.status == .unauthorized)
        }
        #expect(try await Self.status(fixture, "victim@example.com") == "active")
    }

    @Test("an unknown provider, an unknown list or a list without that provider is 404", arguments: [
        "/webhooks/sparkpost/news", "/webhooks/postmark/nope", "/webhooks/sendgrid/news", "/webhooks/postmark/NEWS",
    ])
    func notFound(path: String) async throws {
        let fixture = try await Self.fixture(.postmark(username: "listgate", password: "a-generated-password-for-the-test"))
        try await fixture.test { client in
            let response = try await client.execute(uri: path, method: .post, headers: Self.headers([:]), body: ByteBuffer(string: "{}"))
            #expect(response.status == .notFound)
        }
    }

    @Test("a body over the provider's limit is 413")
    func tooLarge() async throws {
        let fixture = try await Self.fixture(.postmark(username: "listgate", password: "a-generated-password-for-the-test"))
        try await fixture.test { client in
            let body = ByteBuffer(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
            let response = try await client.execute(uri: "/webhooks/postmark/news", method: .post, headers: Self.headers([:]), body: body)
            #expect(response.status == .contentTooLarge)
        }
    }

    @Test("a verified body that is not JSON is 400 and changes nothing")
    func malformed() async throws {
        let password = "a-generated-password-for-the-test"
        let fixture = try await Self.fixture(.postmark(username: "listgate", password: password))
        let before = try await Self.state(fixture)
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/webhooks/postmark/news", method: .post,
                headers: Self.headers(["Authorization": PostmarkRequests.authorization(user: "listgate", password: password)]),
                body: ByteBuffer(string: "RecordType=Bounce"))
            #expect(response.status == .badRequest)
        }
        #expect(try await Self.state(fixture) == before)
    }
}
