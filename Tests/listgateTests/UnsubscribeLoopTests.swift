// Leaving, through the built binary on a real port with mail at a real SMTP server.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

@Suite("Unsubscribe loop through the binary", .serialized)
struct UnsubscribeLoopTests {
    /// The single link starting with `prefix` in a received mail's text part, as a path.
    func link(_ prefix: String, in message: ReceivedMessage, base: String) throws -> String {
        let text = try #require(try MailInspector.inspect(message.data).text)
        let links = text.split(whereSeparator: \.isWhitespace).filter { $0.hasPrefix(base + prefix) }
        #expect(links.count == 1, "exactly one \(prefix) link")
        return String(try #require(links.first).dropFirst(base.count))
    }

    func subscribed(_ server: RunningServer, _ email: String, mailsSoFar: Int) async throws {
        _ = try await server.request("POST", "/lists/news/subscribe", form: ["email": email])
        let mail = try await server.sink.waitForMessages(count: mailsSoFar + 1, timeout: .seconds(10)).last!
        let confirm = try link("/confirm/", in: mail, base: server.base)
        #expect(try await server.request("POST", confirm).status == 200)
    }

    func status(_ server: RunningServer, _ email: String) async throws -> String? {
        // The test's own addresses: plain ASCII, safe inside the literal.
        try server.workspace.texts("""
            SELECT s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = '\(email)'
            """).first?.first ?? nil
    }

    @Test("by-address link mail → GET changes nothing → one-click POST unsubscribes with no receipt",
          arguments: StoreKind.underTest)
    func oneClickLoop(_ kind: StoreKind) async throws {
        let server = try await RunningServer(kind, baseURLFromPort: true)
        try await subscribed(server, "reader@example.net", mailsSoFar: 0)
        #expect(try await server.request("POST", "/lists/news/unsubscribe", form: ["email": "reader@example.net", "reason": "too many mails"]).status == 200)
        #expect(try await server.request("POST", "/lists/news/unsubscribe", form: ["email": "stranger@example.net"]).status == 200)
        let linkMail = try await server.sink.waitForMessages(count: 2, timeout: .seconds(10)).last!
        #expect(linkMail.rcptTos == ["reader@example.net"])
        #expect(!linkMail.text.contains("too many mails"))
        let unsubscribe = try link("/unsubscribe/", in: linkMail, base: server.base)

        #expect(try await server.request("GET", unsubscribe).status == 200)
        #expect(try await status(server, "reader@example.net") == "active", "GET changes nothing")
        let oneClick = try await server.request("POST", unsubscribe, body: "List-Unsubscribe=One-Click")
        #expect(oneClick.status == 200)
        #expect(try await status(server, "reader@example.net") == "unsubscribed")
        try await Task.sleep(for: .seconds(1))
        #expect(try server.sink.messages().count == 2, "no receipt after one-click, nothing to the stranger")
    }

    @Test("the page button unsubscribes and the receipt reaches the subscriber alone", arguments: StoreKind.underTest)
    func receiptLoop(_ kind: StoreKind) async throws {
        let server = try await RunningServer(kind, baseURLFromPort: true)
        try await subscribed(server, "reader@example.net", mailsSoFar: 0)
        try await subscribed(server, "other@example.net", mailsSoFar: 1)
        _ = try await server.request("POST", "/lists/news/unsubscribe", form: ["email": "reader@example.net"])
        let linkMail = try await server.sink.waitForMessages(count: 3, timeout: .seconds(10)).last!
        let unsubscribe = try link("/unsubscribe/", in: linkMail, base: server.base)
        #expect(try await server.request("POST", unsubscribe).status == 200)
        let receipt = try await server.sink.waitForMessages(count: 4, timeout: .seconds(10)).last!
        #expect(receipt.rcptTos == ["reader@example.net"])
        let mail = try MailInspector.inspect(receipt.data)
        #expect(mail.subject == "【週刊お知らせ】配信を停止しました")
        #expect(mail.to == ["reader@example.net"])
        #expect(try await status(server, "other@example.net") == "active")
    }
}
