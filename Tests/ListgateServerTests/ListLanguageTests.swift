// Specification of the wording a person meets: refusals speak the list's language like
// the list's other pages.
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
