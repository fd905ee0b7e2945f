// Specification of listgate on a company's website: served under a path of the company's
// domain, sending visitors back to the company's own pages, linking its privacy policy,
// and taking form posts (and background fetches) from the company's origins only.
import Foundation
import GRDB
import Hummingbird
import HTTPTypes
import HummingbirdTesting
@testable import ListgateCore
import ListgateMail
import ListgateServer
import ListgateTestSupport
import Logging
import Testing

@Suite("On the company's site")
struct CompanySiteTests {
    static let company = "https://www.example.co.jp"

    /// A fixture whose "news" list names the company's pages.
    func fixture(_ pages: [SitePage: String]) async throws -> ServerFixture {
        let fixture = try await ServerFixture()
        var change = ListChange()
        change.sitePages = try pages.mapValues { try SitePageURL($0) }
        _ = try await fixture.store.updateList(ListSlug("news"), change, source: .cli)
        return fixture
    }

    /// The `action` of every form on a page.
    func formActions(_ html: String) -> [String] {
        html.components(separatedBy: "action=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    // MARK: Under a path

    @Test("under a base URL with a path, every page's form posts under that path")
    func formsUnderBasePath() async throws {
        let fixture = try await ServerFixture()
        fixture.configuration.baseURL = "\(Self.company)/newsletter/"
        let intake = Intake(
            store: fixture.store, renderer: fixture.composer,
            links: LinkBuilder(signer: TokenSigner(secret: ServerFixture.secret), baseURL: "\(Self.company)/newsletter"))
        _ = try await intake.requestSubscription(
            list: try await intake.list("news"), email: "reader@example.net", name: nil, origin: RequestOrigin(route: "test"))
        let text = try MailInspector.inspect(try await fixture.queuedMessages().last!.raw).text ?? ""
        let confirmLink = try #require(text.split(whereSeparator: \.isWhitespace).first { $0.contains("/confirm/") })
        #expect(confirmLink.hasPrefix("\(Self.company)/newsletter/confirm/"), "mail links carry the path")
        let confirmPath = String(confirmLink.dropFirst("\(Self.company)/newsletter".count))

        try await fixture.test { client in
            let subscribe = try await client.execute(uri: "/lists/news/subscribe", method: .get)
            #expect(formActions(subscribe.text) == ["/newsletter/lists/news/subscribe"])
            let refused = try await client.post("/lists/news/subscribe", form: ["email": "not an address"])
            #expect(refused.status == .unprocessableContent)
            #expect(formActions(refused.text) == ["/newsletter/lists/news/subscribe"])
            let leave = try await client.execute(uri: "/lists/news/unsubscribe", method: .get)
            #expect(formActions(leave.text) == ["/newsletter/lists/news/unsubscribe"])
            let confirm = try await client.execute(uri: confirmPath, method: .get)
            #expect(formActions(confirm.text) == ["/newsletter\(confirmPath)"])
        }
    }

    @Test("the expired page's \"subscribe again\" link and the embed snippet carry the base URL's path")
    func linksUnderBasePath() async throws {
        let fixture = try await ServerFixture()
        let list = try #require(try await fixture.store.list(ListSlug("news")))
        let snippet = try await EmbedSnippet.html(for: list, baseURL: "\(Self.company)/newsletter")
        #expect(formActions(snippet) == ["\(Self.company)/newsletter/lists/news/subscribe"])
    }

    // MARK: The company's pages

    @Test("a subscribe form post goes on to the list's thanks page with 303; JSON answers are unchanged")
    func thanksPage() async throws {
        let fixture = try await fixture([.thanks: "\(Self.company)/newsletter/thanks"])
        try await fixture.test { client in
            let html = try await client.post("/lists/news/subscribe", form: ["email": "a@example.net"])
            #expect(html.status == .seeOther)
            #expect(html.headers[.location] == "\(Self.company)/newsletter/thanks")
            let json = try await client.post("/lists/news/subscribe", form: ["email": "b@example.net"], json: true)
            #expect(json.status == .accepted)
            #expect(json.headers[.location] == nil)
            // A bot filling the honeypot gets the very same answer as a person.
            let bot = try await client.post("/lists/news/subscribe", form: ["email": "c@example.net", "website": "x"])
            #expect(bot.status == .seeOther)
            #expect(bot.headers[.location] == "\(Self.company)/newsletter/thanks")
        }
        #expect(try await fixture.queuedMessages().map(\.recipient).sorted() == ["a@example.net", "b@example.net"])
    }

    @Test("a refused subscribe post shows the form again, not the thanks page")
    func thanksOnlyAfterSuccess() async throws {
        let fixture = try await fixture([.thanks: "\(Self.company)/thanks"])
        try await fixture.test { client in
            let refused = try await client.post("/lists/news/subscribe", form: ["email": "no-at-sign"])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.headers[.location] == nil)
        }
    }

    @Test("confirming goes on to the list's confirmed page; a used link does not")
    func confirmedPage() async throws {
        let fixture = try await fixture([.confirmed: "\(Self.company)/welcome"])
        let intake = fixture.intake()
        _ = try await intake.requestSubscription(
            list: try await intake.list("news"), email: "reader@example.net", name: nil, origin: RequestOrigin(route: "test"))
        let link = try fixture.links(in: try await fixture.queuedMessages().last!).confirm
        try await fixture.test { client in
            let page = try await client.execute(uri: link, method: .get)
            #expect(page.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "a token page tells no site its address")
            let confirmed = try await client.execute(uri: link, method: .post)
            #expect(confirmed.status == .seeOther)
            #expect(confirmed.headers[.location] == "\(Self.company)/welcome")
            // The company's page often shares listgate's origin: the redirect must not hand
            // it the token URL as Referer.
            #expect(confirmed.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            let again = try await client.execute(uri: link, method: .post)
            #expect(again.status != .seeOther)
        }
        #expect(try await fixture.status(of: "reader@example.net") == "active")
    }

    @Test("the unsubscribe button goes on to the list's unsubscribed page; one-click and JSON do not")
    func unsubscribedPage() async throws {
        let fixture = try await fixture([.unsubscribed: "\(Self.company)/goodbye"])
        let button = try await fixture.activeSubscriber("button@example.net")
        let oneClick = try await fixture.activeSubscriber("oneclick@example.net")
        let json = try await fixture.activeSubscriber("json@example.net")
        try await fixture.test { client in
            let pressed = try await client.execute(
                uri: button, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer())
            #expect(pressed.status == .seeOther)
            #expect(pressed.headers[.location] == "\(Self.company)/goodbye")
            let provider = try await client.execute(
                uri: oneClick, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "List-Unsubscribe=One-Click"))
            #expect(provider.status == .ok)
            let api = try await client.execute(uri: json, method: .post, headers: [.accept: "application/json"])
            #expect(api.status == .ok)
            #expect(api.text.contains("unsubscribed"))
        }
        for email in ["button@example.net", "oneclick@example.net", "json@example.net"] {
            #expect(try await fixture.status(of: email) == "unsubscribed")
        }
    }

