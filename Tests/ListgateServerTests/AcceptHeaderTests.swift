// How `Accept` chooses between a page and JSON: parsed as media ranges with q-values,
// never searched for a substring.
@testable import ListgateServer
import Testing

@Suite("Accept header")
struct AcceptHeaderTests {
    @Test("JSON only when the client prefers it", arguments: [
        ("application/json", true),
        ("application/json; charset=utf-8", true),
        ("application/*", true),
        ("application/json, text/plain, */*", true),  // axios and many HTTP libraries
        ("APPLICATION/JSON", true),
        ("text/html, application/json;q=0.9", false),
        ("application/json;q=0.9, text/html", false),
        ("application/json;q=0", false),
        ("text/html;q=0.5, application/json;q=0.8", true),
        ("*/*", false),
        ("*/*;q=0.8, application/json;q=0.8", true),  // as much, by a more specific range
        ("application/json, text/html", true),  // a full tie: the earlier range wins
        ("text/html, application/json", false),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false),  // a browser
        ("application/*;q=0.5, */*", false),  // the most specific range decides for JSON
        ("application/jsonx", false),
        ("text/json", false),
        ("application/json;q=bogus", false),  // a malformed range is left out
        ("", false),
    ])
    func choice(header: String, json: Bool) {
        #expect(AcceptHeader(header).prefersJSON == json, "\(header)")
    }

    @Test("no header means HTML; several fields count together")
    func fields() {
        #expect(!AcceptHeader(nil as String?).prefersJSON)
        #expect(AcceptHeader(["text/html;q=0.1", "application/json"]).prefersJSON)
    }

    @Test("ranges keep their order and quality; malformed ones are dropped")
    func parsing() {
        let header = AcceptHeader("text/html;level=1;q=0.7, */json, application/json ;q=1.5, */*;q=0.1, image/png")
        #expect(header.ranges == [
            .init(type: "text", subtype: "html", quality: 0.7),
            .init(type: "*", subtype: "*", quality: 0.1),
            .init(type: "image", subtype: "png", quality: 1),
        ])
    }
}
