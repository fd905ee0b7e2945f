// Provider webhooks through the built binary: sources configured with `listgate webhooks
// inbound add`, `listgate serve` running, and one bounce per provider posted the way the
// provider posts it (SES's certificate served by a real local web server trusted through
// LISTGATE_SES_CERT_HOSTS). Each makes its subscriber `bounced`.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import ListgateTestSupport
import Testing

@Suite("Provider webhooks through listgate serve", .serialized)
struct ProviderWebhookServeTests {
    static func post(_ url: String, _ body: Data, headers: [String: String] = [:]) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test("a bounce from each provider makes its subscriber bounced; a forged one changes nothing")
    func oneBouncePerProvider() async throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let people = ["ses", "sendgrid", "mailgun", "postmark", "forged"].map { "\($0)@example.com" }
        for person in people {
            #expect(try workspace.listgate("subscribers", "add", person, "--list", "news", "--confirmed").status == 0)
        }
        let sns = try SNSSigner(), sendgrid = SendGridSigner(), mailgun = MailgunSigner()
        let web = try WebServer.start()
        try web.serve(sns.certificatePEM, as: "SimpleNotificationService-test.pem")
        #expect(try workspace.listgate("webhooks", "inbound", "add", "ses", "--list", "news", "--topic-arn", sns.topicARN).status == 0)
        #expect(try workspace.listgate("webhooks", "inbound", "add", "sendgrid", "--list", "news", "--public-key", sendgrid.publicKey).status == 0)
        #expect(try workspace.listgate("webhooks", "inbound", "add", "mailgun", "--list", "news", "--signing-key", mailgun.signingKey).status == 0)
        let postmark = try workspace.listgate("webhooks", "inbound", "add", "postmark", "--list", "news")
        let password = try #require(postmark.stdout.split(separator: "\n").first { $0.hasPrefix("password: ") }?.dropFirst(10))

        let serve = try await ServeProcess(workspace, arguments: [], environment: ["LISTGATE_SES_CERT_HOSTS": web.origin])
        let base = serve.base + "/webhooks"

        let ses = try sns.notification(
            SNSSigner.sesBounce(["ses@example.com"]), certificateURL: web.origin + "/SimpleNotificationService-test.pem", version: 2)
        #expect(try await Self.post(base + "/ses/news", ses).0 == 200, "\(serve.log)")

        let batch = try JSONSerialization.data(withJSONObject: [
            SendGridSigner.event("bounce", email: "sendgrid@example.com", id: "sg-serve-1", extra: ["type": "bounce"])])
        #expect(try await Self.post(base + "/sendgrid/news", batch, headers: try sendgrid.headers(for: batch)).0 == 200)

        #expect(try await Self.post(base + "/mailgun/news", try mailgun.body(MailgunSigner.failed("mailgun@example.com"))).0 == 200)

        let authorization = PostmarkRequests.authorization(user: "listgate", password: String(password))
        #expect(try await Self.post(base + "/postmark/news", try PostmarkRequests.bounce("postmark@example.com"),
                                    headers: ["Authorization": authorization]).0 == 200)

        // Signed with a key nobody configured.
        let forged = try MailgunSigner().body(MailgunSigner.failed("forged@example.com"))
        #expect(try await Self.post(base + "/mailgun/news", forged).0 == 401)

        let statuses = try workspace.rows("""
            SELECT a.email, s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id ORDER BY a.email
            """).map { "\($0["email"] as String) \($0["status"] as String)" }
        #expect(statuses == [
            "forged@example.com active", "mailgun@example.com bounced", "postmark@example.com bounced",
            "sendgrid@example.com bounced", "ses@example.com bounced",
        ])
        let sources = try workspace.rows("SELECT DISTINCT source FROM events WHERE type = 'bounced' ORDER BY source").map { $0["source"] as String }
        #expect(sources == ["webhook:mailgun", "webhook:postmark", "webhook:sendgrid", "webhook:ses"])
        #expect(!serve.log.contains("@example.com"), "no address in the server's log at info level")
    }
}