    @Test("the subscribe page links the list's privacy policy, and shows no such link without one")
    func privacyLink() async throws {
        let fixture = try await fixture([.privacy: "\(Self.company)/privacy"])
        _ = try await fixture.store.createList(
            NewList(slug: ListSlug("plain"), name: "Plain", from: Mailbox("plain@example.org")), source: .cli)
        try await fixture.test { client in
            let page = try await client.execute(uri: "/lists/news/subscribe", method: .get)
            #expect(page.text.contains("<a href=\"\(Self.company)/privacy\">プライバシーポリシー</a>"))
            let plain = try await client.execute(uri: "/lists/plain/subscribe", method: .get)
            #expect(!plain.text.contains("プライバシーポリシー"))
        }
    }

    // MARK: Origins and CORS

    /// "shop" takes posts from the company's site only.
    func shopFixture() async throws -> ServerFixture {
        let fixture = try await ServerFixture()
        _ = try await fixture.store.createList(
            NewList(slug: ListSlug("shop"), name: "Shop", from: Mailbox("shop@example.org"), locale: .en,
                    allowedOrigins: [Self.company]),
            source: .cli)
        return fixture
    }

    @Test("a CORS preflight from an allowed origin is answered for POST; from another origin it is refused")
    func preflight() async throws {
        let fixture = try await shopFixture()
        try await fixture.test { client in
            for path in ["/lists/shop/subscribe", "/lists/shop/unsubscribe"] {
                let allowed = try await client.execute(uri: path, method: .options, headers: [
                    .origin: Self.company, .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "content-type",
                ])
                #expect(allowed.status == .noContent)
                #expect(allowed.headers[.accessControlAllowOrigin] == Self.company)
                #expect(allowed.headers[.accessControlAllowMethods] == "POST")
                #expect(allowed.headers[.accessControlAllowHeaders]?.lowercased().contains("content-type") == true)
                #expect(allowed.headers[.vary] == "Origin")
                let foreign = try await client.execute(uri: path, method: .options, headers: [
                    .origin: "https://evil.example", .accessControlRequestMethod: "POST",
                ])
                #expect(foreign.status == .forbidden)
                #expect(foreign.headers[.accessControlAllowOrigin] == nil)
            }
            // A plain OPTIONS still lists the methods.
            let plain = try await client.execute(uri: "/lists/shop/subscribe", method: .options)
            #expect(plain.status == .noContent)
            #expect(plain.headers[.allow]?.contains("POST") == true)
        }
    }

