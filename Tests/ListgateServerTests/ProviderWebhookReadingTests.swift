// Specification of how each provider's request is verified and read, before anything is
// applied: requests signed the way the provider signs them (Tests/Support/
// ProviderSigning.swift, keys made per test) are believed and mapped onto the policy;
// a bad signature, a stale signed time, wrong credentials or a certificate URL off the
// SNS hosts are refused. SNS certificates and confirmations are fetched with the real
// libcurl GET from a real local web server.
import Crypto
import Foundation
import HTTPTypes
@testable import ListgateCore
import ListgateMail
@testable import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Provider webhooks: verifying and reading")
struct ProviderWebhookReadingTests {
    static let slug = try! ListSlug("news")

    static func request(_ body: Data, headers: [String: String] = [:], now: Date = Date()) -> ProviderRequest {
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        return ProviderRequest(headers: fields, body: Array(body), now: now)
    }

    static func refusal(_ read: () async throws(ProviderRefusal) -> ProviderReading) async -> ProviderRefusal? {
        do {
            _ = try await read()
            return nil
        } catch {
            return error
        }
    }

    // MARK: Amazon SES through SNS

    /// A web server serving `signer`'s certificate, and SNS verification that trusts it.
    struct SNSSetup {
        let signer: SNSSigner
        let server: WebServer
        let sns: SNSVerification
        var certificateURL: String { server.origin + "/SimpleNotificationService-test.pem" }

        init() throws {
            signer = try SNSSigner()
            server = try WebServer.start()
            try server.serve(signer.certificatePEM, as: "SimpleNotificationService-test.pem")
            sns = SNSVerification(fetch: CurlURLFetch(), hosts: SNSHostRule(extraOrigins: [server.origin]))
        }
    }

    @Test("an SNS notification of an SES permanent bounce, SignatureVersion 1 or 2, is one hard bounce per bounced recipient",
          arguments: [1, 2])
    func sesPermanentBounce(version: Int) async throws {
        let setup = try SNSSetup()
        let body = try setup.signer.notification(
            SNSSigner.sesBounce(["a@example.com", "b@example.com"]), messageID: "msg-1", certificateURL: setup.certificateURL,
            version: version, subject: "Amazon SES Email Event Notification")
        let reading = try await setup.sns.read(Self.request(body), topicARN: setup.signer.topicARN)
        #expect(reading.events.map(\.type) == [.hardBounce, .hardBounce])
        #expect(reading.events.map(\.recipient) == [.email("a@example.com"), .email("b@example.com")])
        #expect(reading.events.map(\.id) == ["msg-1:0", "msg-1:1"])
        #expect(reading.events.allSatisfy { !$0.detail.values.contains { $0.contains("@") } }, "no address in the detail")
        #expect(setup.server.requests() == ["/SimpleNotificationService-test.pem"])
    }

    @Test("SES Transient and Undetermined bounces are soft bounces", arguments: ["Transient", "Undetermined"])
    func sesSoftBounce(type: String) async throws {
        let setup = try SNSSetup()
        let body = try setup.signer.notification(SNSSigner.sesBounce(["a@example.com"], type: type), certificateURL: setup.certificateURL)
        let reading = try await setup.sns.read(Self.request(body), topicARN: nil)
        #expect(reading.events.map(\.type) == [.softBounce])
    }

    @Test("an SES complaint is a complaint; a not-spam feedback report is ignored")
    func sesComplaint() async throws {
        let setup = try SNSSetup()
        let abuse = try setup.signer.notification(SNSSigner.sesComplaint("a@example.com"), certificateURL: setup.certificateURL)
        #expect(try await setup.sns.read(Self.request(abuse), topicARN: nil).events.map(\.type) == [.complaint])
        let notSpam = try setup.signer.notification(
            SNSSigner.sesComplaint("a@example.com", feedbackType: "not-spam"), certificateURL: setup.certificateURL)
        let reading = try await setup.sns.read(Self.request(notSpam), topicARN: nil)
        #expect(reading.events.isEmpty)
        #expect(reading.ignored == 1)
    }

