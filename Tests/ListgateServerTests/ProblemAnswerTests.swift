// Specification of how a refusal is answered: a handler throws a `Problem`, and one place
// renders it, as JSON for a client that prefers JSON and as a page for anyone else, with
// the same status either way; the sender API answers JSON to every client.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateCore
import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Problems thrown by routes")
struct ProblemAnswerTests {
    @Test("a problem thrown by a handler is a JSON error for a client that prefers JSON")
    func json() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.execute(uri: "/confirm/not-a-token", method: .get, headers: [.accept: "application/json"])
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            #expect(response.text == #"{"error":{"code":"invalid_link","message":"this link is not valid; copy the whole link from the mail"}}"#)
        }
    }

    @Test("the same problem is an HTML page in the browser's language for a client that does not ask for JSON")
    func page() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let english = try await client.execute(
                uri: "/confirm/not-a-token", method: .get, headers: [.accept: "text/html", .acceptLanguage: "en-GB,en"])
            #expect(english.status == .badRequest)
            #expect(english.headers[.contentType] == "text/html; charset=utf-8")
            #expect(english.text.contains("<h1>This link isn’t valid</h1>"))
            let japanese = try await client.execute(uri: "/confirm/not-a-token", method: .get)
            #expect(japanese.status == .badRequest)
            #expect(japanese.text.contains("リンクが正しくありません"))
        }
    }

    @Test("a problem on the generic error page carries its title and message in the browser's language")
    func errorPage() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.execute(
                uri: "/lists/missing/subscribe", method: .get, headers: [.acceptLanguage: "en"])
            #expect(response.status == .notFound)
            #expect(response.text.contains("List not found"))
            #expect(response.text.contains("There is no mailing list at this address. Please check the URL."))
        }
    }

    @Test("a problem's page keeps the headers every page has (CSP, nosniff, no-store)")
    func pageHeaders() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.execute(uri: "/unsubscribe/not-a-token", method: .get)
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'none'") == true)
            #expect(response.headers[.xContentTypeOptions] == "nosniff")
            #expect(response.headers[.cacheControl] == "no-store")
        }
    }

    @Test("a sender API problem is JSON even for a client that asks for HTML")
    func senderAPIIsJSON() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.execute(uri: "/api/v1/lists", method: .get, headers: [.accept: "text/html"])
            #expect(response.status == .unauthorized)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
            #expect(response.text == #"{"error":{"code":"unauthorized","message":"a valid bearer token is required"}}"#)
        }
    }
}