    @Test("a post from an allowed origin carries Access-Control-Allow-Origin for that origin only, errors too")
    func corsOnAnswers() async throws {
        let fixture = try await shopFixture()
        try await fixture.test { client in
            let accepted = try await client.post("/lists/shop/subscribe", form: ["email": "a@example.net"], json: true,
                                                 headers: [.origin: Self.company])
            #expect(accepted.status == .accepted)
            #expect(accepted.headers[.accessControlAllowOrigin] == Self.company)
            let refused = try await client.post("/lists/shop/subscribe", form: ["email": "nope"], json: true,
                                                headers: [.origin: Self.company])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.headers[.accessControlAllowOrigin] == Self.company, "the site's script can read why")
            // listgate's own pages need no CORS.
            let own = try await client.post("/lists/shop/subscribe", form: ["email": "b@example.net"],
                                            headers: [.origin: "https://lists.example.org"])
            #expect(own.status == .ok)
            #expect(own.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test("with allowed origins, a post that names no origin (no Origin, no Referer, or Origin: null) is refused with 403")
    func strictOrigin() async throws {
        let fixture = try await shopFixture()
        try await fixture.test { client in
            let bare = try await client.post("/lists/shop/subscribe", form: ["email": "a@example.net"])
            #expect(bare.status == .forbidden)
            #expect(bare.text.contains("Not accepted from this site"), "in the list's language")
            let opaque = try await client.post("/lists/shop/subscribe", form: ["email": "b@example.net"], headers: [.origin: "null"])
            #expect(opaque.status == .forbidden)
            let leave = try await client.post("/lists/shop/unsubscribe", form: ["email": "c@example.net"], json: true)
            #expect(leave.status == .forbidden)
            #expect(leave.text.contains("origin_not_allowed"))
            // Without Origin, the Referer's origin counts.
            let referred = try await client.post("/lists/shop/subscribe", form: ["email": "d@example.net"],
                                                 headers: [.referer: "\(Self.company)/newsletter/form.html?x=1"])
            #expect(referred.status == .ok)
            let badReferrer = try await client.post("/lists/shop/subscribe", form: ["email": "e@example.net"],
                                                    headers: [.referer: "https://evil.example/page"])
            #expect(badReferrer.status == .forbidden)
        }
        #expect(try await fixture.queuedMessages().map(\.recipient) == ["d@example.net"])
    }

    @Test("a list without allowed origins takes posts that name no origin, and answers no CORS")
    func openList() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let bare = try await client.post("/lists/news/subscribe", form: ["email": "a@example.net"], json: true,
                                             headers: [.origin: Self.company])
            #expect(bare.status == .accepted)
            #expect(bare.headers[.accessControlAllowOrigin] == nil)
            let preflight = try await client.execute(uri: "/lists/news/subscribe", method: .options, headers: [
                .origin: Self.company, .accessControlRequestMethod: "POST",
            ])
            #expect(preflight.headers[.accessControlAllowOrigin] == nil)
        }
    }

}