    @Test("the certificate is fetched once and then taken from the cache")
    func certificateCached() async throws {
        let setup = try SNSSetup()
        for _ in 0..<3 {
            let body = try setup.signer.notification(SNSSigner.sesBounce(["a@example.com"]), certificateURL: setup.certificateURL)
            _ = try await setup.sns.read(Self.request(body), topicARN: nil)
        }
        #expect(setup.server.requests().count == 1)
    }

    @Test("an SNS message whose Message was changed after signing is refused")
    func sesTampered() async throws {
        let setup = try SNSSetup()
        let body = try setup.signer.notification(SNSSigner.sesBounce(["a@example.com"]), certificateURL: setup.certificateURL)
        var json = try #require(JSONSerialization.jsonObject(with: body) as? [String: String])
        json["Message"] = SNSSigner.sesBounce(["victim@example.com"])
        let tampered = try JSONSerialization.data(withJSONObject: json)
        let refusal = await Self.refusal { () async throws(ProviderRefusal) in try await setup.sns.read(Self.request(tampered), topicARN: nil) }
        #expect(refusal == .unverified("bad signature"))
    }

    @Test("a message signed by another key than the certificate's is refused")
    func sesOtherKey() async throws {
        let setup = try SNSSetup()
        let forger = try SNSSigner()
        let body = try forger.notification(SNSSigner.sesBounce(["a@example.com"]), certificateURL: setup.certificateURL)
        let refusal = await Self.refusal { () async throws(ProviderRefusal) in try await setup.sns.read(Self.request(body), topicARN: nil) }
        #expect(refusal == .unverified("bad signature"))
    }

    @Test("an SNS message more than 5 minutes old, or as far ahead, is refused before anything is fetched", arguments: [-301.0, 301.0])
    func sesStale(offset: TimeInterval) async throws {
        let setup = try SNSSetup()
        let body = try setup.signer.notification(
            SNSSigner.sesBounce(["a@example.com"]), timestamp: Date().addingTimeInterval(offset), certificateURL: setup.certificateURL)
        let refusal = await Self.refusal { () async throws(ProviderRefusal) in try await setup.sns.read(Self.request(body), topicARN: nil) }
        #expect(refusal == .stale)
        #expect(setup.server.requests().isEmpty)
    }

    @Test("a SigningCertURL off the SNS hosts is refused and not fetched")
    func sesCertificateHost() async throws {
        let setup = try SNSSetup()
        // The same server, but not among the trusted origins.
        let strict = SNSVerification(fetch: CurlURLFetch(), hosts: SNSHostRule(extraOrigins: []))
        let body = try setup.signer.notification(SNSSigner.sesBounce(["a@example.com"]), certificateURL: setup.certificateURL)
        let refusal = await Self.refusal { () async throws(ProviderRefusal) in try await strict.read(Self.request(body), topicARN: nil) }
        #expect(refusal == .unverified("SigningCertURL is not on an SNS host"))
        #expect(setup.server.requests().isEmpty)
    }

    @Test("the SNS host rule: https on sns.<region>.amazonaws.com, nothing else", arguments: [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", true),
        ("https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-abc.pem", true),
        ("https://sns.us-east-1.amazonaws.com:443/cert.pem", true),
        ("http://sns.us-east-1.amazonaws.com/cert.pem", false),
        ("https://sns.us-east-1.amazonaws.com.evil.example/cert.pem", false),
        ("https://evil.example/sns.us-east-1.amazonaws.com/cert.pem", false),
        ("https://sns.us-east-1.amazonaws.com@evil.example/cert.pem", false),
        ("https://s3.us-east-1.amazonaws.com/cert.pem", false),
        ("https://sns.us_east.amazonaws.com/cert.pem", false),
        ("https://sns.us-east-1.amazonaws.com:8443/cert.pem", false),
        ("https://sns.amazonaws.com/cert.pem", false),
    ])
    func hostRule(url: String, allowed: Bool) {
        #expect(SNSHostRule(extraOrigins: []).allows(url) == allowed)
    }

