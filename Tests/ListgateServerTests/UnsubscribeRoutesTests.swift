// Specification of leaving: the link in a mail (button or RFC 8058 one-click), the
// unsubscribe-by-address form, receipts to the subscriber alone, and suppression.
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

extension ServerFixture {
    func unsubscribes() -> Unsubscribes {
        Unsubscribes(store: store, renderer: composer, links: links)
    }

    /// Subscribes `email` to news through the real double opt-in; returns the path of
    /// its unsubscribe link, as the sender API will hand it out.
    func activeSubscriber(_ email: String) async throws -> String {
        let intake = intake()
        _ = try await intake.requestSubscription(list: try await intake.list("news"), email: email, name: nil, origin: RequestOrigin(route: "test"))
        let links = try self.links(in: try await queuedMessages().last!)
        _ = try await intake.confirm(token: String(links.confirm.dropFirst("/confirm/".count)), origin: RequestOrigin(route: "test"))
        let publicID = try await store.pool.read { db in
            try String.fetchOne(db, sql: """
                SELECT s.public_id FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = ?
                """, arguments: [email.lowercased()])
        }
        return String(unsubscribes().unsubscribeURL(subscriptionPublicID: try #require(publicID)).dropFirst("https://lists.example.org".count))
    }

    func status(of email: String) async throws -> String? {
        try await store.pool.read { db in
            try String.fetchOne(db, sql: """
                SELECT s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = ?
                """, arguments: [email.lowercased()])
        }
    }
}

@Suite("Unsubscribe")
struct UnsubscribeRoutesTests {
    @Test("GET on an unsubscribe link shows one button and changes nothing")
    func getChangesNothing() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        try await fixture.test { client in
            let page = try await client.execute(uri: link, method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("配信を停止する"))
            #expect(page.text.contains("method=\"post\""))
        }
        #expect(try await fixture.status(of: "reader@example.net") == "active")
    }

    @Test("RFC 8058 one-click: 200, unsubscribed and suppressed at once, no receipt")
    func oneClick() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        let mailsBefore = try await fixture.count("outbox")
        try await fixture.test { client in
            let response = try await client.execute(
                uri: link, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "List-Unsubscribe=One-Click"))
            #expect(response.status == .ok)
        }
        #expect(try await fixture.status(of: "reader@example.net") == "unsubscribed")
        #expect(try await fixture.count("suppressions", where: "reason = 'unsubscribed'") == 1)
        #expect(try await fixture.count("outbox") == mailsBefore, "one-click sends no receipt")
        let detail = try await fixture.store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT detail FROM events WHERE type = 'unsubscribed'")
        }
        #expect(detail == #"{"route":"one-click"}"#)
    }

    @Test("RFC 8058 one-click as multipart/form-data: unsubscribed, recorded as one-click, no receipt")
    func oneClickMultipart() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        let mailsBefore = try await fixture.count("outbox")
        // As a mailbox provider sends it: a preamble-free body, CRLF line ends, a quoted boundary.
        let body = [
            "--mc7Ld0v", #"Content-Disposition: form-data; name="List-Unsubscribe""#, "", "One-Click", "--mc7Ld0v--", "",
        ].joined(separator: "\r\n")
        try await fixture.test { client in
            let response = try await client.execute(
                uri: link, method: .post, headers: [.contentType: #"multipart/form-data; boundary="mc7Ld0v""#],
                body: ByteBuffer(string: body))
            #expect(response.status == .ok)
        }
        #expect(try await fixture.status(of: "reader@example.net") == "unsubscribed")
        #expect(try await fixture.count("outbox") == mailsBefore, "one-click sends no receipt")
        let detail = try await fixture.store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT detail FROM events WHERE type = 'unsubscribed'")
        }
        #expect(detail == #"{"route":"one-click"}"#)
    }

    @Test("a multipart post without the one-click field is the page's button: unsubscribed with a receipt")
    func multipartWithoutOneClick() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        let mailsBefore = try await fixture.count("outbox")
        let body = ["--b", #"Content-Disposition: form-data; name="confirm""#, "", "yes", "--b--", ""].joined(separator: "\r\n")
        try await fixture.test { client in
            let response = try await client.execute(
                uri: link, method: .post, headers: [.contentType: "multipart/form-data; boundary=b"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
        }
        #expect(try await fixture.status(of: "reader@example.net") == "unsubscribed")
        #expect(try await fixture.count("outbox") == mailsBefore + 1, "a receipt")
    }

    @Test("the page button unsubscribes and queues one receipt to the subscriber alone; twice is fine and says so")
    func pageUnsubscribeWithReceipt() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        _ = try await fixture.activeSubscriber("other@example.net")
        let mailsBefore = try await fixture.count("outbox")
        try await fixture.test { client in
            let first = try await client.execute(uri: link, method: .post, headers: [.accept: "application/json"])
            #expect(first.text == #"{"status":"unsubscribed"}"#)
            let second = try await client.execute(uri: link, method: .post, headers: [.accept: "application/json"])
            #expect(second.status == .ok)
            #expect(second.text == #"{"status":"already_unsubscribed"}"#)
        }
        #expect(try await fixture.count("outbox") == mailsBefore + 1, "one receipt, not two")
        let receipt = try #require(try await fixture.queuedMessages().last)
        #expect(receipt.kind == .receipt)
        #expect(receipt.recipient == "reader@example.net")
        let mail = try MailInspector.inspect(receipt.raw)
        #expect(mail.text?.contains("https://lists.example.org/lists/news/subscribe") == true, "re-subscribe goes through double opt-in")
        #expect(try await fixture.status(of: "other@example.net") == "active")
    }

    @Test("a damaged or foreign token is 400 and unsubscribes nobody")
    func invalidToken() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        try await fixture.test { client in
            var tampered = link
            let last = tampered.removeLast()
            tampered.append(last == "A" ? "B" : "A")
            let damaged = try await client.execute(uri: tampered, method: .post)
            let garbage = try await client.execute(uri: "/unsubscribe/abc", method: .post)
            #expect(damaged.status == .badRequest)
            #expect(garbage.status == .badRequest)
        }
        #expect(try await fixture.status(of: "reader@example.net") == "active")
    }

    @Test("unsubscribe by address: one link mail to a subscribed address only; the same answer for everyone; no free text mailed")
    func byAddress() async throws {
        let fixture = try await ServerFixture()
        _ = try await fixture.activeSubscriber("reader@example.net")
        let mailsBefore = try await fixture.count("outbox")
        try await fixture.test { client in
            var answers: Set<String> = []
            for email in ["reader@example.net", "stranger@example.net"] {
                let response = try await client.post(
                    "/lists/news/unsubscribe",
                    form: ["email": email, "name": "株式会社ナビゲート 鈴木", "reason": "https://spam.example"])
                #expect(response.status == .ok)
                answers.insert(response.text)
            }
            #expect(answers.count == 1, "the answer does not tell who is subscribed")
        }
        #expect(try await fixture.count("outbox") == mailsBefore + 1)
        let message = try #require(try await fixture.queuedMessages().last)
        #expect(message.kind == .unsubscribeLink)
        #expect(message.recipient == "reader@example.net")
        let mail = try MailInspector.inspect(message.raw)
        #expect(mail.text?.components(separatedBy: "https://lists.example.org/unsubscribe/").count == 2, "exactly one unsubscribe link")
        for fragment in ["鈴木", "ナビゲート", "spam.example"] {
            #expect(!(mail.text ?? "").contains(fragment) && !(mail.html ?? "").contains(fragment))
        }
    }

    @Test("after unsubscribing, the person's own new double opt-in subscribes them again")
    func resubscribeThroughDoubleOptIn() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        try await fixture.test { client in
            try await client.execute(uri: link, method: .post)
        }
        #expect(try await fixture.status(of: "reader@example.net") == "unsubscribed")
        _ = try await fixture.activeSubscriber("reader@example.net")
        #expect(try await fixture.status(of: "reader@example.net") == "active")
        #expect(try await fixture.count("suppressions") == 0)
    }

    @Test("receipts and link mails reach the SMTP server addressed to the subscriber alone")
    func atTheWire() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        _ = try await fixture.activeSubscriber("second@example.net")
        let sink = try SMTPSink.start()
        let worker = OutboxWorker(store: fixture.store, transport: try CurlSMTPTransport(url: sink.url), logger: Logger(label: "test"))
        try await worker.drain()
        let confirmations = try await sink.waitForMessages(count: 2, timeout: .seconds(10)).count
        try await fixture.test { client in
            try await client.execute(uri: link, method: .post)
            try await client.post("/lists/news/unsubscribe", form: ["email": "second@example.net"])
        }
        try await worker.drain()
        let received = try await sink.waitForMessages(count: confirmations + 2, timeout: .seconds(10)).suffix(2)
        #expect(Set(received.flatMap(\.rcptTos)) == ["reader@example.net", "second@example.net"])
        #expect(received.allSatisfy { $0.rcptTos.count == 1 })
        for message in received {
            #expect(try MailInspector.inspect(message.data).to == message.rcptTos)
        }
    }
}

