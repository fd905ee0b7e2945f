// The health endpoint, through the same application `listgate serve` runs.
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("GET /healthz")
struct HealthRoutesTests {
    @Test("answers 200 ok while the database answers")
    func healthy() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(response.text == "ok\n")
            #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
        }
    }
}