    @Test("an SNS SubscriptionConfirmation is verified and confirmed by fetching its SubscribeURL")
    func sesSubscriptionConfirmation() async throws {
        let setup = try SNSSetup()
        let body = try setup.signer.subscriptionConfirmation(
            subscribeURL: setup.server.origin + "/confirm?Action=ConfirmSubscription&Token=abc", certificateURL: setup.certificateURL)
        let reading = try await setup.sns.read(Self.request(body), topicARN: setup.signer.topicARN)
        #expect(reading.events.isEmpty)
        #expect(setup.server.requests() == ["/SimpleNotificationService-test.pem", "/confirm?Action=ConfirmSubscription&Token=abc"])
    }

    @Test("a SubscriptionConfirmation whose SubscribeURL is off the SNS hosts is refused and not fetched")
    func sesConfirmationHost() async throws {
        let setup = try SNSSetup()
        let body = try setup.signer.subscriptionConfirmation(
            subscribeURL: "http://127.0.0.2:9/confirm", certificateURL: setup.certificateURL)
        let refusal = await Self.refusal { () async throws(ProviderRefusal) in try await setup.sns.read(Self.request(body), topicARN: nil) }
        #expect(refusal == .unverified("SubscribeURL is not on an SNS host"))
        #expect(setup.server.requests() == ["/SimpleNotificationService-test.pem"])
    }

    @Test("a notification of another topic than the configured one is refused before anything is fetched")
    func sesOtherTopic() async throws {
        let setup = try SNSSetup()
        let body = try setup.signer.notification(SNSSigner.sesBounce(["a@example.com"]), certificateURL: setup.certificateURL)
        let refusal = await Self.refusal { () async throws(ProviderRefusal) in
            try await setup.sns.read(Self.request(body), topicARN: "arn:aws:sns:us-east-1:123456789012:other")
        }
        guard case .unverified = refusal else { Issue.record("expected a refusal, got \(String(describing: refusal))"); return }
        #expect(setup.server.requests().isEmpty)
    }

    // MARK: SendGrid

    static func sendgridBody(_ events: [[String: Any]]) throws -> Data { try JSONSerialization.data(withJSONObject: events) }

    @Test("a signed SendGrid batch maps each event onto the policy, by sg_event_id")
    func sendgridMapping() throws {
        let signer = SendGridSigner()
        let body = try Self.sendgridBody([
            SendGridSigner.event("bounce", email: "hard@example.com", id: "e1", extra: ["type": "bounce", "status": "5.1.1"]),
            SendGridSigner.event("bounce", email: "blocked@example.com", id: "e2", extra: ["type": "blocked"]),
            SendGridSigner.event("dropped", email: "known@example.com", id: "e3", extra: ["reason": "Bounced Address"]),
            SendGridSigner.event("spamreport", email: "spam@example.com", id: "e4"),
            SendGridSigner.event("unsubscribe", email: "u@example.com", id: "e5"),
            SendGridSigner.event("group_unsubscribe", email: "g@example.com", id: "e6"),
            SendGridSigner.event("deferred", email: "later@example.com", id: "e7", extra: ["response": "400 try again later"]),
            SendGridSigner.event("delivered", email: "ok@example.com", id: "e8"),
            SendGridSigner.event("dropped", email: "x@example.com", id: "e9", extra: ["reason": "Invalid SMTPAPI header"]),
        ])
        let reading = try SendGridWebhook.read(Self.request(body, headers: try signer.headers(for: body)), publicKey: signer.publicKey)
        #expect(reading.events.map(\.id) == ["e1", "e2", "e3", "e4", "e5", "e6"])
        #expect(reading.events.map(\.type) == [.hardBounce, .softBounce, .hardBounce, .complaint, .unsubscribe, .unsubscribe])
        #expect(reading.ignored == 3)
    }