@Suite("Preferences page")
struct PreferencesRoutesTests {
    /// reader@ is active on news and tech; returns the path of a link to all their lists
    /// (as the unsubscribe-by-address mail carries it), valid until `expires`.
    func readerOnTwoLists(_ fixture: ServerFixture, expires: Date = Date().addingTimeInterval(7 * 86_400)) async throws
        -> String
    {
        let intake = fixture.intake()
        for slug in ["news", "tech"] {
            _ = try await intake.requestSubscription(list: try await intake.list(slug), email: "reader@example.net", name: nil, origin: RequestOrigin(route: "test"))
            let links = try fixture.links(in: try await fixture.queuedMessages().last!)
            _ = try await intake.confirm(token: String(links.confirm.dropFirst("/confirm/".count)), origin: RequestOrigin(route: "test"))
        }
        let hash = try await fixture.store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT address_hash FROM addresses WHERE identity_key = 'reader@example.net'")
        }
        return String(fixture.links.allLists(addressHash: try #require(hash), expires: expires)
            .dropFirst("https://lists.example.org".count))
    }

    /// The preferences path the page after an unsubscribe link offers (that list only).
    func scopedPath(_ fixture: ServerFixture, unsubscribeLink: String) throws -> String {
        let url = try #require(fixture.unsubscribes().preferencesURL(
            forUnsubscribeToken: String(unsubscribeLink.dropFirst("/unsubscribe/".count))))
        return String(url.dropFirst("https://lists.example.org".count))
    }

    @Test("the preferences link from an unsubscribe link shows and leaves only that link's list")
    func unsubscribeLinkGovernsItsListOnly() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "テック便り", .ja)])
        _ = try await readerOnTwoLists(fixture)
        let publicID = try await fixture.store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT s.public_id FROM subscriptions s JOIN lists l ON l.id = s.list_id WHERE l.slug = 'news'")
        }
        let unsubscribe = String(fixture.unsubscribes().unsubscribeURL(subscriptionPublicID: try #require(publicID))
            .dropFirst("https://lists.example.org".count))
        let path = try scopedPath(fixture, unsubscribeLink: unsubscribe)
        try await fixture.test { client in
            let page = try await client.execute(uri: path, method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("週刊お知らせ"))
            #expect(!page.text.contains("テック便り"))
            // A forwarded newsletter's link cannot reach the person's other lists.
            _ = try await client.execute(
                uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "leave=tech"))
        }
        #expect(try await fixture.count("subscriptions", where: "status = 'active'") == 2)
    }

    @Test("the link to every list stops working after 7 days")
    func allListsLinkExpires() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "テック便り", .ja)])
        let path = try await readerOnTwoLists(fixture, expires: Date().addingTimeInterval(-1))
        try await fixture.test { client in
            #expect(try await client.execute(uri: path, method: .get).status == .badRequest)
            let leave = try await client.execute(
                uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "leave=tech&leave=news"))
            #expect(!leave.text.contains("停止しました"))
        }
        #expect(try await fixture.count("subscriptions", where: "status = 'active'") == 2)
    }

    @Test("the unsubscribe-by-address mail carries a link to every list of the address")
    func byAddressMailCarriesAllListsLink() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "テック便り", .ja)])
        _ = try await readerOnTwoLists(fixture)
        try await fixture.test { client in
            try await client.post("/lists/news/unsubscribe", form: ["email": "reader@example.net"])
        }
        let mail = try #require(try await fixture.queuedMessages().last)
        let text = try MailInspector.inspect(mail.raw).text ?? ""
        let start = try #require(text.range(of: "https://lists.example.org/preferences/"))
        let path = "/preferences/" + text[start.upperBound...].prefix { !$0.isWhitespace }
        try await fixture.test { client in
            let page = try await client.execute(uri: path, method: .get)
            #expect(page.text.contains("週刊お知らせ") && page.text.contains("テック便り"))
        }
    }

    @Test("shows every list the address is on with its state, and changes nothing on GET")
    func shows() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "テック便り", .ja)])
        let path = try await readerOnTwoLists(fixture)
        try await fixture.test { client in
            let page = try await client.execute(uri: path, method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("週刊お知らせ") && page.text.contains("テック便り"))
            #expect(page.text.components(separatedBy: "配信中").count == 3)
            let json = try await client.execute(uri: path, method: .get, headers: [.accept: "application/json"])
            #expect(json.text.contains(#""status":"active""#))
        }
        #expect(try await fixture.count("subscriptions", where: "status = 'active'") == 2)
    }

    @Test("leaving one list leaves only that one and queues one receipt to the person")
    func leaveOne() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "テック便り", .ja)])
        let path = try await readerOnTwoLists(fixture)
        let mailsBefore = try await fixture.count("outbox")
        try await fixture.test { client in
            let response = try await client.execute(
                uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "leave=tech"))
            #expect(response.status == .ok)
            #expect(response.text.contains("停止済み"))
        }
        #expect(try await fixture.count("outbox") == mailsBefore + 1)
        #expect(try await fixture.queuedMessages().last?.recipient == "reader@example.net")
        let states = try await fixture.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT l.slug, s.status FROM subscriptions s JOIN lists l ON l.id = s.list_id ORDER BY l.slug")
                .map { "\($0["slug"] as String)=\($0["status"] as String)" }
        }
        #expect(states == ["news=active", "tech=unsubscribed"])
        let detail = try await fixture.store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT detail FROM events WHERE type = 'unsubscribed'")
        }
        #expect(detail == #"{"route":"preferences"}"#)
    }

    @Test("the message after leaving is shown as a success, not in the error style")
    func leavingIsShownAsSuccess() async throws {
        let fixture = try await ServerFixture(lists: [("news", "週刊お知らせ", .ja), ("tech", "テック便り", .ja)])
        let path = try await readerOnTwoLists(fixture)
        try await fixture.test { client in
            let response = try await client.execute(
                uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "leave=tech"))
            #expect(response.text.contains(#"<p class="notice" role="status">1件のリストの配信を停止しました。</p>"#))
            #expect(!response.text.contains(#"class="alert""#))
            #expect(response.text.contains(".notice {"), "the stylesheet styles it")
        }
    }

    @Test("a preferences token from another purpose or a damaged one is 400")
    func invalid() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        try await fixture.test { client in
            let swapped = "/preferences/" + link.dropFirst("/unsubscribe/".count)
            let response = try await client.execute(uri: swapped, method: .get)
            #expect(response.status == .badRequest)
        }
    }
}
