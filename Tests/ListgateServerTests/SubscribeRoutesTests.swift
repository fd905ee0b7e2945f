// Specification of the front door: the subscribe form, the double opt-in loop, and
// the promise that a submission can only ever mail its submitter, and that the answer
// never tells who is subscribed.
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateMail
import ListgateServer
import ListgateTestSupport
import Logging
import Testing

@Suite("Subscribe form")
struct SubscribeRoutesTests {
    @Test("the hosted subscribe page shows the list and a form that posts back, with a honeypot")
    func subscribePage() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.execute(uri: "/lists/news/subscribe", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.text.contains("週刊お知らせ"))
            #expect(response.text.contains("action=\"/lists/news/subscribe\""))
            #expect(response.text.contains("name=\"website\""))
            #expect(response.text.contains("lang=\"ja\""))
        }
    }

    @Test("an unknown list is 404, never a default list", arguments: ["nope", "NEWS", "..%2F", "a%0d%0ab"])
    func unknownList(_ slug: String) async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            #expect(try await client.execute(uri: "/lists/\(slug)/subscribe", method: .get).status == .notFound)
            let posted = try await client.post("/lists/\(slug)/subscribe", form: ["email": "a@example.net"], json: true)
            #expect(posted.status == .notFound)
            #expect(posted.text.contains("\"code\":\"list_not_found\""))
        }
        #expect(try await fixture.count("outbox") == 0)
    }

    @Test("a subscribe post stores a pending request, queues ONE mail to the submitted address, and records consent")
    func subscribeQueuesOneMail() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.post(
                "/lists/news/subscribe", form: ["email": "taro@example.jp", "name": "山田 太郎"],
                headers: [.userAgent: "Mozilla/5.0 test"])
            #expect(response.status == .ok)
            #expect(response.text.contains("週刊お知らせ"))
        }
        let queued = try await fixture.queuedMessages()
        #expect(queued.map(\.recipient) == ["taro@example.jp"])
        #expect(queued.map(\.kind) == [.confirmation])
        #expect(try await fixture.count("submissions", where: "status = 'pending'") == 1)
        #expect(try await fixture.count("subscriptions") == 0, "the intake is not the list")
        let event = try fixture.store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM events WHERE type = 'requested'")
        }
        #expect(event?["source"] == "form:/lists/news/subscribe")
        #expect((event?["consent_version"] as String?)?.count == 16)
        #expect((event?["detail"] as String?)?.contains("Mozilla/5.0 test") == true)
    }

    @Test("JSON clients get 202 {\"status\":\"pending\"}, also for a JSON body")
    func jsonAnswer() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let form = try await client.post("/lists/news/subscribe", form: ["email": "a@example.net"], json: true)
            #expect(form.status == .accepted)
            #expect(form.text == #"{"status":"pending"}"#)
            let json = try await client.execute(
                uri: "/lists/news/subscribe", method: .post,
                headers: [.contentType: "application/json", .accept: "application/json"],
                body: ByteBuffer(string: #"{"email":"b@example.net"}"#))
            #expect(json.status == .accepted)
        }
        #expect(try await fixture.queuedMessages().map(\.recipient).sorted() == ["a@example.net", "b@example.net"])
    }

    @Test("the answer is identical for new, pending, active, unsubscribed and suppressed addresses")
    func noEnumeration() async throws {
        let fixture = try await ServerFixture()
        // Arrange one address in each state.
        let intake = fixture.intake()
        let list = try await intake.list("news")
        let origin = RequestOrigin(route: "test")
        _ = try await intake.requestSubscription(list: list, email: "pending@example.net", name: nil, origin: origin)
        _ = try await intake.requestSubscription(list: list, email: "active@example.net", name: nil, origin: origin)
        let activeLinks = try fixture.links(in: try await fixture.queuedMessages().last!)
        #expect(try await intake.confirm(token: String(activeLinks.confirm.dropFirst("/confirm/".count)), origin: origin) == .confirmed(listSlug: "news", listName: "週刊お知らせ", locale: .ja))
        _ = try await intake.requestSubscription(list: list, email: "blocked@example.net", name: nil, origin: origin)
        let blockLinks = try fixture.links(in: try await fixture.queuedMessages().last!)
        #expect(try await intake.block(token: String(blockLinks.block.dropFirst("/block/".count)), origin: origin) == .blocked(listName: "週刊お知らせ", locale: .ja))
        _ = try await intake.requestSubscription(list: list, email: "left@example.net", name: nil, origin: origin)
        let leftLinks = try fixture.links(in: try await fixture.queuedMessages().last!)
        _ = try await intake.confirm(token: String(leftLinks.confirm.dropFirst("/confirm/".count)), origin: origin)
        try await fixture.store.pool.write { db in  // until the unsubscribe routes exist: leave by SQL
            try db.execute(sql: """
                UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = '2026-01-01T00:00:00.000Z'
                WHERE address_id = (SELECT id FROM addresses WHERE identity_key = 'left@example.net')
                """)
        }
        let mailsBefore = try await fixture.count("outbox")

        try await fixture.test { client in
            var html: Set<String> = [], json: Set<String> = [], statuses: Set<Int> = []
            for email in ["new@example.net", "pending@example.net", "active@example.net", "blocked@example.net", "left@example.net"] {
                let page = try await client.post("/lists/news/subscribe", form: ["email": email])
                let api = try await client.post("/lists/news/subscribe", form: ["email": email], json: true)
                html.insert(page.text)
                json.insert(api.text)
                statuses.formUnion([page.status.code, api.status.code])
            }
            #expect(html.count == 1, "one HTML answer for every state")
            #expect(json.count == 1, "one JSON answer for every state")
            #expect(statuses == [200, 202])
        }
        // The new and the unsubscribed address (a new double opt-in) got a mail; the
        // others got the same answer and nothing else.
        #expect(try await fixture.count("outbox") == mailsBefore + 2)
        // Posts for different mailboxes are decided side by side: in no particular order.
        #expect(try await fixture.queuedMessages().suffix(2).map(\.recipient).sorted() == ["left@example.net", "new@example.net"])
    }

    @Test("a list that names its websites refuses form posts from other origins with 403")
    func allowedOrigins() async throws {
        let fixture = try await ServerFixture()
        _ = try await fixture.store.createList(
            NewList(slug: ListSlug("shop"), name: "Shop", from: Mailbox("shop@example.org"),
                    allowedOrigins: ["https://www.example.org"]),
            source: .cli)
        try await fixture.test { client in
            let foreign = try await client.post("/lists/shop/subscribe", form: ["email": "a@example.net"], headers: [.origin: "https://evil.example"])
            #expect(foreign.status == .forbidden)
            let own = try await client.post("/lists/shop/subscribe", form: ["email": "b@example.net"], headers: [.origin: "https://www.example.org"])
            #expect(own.status == .ok)
            let other = try await client.post("/lists/news/subscribe", form: ["email": "c@example.net"], headers: [.origin: "https://evil.example"])
            #expect(other.status == .ok, "a list without allowed origins takes any")
        }
        #expect(try await fixture.queuedMessages().map(\.recipient).sorted() == ["b@example.net", "c@example.net"])
    }

    @Test("allowed origins are compared as browsers send them: default port dropped, case ignored")
    func originsNormalised() async throws {
        let fixture = try await ServerFixture()
        // Stored as an older listgate or a hand edit left it, with the port and capitals.
        try await fixture.store.pool.write { db in
            try db.execute(sql: "INSERT INTO lists (slug, name, from_email, locale, created_at) VALUES ('shop', 'Shop', 'shop@example.org', 'en', '2026-01-01T00:00:00.000Z')")
            try db.execute(sql: "INSERT INTO list_allowed_origins (list_id, origin) VALUES ((SELECT id FROM lists WHERE slug = 'shop'), 'https://WWW.Example.org:443')")
        }
        try await fixture.test { client in
            let browser = try await client.post("/lists/shop/subscribe", form: ["email": "a@example.net"], headers: [.origin: "https://www.example.org"])
            #expect(browser.status == .ok)
            let otherPort = try await client.post("/lists/shop/subscribe", form: ["email": "b@example.net"], headers: [.origin: "https://www.example.org:8443"])
            #expect(otherPort.status == .forbidden)
            let garbage = try await client.post("/lists/shop/subscribe", form: ["email": "c@example.net"], headers: [.origin: "ftp://x"])
            #expect(garbage.status == .forbidden)
            // listgate's own pages (the base URL's origin) may always post.
            let own = try await client.post("/lists/shop/subscribe", form: ["email": "e@example.net"], headers: [.origin: "https://lists.example.org"])
            #expect(own.status == .ok)
        }
    }

    @Test("a repeated request within 15 minutes of a mail sends no second mail")
    func cooldown() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            for _ in 0..<3 { try await client.post("/lists/news/subscribe", form: ["email": "again@example.net"]) }
        }
        #expect(try await fixture.count("outbox") == 1)
    }

    @Test("an address gets at most 3 mails a day per list, silently")
    func perAddressLimit() async throws {
        let fixture = try await ServerFixture()
        let intake = fixture.intake()
        let list = try await intake.list("news")
        var outcomes: [SubscribeOutcome] = []
        for hour in 0..<5 {  // an hour apart: past the cooldown each time
            outcomes.append(try await intake.requestSubscription(
                list: list, email: "often@example.net", name: nil, origin: RequestOrigin(route: "test"),
                now: Date().addingTimeInterval(Double(hour) * 3600 - 5 * 3600)))
        }
        #expect(outcomes == [.mailed, .mailed, .mailed, .addressLimit, .addressLimit])
    }

    @Test("more than the per-IP limit of posts a minute answers 429 with Retry-After")
    func perIPLimit() async throws {
        let fixture = try await ServerFixture()
        fixture.configuration.rateLimits = try RateLimits(parsing: "ip=3/min")
        try await fixture.test { client in
            for index in 0..<3 {
                #expect(try await client.post("/lists/news/subscribe", form: ["email": "ip\(index)@example.net"]).status == .ok)
            }
            let limited = try await client.post("/lists/news/subscribe", form: ["email": "ip9@example.net"])
            #expect(limited.status == .tooManyRequests)
            let retry = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...60).contains(retry))
        }
        #expect(try await fixture.count("outbox") == 3)
    }

    @Test("a filled honeypot gets the normal answer and causes nothing")
    func honeypot() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let normal = try await client.post("/lists/news/subscribe", form: ["email": "person@example.net"])
            let bot = try await client.post("/lists/news/subscribe", form: ["email": "bot@example.net", "website": "http://spam.example"])
            #expect(bot.status == normal.status)
            #expect(bot.text == normal.text)
        }
        #expect(try await fixture.queuedMessages().map(\.recipient) == ["person@example.net"])
    }

    @Test("a bad address is 422 with the form, the message and the (escaped) input", arguments: [
        "not-an-address", "a@b", "<script>@example.net", "a@example.net, b@example.net", "",
    ])
    func invalidAddress(_ email: String) async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let page = try await client.post("/lists/news/subscribe", form: ["email": email])
            #expect(page.status == .unprocessableContent)
            #expect(page.text.contains("role=\"alert\""))
            #expect(page.text.contains("action=\"/lists/news/subscribe\""))
            #expect(!page.text.contains("<script>@"), "input is escaped")
            let api = try await client.post("/lists/news/subscribe", form: ["email": email], json: true)
            #expect(api.status == .unprocessableContent)
            #expect(api.text.contains("\"code\":\"invalid_email\""))
        }
        #expect(try await fixture.count("outbox") == 0)
        #expect(try await fixture.count("submissions") == 0)
    }

    @Test("a database that cannot be read is a server error, not \"no such list\"")
    func databaseErrorIsNotListNotFound() async throws {
        let fixture = try await ServerFixture()
        // Reading a list also reads its allowed origins: without that table, the read fails.
        try await fixture.store.pool.write { db in try db.execute(sql: "DROP TABLE list_allowed_origins") }
        try await fixture.test { client in
            for path in ["/lists/news/subscribe", "/lists/news/unsubscribe"] {
                let page = try await client.execute(uri: path, method: .get)
                #expect(page.status.code >= 500, "\(path)")
                let post = try await client.post(path, form: ["email": "a@example.net"])
                #expect(post.status.code >= 500, "\(path)")
            }
        }
    }

    // 200 accented letters written with combining marks are 200 Characters but 400 code
    // points, and the column's CHECK counts code points: counted as Characters, such a name
    // passed validation, failed the insert as a 500, and only for addresses that reached
    // the insert, which told a prober which addresses were subscribed.
    @Test("a name over 200 code points is 422 whatever the address's state, never 500")
    func longNameInCodePoints() async throws {
        let fixture = try await ServerFixture()
        let name = String(repeating: "e\u{301}", count: 200)
        try await fixture.test { client in
            let known = try await client.post("/lists/news/subscribe", form: ["email": "known@example.net"])
            #expect(known.status.code < 400)
            for email in ["known@example.net", "unknown@example.net"] {
                let api = try await client.post("/lists/news/subscribe", form: ["email": email, "name": name], json: true)
                #expect(api.status == .unprocessableContent, "\(email)")
                #expect(api.text.contains("\"code\":\"invalid_name\""), "\(email)")
            }
        }
        #expect(try await fixture.count("submissions") == 1)
    }

    // swift-mustache escapes per grapheme cluster: a quote carrying a combining mark (or
    // after a prepended mark) was one cluster it did not know, and went out raw.
    @Test("a quote or bracket fused with a mark is escaped too: the re-shown form keeps its attributes", arguments: [
        "\"\u{301} autofocus onfocus=alert(1) x=\"", "\u{600}\" autofocus onfocus=alert(1) x=\"", "<\u{301}img src=x onerror=alert(1)>",
        "'\u{20DD} onfocus=alert(1) '",
    ])
    func fusedMarksEscaped(_ name: String) async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let page = try await client.post("/lists/news/subscribe", form: ["email": "not-an-address", "name": name])
            #expect(page.status == .unprocessableContent)
            #expect(page.text.contains("alert(1)"), "the input is shown again")
            let fused = page.text.filter { character in
                character.unicodeScalars.count > 1 && character.unicodeScalars.contains { "&<>\"'".unicodeScalars.contains($0) }
            }
            #expect(fused.isEmpty, "raw HTML syntax fused with a mark: \(fused.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(!page.text.contains(" onfocus=alert(1) x=\"") && !page.text.contains("<img"))
        }
    }

    @Test("header injection in any field is refused and queues nothing", arguments: [
        ["email": "a@example.net\r\nBcc: victim@example.org"],
        ["email": "a@example.net\nCc: victim@example.org"],
        ["email": "a@example.net", "name": "Taro\r\nBcc: victim@example.org"],
        ["email": "a@example.net", "name": "Taro\u{2028}Bcc: victim@example.org"],
    ])
    func headerInjection(_ form: [String: String]) async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.post("/lists/news/subscribe", form: form)
            #expect(response.status == .unprocessableContent)
        }
        #expect(try await fixture.count("outbox") == 0)
    }

    @Test("oversized, malformed and unsupported bodies are 4xx and the server keeps serving")
    func hostileBodies() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let big = try await client.execute(
                uri: "/lists/news/subscribe", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "email=a%40example.net&name=" + String(repeating: "x", count: 70_000)))
            #expect(big.status == .contentTooLarge)
            var invalidUTF8 = ByteBuffer(string: "email=")
            invalidUTF8.writeBytes([0xFF, 0xFE, 0x40, 0x61])
            let broken = try await client.execute(
                uri: "/lists/news/subscribe", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: invalidUTF8)
            #expect(broken.status == .badRequest)
            let escapedInvalid = try await client.execute(
                uri: "/lists/news/subscribe", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "email=%FF%FE%40example.net"))
            #expect(escapedInvalid.status == .badRequest)
            let xml = try await client.execute(
                uri: "/lists/news/subscribe", method: .post, headers: [.contentType: "application/xml"],
                body: ByteBuffer(string: "<email>a@example.net</email>"))
            #expect(xml.status == .unsupportedMediaType)
            let badJSON = try await client.execute(
                uri: "/lists/news/subscribe", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: "{\"email\": "))
            #expect(badJSON.status == .badRequest)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
        #expect(try await fixture.count("outbox") == 0)
    }
}

