// `/metrics` is for operators: counts that move with one form post (the outbox depth,
// mail sent) would otherwise tell a stranger whether an address is subscribed.
// HummingbirdTesting's router has no peer address, so it stands for a client elsewhere
// on the network; the binary tests (SubscribeLoopTests) read /metrics over loopback.
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import ListgateServer
import Testing

@Suite("/metrics access")
struct MetricsAccessTests {
    @Test("a client that is not on this machine gets 404, before and after form posts")
    func hiddenFromTheNetwork() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .notFound)
            try await client.post("/lists/news/subscribe", form: ["email": "someone@example.net"])
            let after = try await client.execute(uri: "/metrics", method: .get)
            #expect(after.status == .notFound)
            #expect(!after.text.contains("listgate_"))
        }
    }

    @Test("with LISTGATE_METRICS_TOKEN, the token's bearer may read it; a wrong token may not")
    func bearerOfTheToken() async throws {
        let fixture = try await ServerFixture()
        fixture.configuration.metricsToken = "s3cret-metrics"
        try await fixture.test { client in
            let right = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer s3cret-metrics"])
            #expect(right.status == .ok)
            let wrong = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer s3cret-metricz"])
            #expect(wrong.status == .notFound)
        }
    }

    @Test("a loopback peer that forwards a request (a reverse proxy on this host) is not an operator")
    func proxiedLoopbackIsNotAnOperator() throws {
        let access = MetricsAccess(token: nil)
        let local = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
        #expect(access.allows(peer: local, forwarded: false, authorization: nil))
        for name in ["X-Forwarded-For", "Forwarded", "X-Real-IP"] {
            var headers = HTTPFields()
            headers[HTTPField.Name(name)!] = name == "Forwarded" ? "for=192.0.2.7" : "192.0.2.7"
            #expect(MetricsAccess.isForwarded(headers), "\(name)")
            #expect(!access.allows(peer: local, forwarded: MetricsAccess.isForwarded(headers), authorization: nil))
        }
    }

    @Test("loopback peers are 127.0.0.0/8, ::1 and IPv4-mapped loopback; nothing else", arguments: [
        ("127.0.0.1", true), ("127.10.0.2", true), ("::1", true), ("::ffff:127.0.0.1", true),
        ("192.0.2.1", false), ("10.0.0.1", false), ("::2", false), ("2001:db8::1", false), ("::ffff:192.0.2.1", false),
    ])
    func loopback(address: String, expected: Bool) throws {
        #expect(MetricsAccess.isLoopback(try SocketAddress(ipAddress: address, port: 80)) == expected)
    }
}