    @Test("a SendGrid batch with a bad signature, another key's signature or no signature is refused")
    func sendgridUnverified() throws {
        let signer = SendGridSigner(), other = SendGridSigner()
        let body = try Self.sendgridBody([SendGridSigner.event("bounce", email: "a@example.com", id: "e1", extra: ["type": "bounce"])])
        var changed = try signer.headers(for: body)
        let tampered = try Self.sendgridBody([SendGridSigner.event("bounce", email: "b@example.com", id: "e1", extra: ["type": "bounce"])])
        for (request, label) in [
            (Self.request(tampered, headers: changed), "body changed after signing"),
            (Self.request(body, headers: try other.headers(for: body)), "another key"),
            (Self.request(body), "no headers"),
        ] {
            #expect(throws: ProviderRefusal.self, "\(label)") { try SendGridWebhook.read(request, publicKey: signer.publicKey) }
        }
        changed["X-Twilio-Email-Event-Webhook-Timestamp"] = String(Int(Date().timeIntervalSince1970) + 1)
        #expect(throws: ProviderRefusal.unverified("bad signature"), "timestamp changed after signing") {
            try SendGridWebhook.read(Self.request(body, headers: changed), publicKey: signer.publicKey)
        }
    }

    @Test("a SendGrid batch signed more than 5 minutes ago is refused")
    func sendgridStale() throws {
        let signer = SendGridSigner()
        let body = try Self.sendgridBody([SendGridSigner.event("bounce", email: "a@example.com", id: "e1", extra: ["type": "bounce"])])
        let headers = try signer.headers(for: body, timestamp: Date().addingTimeInterval(-301))
        #expect(throws: ProviderRefusal.stale) { try SendGridWebhook.read(Self.request(body, headers: headers), publicKey: signer.publicKey) }
    }

    // MARK: Mailgun

    @Test("Mailgun events map onto the policy, by event-data.id", arguments: [
        ("failed", "permanent", FeedbackType?.some(.hardBounce)), ("failed", "temporary", .softBounce),
        ("complained", nil, .complaint), ("unsubscribed", nil, .unsubscribe), ("delivered", nil, nil), ("opened", nil, nil),
    ] as [(String, String?, FeedbackType?)])
    func mailgunMapping(_ example: (event: String, severity: String?, expected: FeedbackType?)) throws {
        let (event, severity, expected) = example
        let signer = MailgunSigner()
        var eventData: [String: Any] = ["event": event, "id": "m1", "recipient": "a@example.com", "timestamp": 1_700_000_000.5]
        if let severity { eventData["severity"] = severity }
        let reading = try MailgunWebhook.read(Self.request(try signer.body(eventData)), signingKey: signer.signingKey)
        #expect(reading.events.first?.type == expected)
        #expect(reading.events.first.map(\.id) == (expected == nil ? nil : "m1"))
        #expect(reading.nonce != nil, "the token is claimed even for an ignored event")
    }

    @Test("a Mailgun request signed with another key, or whose signature was edited, is refused")
    func mailgunUnverified() throws {
        let signer = MailgunSigner(), other = MailgunSigner()
        let body = try other.body(MailgunSigner.failed("a@example.com"))
        #expect(throws: ProviderRefusal.unverified("bad signature")) {
            try MailgunWebhook.read(Self.request(body), signingKey: signer.signingKey)
        }
        var json = try #require(JSONSerialization.jsonObject(with: try signer.body(MailgunSigner.failed("a@example.com"))) as? [String: Any])
        var signature = try #require(json["signature"] as? [String: String])
        signature["token"] = "another-token"
        json["signature"] = signature
        #expect(throws: ProviderRefusal.unverified("bad signature")) {
            try MailgunWebhook.read(Self.request(try JSONSerialization.data(withJSONObject: json)), signingKey: signer.signingKey)
        }
    }

    @Test("a Mailgun request signed more than 5 minutes ago is refused")
    func mailgunStale() throws {
        let signer = MailgunSigner()
        let body = try signer.body(MailgunSigner.failed("a@example.com"), timestamp: Date().addingTimeInterval(-301))
        #expect(throws: ProviderRefusal.stale) { try MailgunWebhook.read(Self.request(body), signingKey: signer.signingKey) }
    }

    // MARK: Postmark

    static let password = WebhookPasswordHash.make("correct-horse-battery-staple")

    @Test("Postmark records map onto the policy", arguments: [
        ("HardBounce", FeedbackType?.some(.hardBounce)), ("BadEmailAddress", .hardBounce), ("SoftBounce", .softBounce),
        ("Transient", .softBounce), ("DnsError", .softBounce), ("SpamComplaint", .complaint), ("Unsubscribe", .unsubscribe),
        ("AutoResponder", nil), ("Blocked", nil), ("ManuallyDeactivated", nil),
    ] as [(String, FeedbackType?)])
    func postmarkBounceTypes(type: String, expected: FeedbackType?) throws {
        let body = try PostmarkRequests.bounce("a@example.com", type: type, id: 42)
        let headers = ["Authorization": PostmarkRequests.authorization(user: "listgate", password: "correct-horse-battery-staple")]
        let reading = try PostmarkWebhook.read(Self.request(body, headers: headers), username: "listgate", password: Self.password)
        #expect(reading.events.first?.type == expected)
        #expect(reading.events.first.map(\.id) == (expected == nil ? nil : "Bounce:42"))
    }

    @Test("a Postmark SubscriptionChange that suppresses sending is an unsubscribe; a reactivation is ignored")
    func postmarkSubscriptionChange() throws {
        let headers = ["Authorization": PostmarkRequests.authorization(user: "listgate", password: "correct-horse-battery-staple")]
        func record(_ suppress: Bool) throws -> Data {
            try JSONSerialization.data(withJSONObject: [
                "RecordType": "SubscriptionChange", "MessageID": NSNull(), "ServerID": 23, "MessageStream": "outbound",
                "ChangedAt": "2026-11-21T10:00:00.416071Z", "Recipient": "a@example.com", "Origin": "Recipient",
                "SuppressSending": suppress, "SuppressionReason": "ManualSuppression", "Metadata": [String: String](),
            ] as [String: Any])
        }
        let suppressed = try PostmarkWebhook.read(Self.request(try record(true), headers: headers), username: "listgate", password: Self.password)
        #expect(suppressed.events.map(\.type) == [.unsubscribe])
        #expect(suppressed.events.first?.id.hasPrefix("SubscriptionChange:") == true)
        #expect(suppressed.events.first?.id.contains("@") == false, "the id names no address")
        let reactivated = try PostmarkWebhook.read(Self.request(try record(false), headers: headers), username: "listgate", password: Self.password)
        #expect(reactivated.events.isEmpty)
    }

    @Test("a Postmark request without credentials, or with a wrong user or password, is refused", arguments: [
        nil, PostmarkRequests.authorization(user: "listgate", password: "wrong-password-entirely"),
        PostmarkRequests.authorization(user: "someone", password: "correct-horse-battery-staple"),
        "Bearer correct-horse-battery-staple", "Basic !!!",
    ])
    func postmarkUnverified(authorization: String?) throws {
        let body = try PostmarkRequests.bounce("a@example.com")
        let headers = authorization.map { ["Authorization": $0] } ?? [:]
        #expect(throws: ProviderRefusal.self) {
            try PostmarkWebhook.read(Self.request(body, headers: headers), username: "listgate", password: Self.password)
        }
    }
}