@Suite("Confirm and block links")
struct ConfirmRoutesTests {
    /// Posts a subscription and returns the links from the mail it queued.
    func subscribe(_ client: any TestClientProtocol, _ fixture: ServerFixture, _ email: String = "taro@example.jp") async throws
        -> (confirm: String, block: String)
    {
        try await client.post("/lists/news/subscribe", form: ["email": email])
        return try fixture.links(in: try #require(try await fixture.queuedMessages().last))
    }

    @Test("GET on the confirm link changes nothing; POST confirms; the list now has an active member")
    func doubleOptIn() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let links = try await subscribe(client, fixture)
            let page = try await client.execute(uri: links.confirm, method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("登録を確定する"))
            #expect(page.text.contains("method=\"post\""))
            #expect(try await fixture.count("subscriptions") == 0, "a link scanner's GET must not subscribe")

            let confirmed = try await client.execute(uri: links.confirm, method: .post)
            #expect(confirmed.status == .ok)
            #expect(confirmed.text.contains("週刊お知らせ"))
        }
        #expect(try await fixture.count("subscriptions", where: "status = 'active'") == 1)
        #expect(try await fixture.eventTypes().suffix(2) == ["requested", "confirmed"])
    }

    @Test("confirm and block pages answer in the list's language")
    func listLanguage() async throws {
        let fixture = try await ServerFixture(lists: [("en-news", "Weekly News", .en)])
        try await fixture.test { client in
            try await client.post("/lists/en-news/subscribe", form: ["email": "ann@example.net"])
            let links = try fixture.links(in: try #require(try await fixture.queuedMessages().last))
            let confirmed = try await client.execute(uri: links.confirm, method: .post, headers: [.acceptLanguage: "ja"])
            let reused = try await client.execute(uri: links.confirm, method: .post, headers: [.acceptLanguage: "ja"])
            let blocked = try await client.execute(uri: links.block, method: .post, headers: [.acceptLanguage: "ja"])
            #expect(confirmed.text.contains("lang=\"en\""))
            #expect(reused.text.contains("lang=\"en\""))
            #expect(blocked.text.contains("lang=\"en\""))
        }
    }

    @Test("a confirm link confirms once; pressing it again says it is already confirmed and records nothing more")
    func pressedAgain() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let links = try await subscribe(client, fixture)
            #expect(try await client.execute(uri: links.confirm, method: .post).status == .ok)
            let again = try await client.execute(uri: links.confirm, method: .post)
            #expect(again.status == .ok)
            #expect(again.text.contains("<h1>登録はすでに確定しています</h1>"))
            #expect(!again.text.contains("有効期限"))
            let json = try await client.execute(uri: links.confirm, method: .post, headers: [.accept: "application/json"])
            #expect(json.text == #"{"status":"already_confirmed"}"#)
        }
        #expect(try await fixture.count("events", where: "type = 'confirmed'") == 1)
    }

    @Test("opening a confirm link again after confirming shows that it is already confirmed, not expired, and no button")
    func reopened() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("en-news", "Weekly News", .en)])
        try await fixture.test { client in
            let links = try await subscribe(client, fixture)
            _ = try await client.execute(uri: links.confirm, method: .post)
            let page = try await client.execute(uri: links.confirm, method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("<title>登録はすでに確定しています｜週刊お知らせ</title>"))
            #expect(!page.text.contains("<form"))

            try await client.post("/lists/en-news/subscribe", form: ["email": "ann@example.net"])
            let english = try fixture.links(in: try #require(try await fixture.queuedMessages().last))
            _ = try await client.execute(uri: english.confirm, method: .post)
            let reopened = try await client.execute(uri: english.confirm, method: .get)
            #expect(reopened.text.contains("<h1>Your subscription is already confirmed</h1>"))
        }
    }

    @Test("a confirmed link opened after its 48 hours still says it is already confirmed")
    func confirmedThenExpired() async throws {
        let fixture = try await ServerFixture()
        let intake = fixture.intake()
        let then = Date().addingTimeInterval(-49 * 3600)
        _ = try await intake.requestSubscription(
            list: try await intake.list("news"), email: "early@example.net", name: nil, origin: RequestOrigin(route: "test"), now: then)
        let links = try fixture.links(in: try #require(try await fixture.queuedMessages().last))
        _ = try await intake.confirm(
            token: String(links.confirm.dropFirst("/confirm/".count)), origin: RequestOrigin(route: "test"), now: then.addingTimeInterval(60))
        try await fixture.test { client in
            let page = try await client.execute(uri: links.confirm, method: .get)
            let post = try await client.execute(uri: links.confirm, method: .post)
            #expect(page.text.contains("登録はすでに確定しています"))
            #expect(post.text.contains("登録はすでに確定しています"))
        }
    }

    @Test("a forged or damaged token is 400 and changes nothing", arguments: ["x", "abc.123.def", "%00", String(repeating: "A", count: 300)])
    func forged(_ token: String) async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let links = try await subscribe(client, fixture)
            #expect(try await client.execute(uri: "/confirm/\(token)", method: .post).status == .badRequest)
            // The real token with its signature altered:
            var tampered = links.confirm
            let last = tampered.removeLast()
            tampered.append(last == "A" ? "B" : "A")
            #expect(try await client.execute(uri: tampered, method: .post).status == .badRequest)
            // A block token is no confirm token:
            let swapped = "/confirm/" + links.block.dropFirst("/block/".count)
            #expect(try await client.execute(uri: swapped, method: .post).status == .badRequest)
        }
        #expect(try await fixture.count("subscriptions") == 0)
    }

    @Test("an expired confirm link answers 410 and subscribes nobody")
    func expired() async throws {
        let fixture = try await ServerFixture()
        let intake = fixture.intake()
        _ = try await intake.requestSubscription(
            list: try await intake.list("news"), email: "late@example.net", name: nil, origin: RequestOrigin(route: "test"),
            now: Date().addingTimeInterval(-49 * 3600))
        let links = try fixture.links(in: try #require(try await fixture.queuedMessages().last))
        try await fixture.test { client in
            let page = try await client.execute(uri: links.confirm, method: .get)
            let post = try await client.execute(uri: links.confirm, method: .post)
            #expect(page.status == .gone)
            #expect(post.status == .gone)
            #expect(post.text.contains("https://lists.example.org/lists/news/subscribe"), "a way to ask for a new mail")
        }
        #expect(try await fixture.count("subscriptions") == 0)
    }

    @Test("\"not me\": GET shows a button, POST suppresses the address for the list; later requests send nothing")
    func block() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let links = try await subscribe(client, fixture, "victim@example.net")
            let page = try await client.execute(uri: links.block, method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("今後送らない"))
            #expect(try await fixture.count("suppressions") == 0)
            #expect(try await client.execute(uri: links.block, method: .post).status == .ok)
            #expect(try await fixture.count("suppressions", where: "reason = 'blocked'") == 1)
            // Past the cooldown and the daily limit alike: nothing more is sent.
            let answer = try await client.post("/lists/news/subscribe", form: ["email": "victim@example.net"])
            #expect(answer.status == .ok)
            #expect(try await client.execute(uri: links.confirm, method: .post).status == .gone, "a blocked request cannot be confirmed")
        }
        #expect(try await fixture.count("outbox") == 1)
        #expect(try await fixture.count("subscriptions") == 0)
        #expect(try await fixture.eventTypes().suffix(2) == ["blocked", "suppressed"])
    }
}

