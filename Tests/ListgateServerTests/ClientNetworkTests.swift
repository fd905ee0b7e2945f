// Whom the per-IP limit counts together: IPv4 by address, IPv6 by /64, IPv4-mapped IPv6
// as IPv4.
import Foundation
@testable import ListgateServer
import Testing

@Suite("Per-IP limit keys")
struct ClientNetworkTests {
    @Test("IPv4 by address; IPv6 by /64; IPv4-mapped IPv6 as IPv4", arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:0db8:0001:0002::1", "2001:db8:1:2::/64"),
        ("2001:db8::1", "2001:db8:0:0::/64"),
        ("::1", "0:0:0:0::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80:0:0:0::/64"),
        ("unknown", "unknown"),
    ])
    func keys(address: String, key: String) {
        #expect(ClientNetwork.key(for: address) == key)
    }

    @Test("two addresses in one /64 share a window; the next /64 and IPv4 clients have their own")
    func sharedWindow() {
        let limiter = RateLimiter(rate: .init(count: 1, seconds: 60))
        let now = Date()
        #expect(limiter.retryAfter(for: "2001:db8:1:2::1", now: now) == nil)
        #expect(limiter.retryAfter(for: "2001:db8:1:2:ffff::99", now: now) != nil, "same /64: refused")
        #expect(limiter.retryAfter(for: "2001:db8:1:3::1", now: now) == nil, "next /64: its own window")
        #expect(limiter.retryAfter(for: "192.0.2.1", now: now) == nil)
        #expect(limiter.retryAfter(for: "::ffff:192.0.2.1", now: now) != nil, "the same IPv4 client")
        #expect(limiter.retryAfter(for: "192.0.2.2", now: now) == nil, "IPv4 neighbours are counted apart")
    }
}
