// Specification of where the per-IP limit applies: the posts of the two list forms
// (subscribe and unsubscribe-by-address), counted together; the pages, the links' posts
// and everything else are never refused by it.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateCore
import ListgateServer
import ListgateTestSupport
import Testing

@Suite("The per-IP limit on the list forms")
struct FormRateLimitTests {
    @Test("subscribe and unsubscribe-by-address posts count against one limit")
    func countedTogether() async throws {
        let fixture = try await ServerFixture()
        fixture.configuration.rateLimits = try RateLimits(parsing: "ip=2/min")
        try await fixture.test { client in
            #expect(try await client.post("/lists/news/subscribe", form: ["email": "a@example.net"]).status == .ok)
            #expect(try await client.post("/lists/news/unsubscribe", form: ["email": "b@example.net"]).status == .ok)
            let limited = try await client.post("/lists/news/unsubscribe", form: ["email": "c@example.net"])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    @Test("a refused post is not handled: nothing is recorded or mailed")
    func refusedBeforeHandling() async throws {
        let fixture = try await ServerFixture()
        fixture.configuration.rateLimits = try RateLimits(parsing: "ip=1/min")
        try await fixture.test { client in
            _ = try await client.post("/lists/news/subscribe", form: ["email": "first@example.net"])
            let limited = try await client.post("/lists/news/subscribe", form: ["email": "second@example.net"], json: true)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.text.contains(#""code":"rate_limited""#))
        }
        #expect(try await fixture.queuedMessages().map(\.recipient) == ["first@example.net"])
    }

    @Test("once the limit is spent, the pages, the link posts and the health check still answer",
          arguments: [
            ("GET", "/lists/news/subscribe", 200), ("GET", "/lists/news/unsubscribe", 200), ("POST", "/confirm/not-a-token", 400),
            ("POST", "/block/not-a-token", 400), ("POST", "/unsubscribe/not-a-token", 400), ("GET", "/healthz", 200),
          ])
    func otherRoutesUnlimited(_ method: String, _ path: String, _ status: Int) async throws {
        let fixture = try await ServerFixture()
        fixture.configuration.rateLimits = try RateLimits(parsing: "ip=1/min")
        try await fixture.test { client in
            _ = try await client.post("/lists/news/subscribe", form: ["email": "a@example.net"])
            #expect(try await client.post("/lists/news/subscribe", form: ["email": "b@example.net"]).status == .tooManyRequests)
            for _ in 0..<3 {
                let response = try await client.execute(uri: path, method: HTTPRequest.Method(method)!, headers: [:])
                #expect(response.status.code == status)
            }
        }
    }

    @Test("with LISTGATE_RATE_LIMITS=off no list form post is refused")
    func off() async throws {
        let fixture = try await ServerFixture()
        fixture.configuration.rateLimits = try RateLimits(parsing: "off")
        try await fixture.test { client in
            for index in 0..<25 {
                let response = try await client.post("/lists/news/unsubscribe", form: ["email": "u\(index)@example.net"])
                #expect(response.status == .ok)
            }
        }
    }
}