@Suite("Navigate replay", .serialized)
struct NavigateReplayTests {
    /// README, "Why listgate exists", Navigate 2018: an unsubscribe form's submissions were mailed to all 3,120
    /// readers. Here: 30 active subscribers, then form posts full of names, company
    /// names and spam links. Every message that reaches the SMTP server goes to its
    /// submitter alone and carries none of that text.
    @Test("form posts reach only their submitters and echo none of the typed text")
    func navigateReplay() async throws {
        let fixture = try await ServerFixture()
        let intake = fixture.intake()
        let list = try await intake.list("news")
        for index in 0..<30 {
            _ = try await intake.requestSubscription(
                list: list, email: "reader\(index)@example.com", name: nil, origin: RequestOrigin(route: "test"))
            let links = try fixture.links(in: try await fixture.queuedMessages().last!)
            _ = try await intake.confirm(token: String(links.confirm.dropFirst("/confirm/".count)), origin: RequestOrigin(route: "test"))
        }
        #expect(try await fixture.count("subscriptions", where: "status = 'active'") == 30)
        // Deliver the 30 confirmations first, so that only the form posts' mail is left.
        let sink = try SMTPSink.start()
        let worker = OutboxWorker(
            store: fixture.store, transport: try CurlSMTPTransport(url: sink.url), logger: Logger(label: "test"))
        try await worker.drain()
        _ = try await sink.waitForMessages(count: 30, timeout: .seconds(10))

        let typed = [
            ("stop@example.net", "株式会社ナビゲート 営業部 鈴木様", ""),
            ("unsubscribe-me@example.net", "Please remove me https://spam.example/offer", ""),
            ("third@example.net", "<a href=\"https://phish.example\">click</a>", ""),
        ]
        try await fixture.test { client in
            for (email, name, _) in typed {
                try await client.post("/lists/news/subscribe", form: ["email": email, "name": name, "company": "Navigate Inc."])
            }
        }
        try await worker.drain()
        let received = try await sink.waitForMessages(count: 33, timeout: .seconds(10)).suffix(3)
        let recipients: [[String]] = received.map(\.rcptTos)
        let submitters: [[String]] = typed.map { [$0.0] }
        #expect(Set(recipients) == Set(submitters), "each submitter got one mail, in whatever order the lanes finished")
        #expect(recipients.count == submitters.count)
        for message in received {
            let text = message.text
            let mail = try MailInspector.inspect(message.data)
            for (_, name, _) in typed {
                #expect(!text.contains(name) && !(mail.text ?? "").contains(name) && !(mail.html ?? "").contains(name))
            }
            for fragment in ["Navigate Inc.", "spam.example", "phish.example", "鈴木"] {
                #expect(!(mail.text ?? "").contains(fragment) && !(mail.html ?? "").contains(fragment))
            }
            #expect(mail.to == message.rcptTos)
        }
        let readers = Set((0..<30).map { "reader\($0)@example.com" })
        #expect(received.allSatisfy { readers.isDisjoint(with: $0.rcptTos) }, "no subscriber received a form's mail")
    }
}

@Suite("Confirmation after a suppression")
struct ConfirmAfterSuppressionTests {
    @Test("a confirmation link mailed before an admin suppression can no longer subscribe the address")
    func suppressionWinsOverOldLink() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            try await client.post("/lists/news/subscribe", form: ["email": "late@example.net"])
            let links = try fixture.links(in: try #require(try await fixture.queuedMessages().last))
            try await fixture.store.pool.write { db in
                try db.execute(
                    sql: "INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (NULL, (SELECT address_hash FROM submissions LIMIT 1), 'admin', '2026-01-01T00:00:00.000Z')")
            }
            let response = try await client.execute(uri: links.confirm, method: .post)
            #expect(response.status == .gone)
        }
        #expect(try await fixture.count("subscriptions") == 0)
    }
}
