// Specification of the sender API's one gate: every route in its group gets a request only
// once the bearer token is resolved to a list, so a route can neither forget the check nor
// answer anything but 401 to a request without a valid token.
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Sender API authentication")
struct SenderAuthenticationTests {
    static let routes: [(String, String)] = [
        ("GET", "/api/v1/lists"), ("POST", "/api/v1/lists/news/snapshots"), ("GET", "/api/v1/snapshots/missing"),
        ("GET", "/api/v1/snapshots/missing/recipients"), ("GET", "/api/v1/lists/missing/unsubscribes"),
    ]

    @Test("every sender API route answers 401 with WWW-Authenticate: Bearer to a request without a valid token",
          arguments: routes, ["", "Bearer", "Bearer lgt_not-a-token", "Basic dXNlcjpwYXNz"])
    func refusesWithoutToken(_ route: (String, String), _ authorization: String) async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let headers: HTTPFields = authorization.isEmpty ? [:] : [.authorization: authorization]
            let response = try await client.execute(uri: route.1, method: HTTPRequest.Method(route.0)!, headers: headers)
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
            #expect(response.text.contains(#""code":"unauthorized""#))
        }
        #expect(try await fixture.count("snapshots") == 0, "a refused request changed nothing")
    }

    @Test("a valid token reaches the route, whatever the case of the scheme name")
    func validToken() async throws {
        let fixture = try await ServerFixture()
        let token = SenderTokenSecret.generate()
        _ = try await fixture.store.createSenderToken(list: ListSlug("news"), name: nil, secret: token, source: .cli)
        try await fixture.test { client in
            for scheme in ["Bearer", "bearer", "BEARER"] {
                let response = try await client.execute(
                    uri: "/api/v1/lists", method: .get, headers: [.authorization: "\(scheme) \(token)"])
                #expect(response.status == .ok)
                #expect(response.text.contains(#""slug":"news""#))
            }
        }
    }

    @Test("a valid token for another list is 403 on an existing list and 404 on a missing one, after authentication")
    func otherList() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "Tech", .en)])
        let token = SenderTokenSecret.generate()
        _ = try await fixture.store.createSenderToken(list: ListSlug("tech"), name: nil, secret: token, source: .cli)
        try await fixture.test { client in
            let headers: HTTPFields = [.authorization: "Bearer \(token)"]
            let other = try await client.execute(uri: "/api/v1/lists/news/snapshots", method: .post, headers: headers)
            #expect(other.status == .forbidden)
            let missing = try await client.execute(uri: "/api/v1/lists/missing/snapshots", method: .post, headers: headers)
            #expect(missing.status == .notFound)
        }
    }
}
