// Who the client is behind a reverse proxy: only a trusted proxy may name it.
import ListgateServer
import Testing

@Suite("Trusted proxies")
struct TrustedProxiesTests {
    let proxies = try! TrustedProxies(parsing: ["127.0.0.1", "10.0.0.0/8", "fd00::/8"])

    @Test("addresses and networks, IPv4 and IPv6; anything else is refused", arguments: [
        ("10.1.2.3", true), ("10.255.255.255", true), ("11.0.0.1", false), ("127.0.0.1", true), ("127.0.0.2", false),
        ("fd12::1", true), ("fe80::1", false), ("not-an-address", false),
    ])
    func contains(address: String, expected: Bool) {
        #expect(proxies.contains(address) == expected)
    }

    @Test("invalid entries are errors", arguments: ["10.0.0.0/33", "::1/129", "example.org", "10.0.0.0/x", "1.2.3.4/8/9"])
    func invalid(entry: String) {
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies(parsing: [entry]) }
    }

    @Test("the client is the rightmost forwarded address that is not a trusted proxy")
    func resolution() {
        // Through the proxy: the address it appended.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "192.0.2.7", forwarded: nil) == "192.0.2.7")
        // A client's own forged entry sits left of what the proxy appended: ignored.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "203.0.113.9, 192.0.2.7", forwarded: nil) == "192.0.2.7")
        // Two trusted hops.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "192.0.2.7, 10.0.0.5", forwarded: nil) == "192.0.2.7")
        // RFC 7239, with quotes, brackets and ports.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: nil, forwarded: #"for="[2001:db8::1]:4711";proto=https"#) == "2001:db8::1")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: nil, forwarded: "for=192.0.2.60:80, for=10.0.0.2") == "192.0.2.60")
        // Nothing usable forwarded: the proxy itself.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "unknown", forwarded: nil) == "127.0.0.1")
    }

    @Test("from a peer that is not a trusted proxy, forwarding headers change nothing")
    func untrustedPeer() {
        #expect(proxies.client(peer: "198.51.100.4", forwardedFor: "192.0.2.7", forwarded: "for=192.0.2.8") == "198.51.100.4")
        #expect(TrustedProxies.none.client(peer: "127.0.0.1", forwardedFor: "192.0.2.7", forwarded: nil) == "127.0.0.1")
    }
}
