// Specification of the wording a person meets between the pages and the mail: refusals
// speak the list's language like the list's other pages, and the confirmation mail's
// button says what the page's button says.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateCore
import ListgateMail
import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Refusals in the list's language")
struct RefusalLanguageTests {
    @Test("past the per-IP limit, the 429 page is in the list's language, not the browser's",
          arguments: ["/lists/en-news/subscribe", "/lists/en-news/unsubscribe"])
    func rateLimitedPage(_ path: String) async throws {
        let fixture = try await ServerFixture(lists: [("en-news", "Weekly News", .en)])
        fixture.configuration.rateLimits = try RateLimits(parsing: "ip=1/min")
        try await fixture.test { client in
            _ = try await client.post(path, form: ["email": "a@example.net"], headers: [.acceptLanguage: "ja"])
            let limited = try await client.post(path, form: ["email": "b@example.net"], headers: [.acceptLanguage: "ja"])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.text.contains(#"lang="en""#))
            #expect(limited.text.contains("<h1>Please wait a moment</h1>"))
        }
    }

    @Test("a 429 for a path that names no list is in the browser's language, Japanese by default")
    func rateLimitedWithoutList() async throws {
        let fixture = try await ServerFixture(lists: [("en-news", "Weekly News", .en)])
        fixture.configuration.rateLimits = try RateLimits(parsing: "ip=1/min")
        try await fixture.test { client in
            _ = try await client.post("/lists/en-news/subscribe", form: ["email": "a@example.net"])
            let limited = try await client.post("/lists/missing/subscribe", form: ["email": "b@example.net"])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.text.contains("<h1>しばらくお待ちください</h1>"))
        }
    }

    @Test("a post from a website the list does not allow is refused (403) in the list's language")
    func originRefusedPage() async throws {
        let fixture = try await ServerFixture()
        _ = try await fixture.store.createList(
            NewList(slug: ListSlug("shop"), name: "Shop", from: Mailbox("shop@example.org"), locale: .en,
                    allowedOrigins: ["https://www.example.org"]),
            source: .cli)
        try await fixture.test { client in
            let refused = try await client.post(
                "/lists/shop/subscribe", form: ["email": "a@example.net"],
                headers: [.origin: "https://evil.example", .acceptLanguage: "ja"])
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains(#"lang="en""#))
            #expect(refused.text.contains("<h1>Not accepted from this site</h1>"))
        }
    }
}

@Suite("The confirmation mail and its page")
struct ConfirmationWordingTests {
    @Test("the mail's button and the page's button say the same", arguments: [("news", ListLocale.ja), ("en-news", .en)])
    func sameButton(_ slug: String, _ locale: ListLocale) async throws {
        let fixture = try await ServerFixture(lists: [(slug, "週刊お知らせ", locale)])
        try await fixture.test { client in
            try await client.post("/lists/\(slug)/subscribe", form: ["email": "taro@example.jp"])
            let message = try #require(try await fixture.queuedMessages().last)
            let links = try fixture.links(in: message)
            let html = try #require(try MailInspector.inspect(message.raw).html)
            let page = try await client.execute(uri: links.confirm, method: .get).text

            let mailButton = try #require(Self.text(of: "a", after: "href=\"https://lists.example.org\(links.confirm)\"", in: html))
            let pageButton = try #require(Self.text(of: "button", after: "<button type=\"submit\"", in: page))
            #expect(mailButton == pageButton)
            #expect(mailButton == (locale == .ja ? "登録を確定する" : "Confirm subscription"))
        }
    }

    /// The text of the element whose start tag contains `marker`, up to its end tag.
    static func text(of element: String, after marker: String, in html: String) -> String? {
        guard let start = html.range(of: marker),
              let open = html[start.upperBound...].range(of: ">"),
              let close = html[open.upperBound...].range(of: "</\(element)>")
        else { return nil }
        return String(html[open.upperBound..<close.lowerBound])
    }
}
