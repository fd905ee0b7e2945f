// Specification of WebOrigin: what an allowed origin is stored as, which must be exactly
// what a browser sends in `Origin` for a page of that site (the WHATWG URL standard's
// serialisation), and what is refused and why.
import ListgateCore
import Testing

@Suite("Web origins")
struct WebOriginTests {
    static let serialised: [(String, String)] = [
        ("https://www.example.org", "https://www.example.org"),
        ("https://www.example.org/", "https://www.example.org"),
        ("https://X.Example:443/", "https://x.example"),
        ("HTTPS://X.EXAMPLE", "https://x.example"),
        ("https://x:443", "https://x"),
        ("http://x.example:80", "http://x.example"),
        ("http://x.example:443", "http://x.example:443"),
        ("https://x.example:80", "https://x.example:80"),
        ("https://x.example:8443", "https://x.example:8443"),
        ("https://x.example:08443", "https://x.example:8443"),
        ("https://x.example:0443", "https://x.example"),
        ("https://x.example:", "https://x.example"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://my_host.internal", "http://my_host.internal"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://[2001:DB8:0:0:0:0:0:1]:443", "https://[2001:db8::1]"),
        ("https://[2001:db8:0:1:0:0:0:1]", "https://[2001:db8:0:1::1]"),
        ("https://[::ffff:192.0.2.1]", "https://[::ffff:c000:201]"),
        ("https://例え.jp", "https://xn--r8jz45g.jp"),
        ("https://Bücher.example", "https://xn--bcher-kva.example"),
        ("https://例え。jp", "https://xn--r8jz45g.jp"),
        ("https://ＷＷＷ.example.org", "https://www.example.org"),
        ("https://XN--R8JZ45G.jp", "https://xn--r8jz45g.jp"),
    ]

    @Test("reads an origin into the form a browser sends", arguments: serialised)
    func serialises(_ input: String, _ expected: String) throws {
        let origin = try WebOrigin(input)
        #expect(origin.serialized == expected)
        #expect(try WebOrigin(origin.serialized) == origin, "the serialised form reads back as itself")
    }

    @Test("what a browser sends for a page is the origin stored for its site")
    func browserOriginMatches() throws {
        let stored = try WebOrigin("https://News.Example.org:443/").serialized
        #expect(try WebOrigin("https://news.example.org").serialized == stored)
    }

    static let refused: [(String, WebOriginError)] = [
        ("javascript:alert(1)", .notHTTP),
        ("ftp://x.example", .notHTTP),
        ("x.example", .notHTTP),
        ("//x.example", .notHTTP),
        ("null", .notHTTP),
        ("https://x.example/path", .path),
        ("https://x.example//", .path),
        ("https://x.example/?q=1", .queryOrFragment),
        ("https://x.example?q=1", .queryOrFragment),
        ("https://x.example#top", .queryOrFragment),
        ("https://user@x.example", .userinfo),
        ("https://user:secret@x.example", .userinfo),
        ("https://", .missingHost),
        ("https://:443", .missingHost),
        ("https://x.example:65536", .invalidPort),
        ("https://x.example:https", .invalidPort),
        ("https://x.example:-1", .invalidPort),
        ("https://x..example", .invalidHost),
        ("https://x.example.", .invalidHost),
        ("https://-x.example", .invalidHost),
        ("https://x!.example", .invalidHost),
        ("https://xn--zz--.jp", .invalidHost),
        ("https://💩.jp", .invalidHost),
        ("http://0x7f.1", .invalidHost),
        ("http://010.0.0.1", .invalidHost),
        ("http://256.0.0.1", .invalidHost),
        ("http://[::1", .invalidHost),
        ("http://[::g]", .invalidHost),
        ("http://[::1]x", .invalidHost),
        ("https://x.example\\@evil.example", .forbiddenCharacter),
        ("https://x.example%2f", .forbiddenCharacter),
        ("https://x.example\r\n", .forbiddenCharacter),
        (" https://x.example", .forbiddenCharacter),
        ("https://x .example", .forbiddenCharacter),
        ("http://[fe80::1%25eth0]", .forbiddenCharacter),
    ]

    @Test("refuses, with the reason", arguments: refused)
    func refuses(_ input: String, _ error: WebOriginError) {
        #expect(throws: error) { try WebOrigin(input) }
    }

    @Test("error messages are short, lower-case sentences without a trailing period")
    func errorMessages() {
        let errors: [WebOriginError] = [
            .notHTTP, .forbiddenCharacter, .userinfo, .path, .queryOrFragment, .missingHost, .invalidHost, .invalidPort,
        ]
        for error in errors {
            #expect(error.description.first?.isLowercase == true)
            #expect(error.description.last != ".")
        }
        #expect(Set(errors.map(\.description)).count == errors.count)
    }
}
