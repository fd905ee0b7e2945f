// `listgate lists update` (every field) and `listgate lists archive`, through the built
// binary and, where it matters, a running server mailing to the real SMTP sink: what is
// printed and recorded, what is refused, and what a running server does next.
import Foundation
import GRDB
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("listgate lists update and archive", .serialized)
struct ListChangeCommandTests {

    func events(_ db: String, _ type: String? = nil) throws -> [String] {
        try DatabaseQueue(path: db).read { db in
            try String.fetchAll(
                db, sql: "SELECT detail FROM events WHERE ?1 IS NULL OR type = ?1 ORDER BY id", arguments: [type])
        }
    }

    /// The single link starting with `prefix` in a received mail's text part, as a path.
    func link(_ prefix: String, in message: ReceivedMessage, base: String) throws -> String {
        let text = try #require(try MailInspector.inspect(message.data).text)
        let links = text.split(whereSeparator: \.isWhitespace).filter { $0.hasPrefix(base + prefix) }
        #expect(links.count == 1, "exactly one \(prefix) link")
        return String(try #require(links.first).dropFirst(base.count))
    }

    // MARK: Update

    @Test("update changes every kind of field, prints each before and after, and records them in one list_updated event")
    func updateEveryField() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews("--reply-to", "desk@example.org", "--allow-address", "help@example.org",
                 "--allow-origin", "https://www.example.co.jp")
        let updated = try workspace.listgate(
            "lists", "update", "news", "--name", "週刊お知らせ", "--from", "広報部 <press@example.co.jp>", "--locale", "en",
            "--no-reply-to", "--allow-address", "info@example.org", "--disallow-address", "HELP@example.org",
            "--allow-origin", "HTTPS://Shop.Example.co.jp:443/", "--disallow-origin", "https://www.example.co.jp",
            "--privacy-url", "https://www.example.co.jp/privacy", "--legal-name", "株式会社サンプル",
            "--postal-address", "〒100-0001 東京都千代田区千代田1-1", "--contact", "support@example.co.jp")
        #expect(updated.status == 0, "\(updated.stderr)")
        #expect(updated.stdout == """
            name: お知らせ -> 週刊お知らせ
            from: news@example.org -> 広報部 <press@example.co.jp>
            locale: ja -> en
            reply_to: desk@example.org -> (none)
            allowed_addresses: help@example.org -> info@example.org
            allowed_origins: https://www.example.co.jp -> https://shop.example.co.jp
            privacy_url: (none) -> https://www.example.co.jp/privacy
            legal_name: (none) -> 株式会社サンプル
            postal_address: (none) -> 〒100-0001 東京都千代田区千代田1-1
            contact: (none) -> support@example.co.jp

            """)
        let list = try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)
        #expect(list["name"] as? String == "週刊お知らせ")
        #expect(list["from_email"] as? String == "press@example.co.jp")
        #expect(list["locale"] as? String == "en")
        #expect(list["reply_to"] is NSNull)
        #expect(list["allowed_addresses"] as? [String] == ["info@example.org"])
        #expect(list["allowed_origins"] as? [String] == ["https://shop.example.co.jp"])
        #expect(list["sender_identity"] as? [String: String] == [
            "legal_name": "株式会社サンプル", "postal_address": "〒100-0001 東京都千代田区千代田1-1",
            "contact": "support@example.co.jp",
        ])
    }

    @Test("the list_updated event holds FIELD.before and FIELD.after for each changed field, and nothing else")
    func updateEventDetail() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        try workspace.listgate("lists", "update", "news", "--from", "Press <press@example.org>", "--contact",
                               "https://www.example.co.jp/contact", "--name", "お知らせ")
        let updates = try events(workspace.db, "list_updated")
        #expect(updates.count == 1)
        let detail = try JSONSerialization.jsonObject(with: Data(try #require(updates.first).utf8)) as? [String: String]
        #expect(detail == [
            "from.before": "news@example.org", "from.after": "Press <press@example.org>",
            "contact.before": "", "contact.after": "https://www.example.co.jp/contact",
        ], "the unchanged name is not recorded")
    }

    @Test("an empty --legal-name clears it; clearing what is not set changes nothing and records nothing")
    func clearIdentity() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews("--legal-name", "株式会社サンプル")
        let cleared = try workspace.listgate("lists", "update", "news", "--legal-name", "")
        #expect(cleared.stdout == "legal_name: 株式会社サンプル -> (none)\n")
        let again = try workspace.listgate("lists", "update", "news", "--legal-name", "", "--disallow-address", "x@example.org")
        #expect(again.status == 0)
        #expect(again.stdout == "list 'news' unchanged: every value was already so\n")
        #expect(try events(workspace.db, "list_updated").count == 1)
    }

    static let badInput: [(arguments: [String], error: String)] = [
        (["update", "nope", "--name", "X"], "error: no list named 'nope'"),
        (["update", "news"], "error: nothing to change"),
        (["update", "news", "--from", "a@example.org, b@example.org"], "error: invalid --from"),
        (["update", "news", "--from", "Alice <a@example.org> <b@example.org>"], "error: invalid --from"),
        (["update", "news", "--allow-origin", "https://www.example.org/path"], "error: invalid origin for --allow-origin"),
        (["update", "news", "--disallow-origin", "not a url"], "error: invalid origin for --disallow-origin"),
        (["update", "news", "--name", "two\nlines"], "error: invalid list name"),
        (["update", "news", "--name", String(repeating: "長", count: 201)], "error: invalid list name"),
        (["update", "news", "--reply-to", "r@example.org", "--no-reply-to"], "error: --reply-to and --no-reply-to"),
        (["update", "news", "--allow-address", "a@example.org", "--disallow-address", "A@example.org"],
         "error: --allow-address and --disallow-address"),
        (["update", "news", "--legal-name", "株式会社\r\nBcc: x@example.net"], "error: --legal-name"),
        (["update", "news", "--postal-address", String(repeating: "東", count: 301)], "error: --postal-address"),
        (["update", "news", "--legal-name", "Mail me at a@example.net"], "error: --legal-name"),
        (["update", "news", "--contact", "call us"], "error: --contact"),
        (["update", "news", "--contact", "https://x.example/a b"], "error: --contact"),
        (["archive", "nope"], "error: no list named 'nope'"),
    ]

    @Test("bad input to update or archive: non-zero, last stderr line error: …, nothing changed", arguments: badInput)
    func badInputChangesNothing(_ arguments: [String], _ error: String) throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews("--allow-origin", "https://www.example.co.jp")
        let shown = try workspace.listgate("lists", "show", "news", "--json").stdout
        let eventCount = try events(workspace.db).count
        let result = try Binary.run(["lists"] + arguments + ["--db", workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix(error) == true, "last stderr line: \(result.lastErrorLine ?? "none")")
        #expect(try workspace.listgate("lists", "show", "news", "--json").stdout == shown)
        #expect(try events(workspace.db).count == eventCount)
    }

    @Test("create takes the sender identity, as update does")
    func createWithIdentity() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews("--legal-name", "Example K.K.", "--contact", "https://www.example.co.jp/contact")
        let list = try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)
        let identity = try #require(list["sender_identity"] as? [String: Any])
        #expect(identity["legal_name"] as? String == "Example K.K.")
        #expect(identity["postal_address"] is NSNull)
        #expect(identity["contact"] as? String == "https://www.example.co.jp/contact")
    }

    @Test("lists update --from while the server runs: the next confirmation comes from the new sender")
    func fromFollowsWhileRunning() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        _ = try await server.request("POST", "/lists/news/subscribe", form: ["email": "first@example.net"])
        let first = try await server.sink.waitForMessages(count: 1, timeout: .seconds(10))[0]
        #expect(try MailInspector.inspect(first.data).from == ["news@example.org"])

        let updated = try server.workspace.listgate(
            "lists", "update", "news", "--from", "広報部 <press@example.org>", "--legal-name", "株式会社サンプル")
        #expect(updated.status == 0, "\(updated.stderr)")
        try await Task.sleep(for: .milliseconds(1_200))  // the server's list cache lives one second
        _ = try await server.request("POST", "/lists/news/subscribe", form: ["email": "second@example.net"])
        let second = try await server.sink.waitForMessages(count: 2, timeout: .seconds(10))[1]
        let mail = try MailInspector.inspect(second.data)
        #expect(mail.from == ["press@example.org"])
        #expect(mail.headers(named: "From").first?.contains("広報部") == true, "the new display name too")
        #expect(second.mailFrom == "press@example.org", "the envelope follows the header")
        #expect(mail.text?.contains("送信者：株式会社サンプル") == true, "the footer names the new identity at once")
    }

    // MARK: Archive

    @Test("archive: lists list and show say archived, one list_archived event, and a second archive is an error")
    func archiveIsShownAndRecorded() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let archived = try workspace.listgate("lists", "archive", "news")
        #expect(archived.status == 0, "\(archived.stderr)")
        #expect(archived.stdout.hasPrefix("archived list 'news'"))
        let row = try #require(try workspace.listgate("lists", "list").stdout.split(separator: "\n").last)
        #expect(row.split(separator: " ", omittingEmptySubsequences: true).contains("archived"), "\(row)")
        let list = try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)
        #expect(list["archived_at"] is String)
        let recorded = try events(workspace.db, "list_archived")
        #expect(recorded == [#"{"slug":"news"}"#])

        let again = try workspace.listgate("lists", "archive", "news")
        #expect(again.status != 0)
        #expect(again.lastErrorLine == "error: list 'news' is archived: it takes no one new (leaving still works)")
        #expect(try events(workspace.db, "list_archived").count == 1)
        #expect(try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)["archived_at"] as? String
            == list["archived_at"] as? String, "the first archive's time stays")
    }

    @Test("an archived list's subscribe form answers 410, as a page saying it is closed and as JSON")
    func archivedSubscribeForm() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        #expect(try server.workspace.listgate("lists", "archive", "news").status == 0)
        try await Task.sleep(for: .milliseconds(1_200))
        let page = try await server.request("GET", "/lists/news/subscribe")
        #expect(page.status == 410)
        #expect(page.body.contains("このリストの受付は終了しました"))
        #expect(page.body.contains("週刊お知らせ"))
        #expect(!page.body.contains("<form"), "no form to fill in")
        let posted = try await server.request("POST", "/lists/news/subscribe", form: ["email": "late@example.net"])
        #expect(posted.status == 410)
        #expect(posted.body.contains("このリストの受付は終了しました"))
        let json = try await server.request("POST", "/lists/news/subscribe", form: ["email": "late@example.net"], json: true)
        #expect(json.status == 410)
        #expect(json.body.contains(#""code":"list_archived""#))
        try await Task.sleep(for: .seconds(1))
        #expect(try server.sink.messageCount() == 0, "nothing recorded, nothing mailed")
    }

    @Test("a confirmation link pending when the list was archived answers 410 and subscribes no one")
    func pendingConfirmLinkIsGone() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        _ = try await server.request("POST", "/lists/news/subscribe", form: ["email": "pending@example.net"])
        let mail = try await server.sink.waitForMessages(count: 1, timeout: .seconds(10))[0]
        let confirm = try link("/confirm/", in: mail, base: server.base)
        #expect(try server.workspace.listgate("lists", "archive", "news").status == 0)
        let page = try await server.request("GET", confirm)
        #expect(page.status == 410)
        #expect(page.body.contains("このリストの受付は終了しました"))
        let pressed = try await server.request("POST", confirm, json: true)
        #expect(pressed.status == 410)
        #expect(pressed.body.contains(#""code":"list_archived""#))
        #expect(try await server.activeCount() == 0)
    }

    @Test("on an archived list, old unsubscribe links, one-click and the unsubscribe-by-address form keep working")
    func leavingStillWorks() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        let workspace = server.workspace
        for email in ["page@example.net", "oneclick@example.net", "byaddress@example.net"] {
            try workspace.listgate("subscribers", "add", email, "--list", "news", "--confirmed")
        }
        let token = try workspace.listgate("tokens", "create", "--list", "news").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let snapshot = try jsonObject(try await server.request("POST", "/api/v1/lists/news/snapshots", bearer: token).body)
        let stream = try await server.request("GET", "/api/v1/snapshots/\(try #require(snapshot["id"] as? String))/recipients",
                                              bearer: token)
        var links: [String: String] = [:]
        for line in stream.body.split(separator: "\n") {
            let recipient = try jsonObject(String(line))
            links[try #require(recipient["email"] as? String)] = try #require(recipient["unsubscribe_url"] as? String)
        }
        #expect(try workspace.listgate("lists", "archive", "news").status == 0)
        try await Task.sleep(for: .milliseconds(1_200))

        let page = try #require(links["page@example.net"])
        #expect(try await server.request("GET", page).status == 200)
        let left = try await server.request("POST", page)
        #expect(left.status == 200)
        #expect(!left.body.contains("/lists/news/subscribe"), "the page offers no way back into a closed list")
        let oneClick = try await server.request("POST", try #require(links["oneclick@example.net"]), body: "List-Unsubscribe=One-Click")
        #expect(oneClick.status == 200)
        #expect(try await server.request("GET", "/lists/news/unsubscribe").status == 200)
        #expect(try await server.request("POST", "/lists/news/unsubscribe", form: ["email": "byaddress@example.net"]).status == 200)
        let mails = try await server.sink.waitForMessages(count: 2, timeout: .seconds(10))
        #expect(Set(mails.flatMap(\.rcptTos)) == ["page@example.net", "byaddress@example.net"],
                "the receipt and the unsubscribe link went out")
        let receipt = try MailInspector.inspect(try #require(mails.first { $0.rcptTos == ["page@example.net"] }).data)
        #expect(receipt.text?.contains("/lists/news/subscribe") == false, "a closed list's receipt offers no way back")
        #expect(try await server.activeCount() == 1, "two of three left")
    }

    @Test("an archived list takes no one new from the CLI either: subscribers add and import are refused, nothing changed")
    func archivedTakesNoOneFromTheCLI() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        #expect(try workspace.listgate("lists", "archive", "news").status == 0)
        let added = try workspace.listgate("subscribers", "add", "new@example.net", "--list", "news", "--confirmed")
        #expect(added.status != 0)
        #expect(added.lastErrorLine == "error: list 'news' is archived: it takes no one new (leaving still works)")
        let file = URL(fileURLWithPath: workspace.db).deletingLastPathComponent().appendingPathComponent("people.csv")
        try "email,name\nimported@example.net,Imported\n".write(to: file, atomically: true, encoding: .utf8)
        let imported = try workspace.listgate("import", file.path, "--list", "news")
        #expect(imported.status != 0)
        #expect(imported.lastErrorLine?.hasPrefix("error: list 'news' is archived") == true, "\(imported.stderr)")
        let people = try DatabaseQueue(path: workspace.db).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM addresses") }
        #expect(people == 0)
    }

    @Test("a postal address may be up to 300 characters, one more is refused")
    func postalAddressLength() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let long = String(repeating: "東", count: 300)
        #expect(try workspace.listgate("lists", "update", "news", "--postal-address", long).status == 0)
        let tooLong = try workspace.listgate("lists", "update", "news", "--postal-address", long + "京")
        #expect(tooLong.status != 0)
        #expect(tooLong.lastErrorLine?.contains("longer than 300 characters") == true, "\(tooLong.stderr)")
    }

    @Test("archiving discards the list's confirmation mail not yet sent, each with a message_discarded event")
    func archiveDiscardsWaitingConfirmations() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        try DatabaseQueue(path: workspace.db).write { db in
            try db.execute(sql: """
                INSERT INTO outbox (message_id, list_id, kind, recipient, address_hash, raw_message, status, attempts,
                                    next_attempt_at, created_at, updated_at)
                VALUES ('<waiting@listgate.test>', 1, 'confirmation', 'waiting@example.net', ?, x'00', 'queued', 0,
                        '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')
                """, arguments: [String(repeating: "a", count: 64)])
        }
        #expect(try workspace.listgate("lists", "archive", "news").status == 0)
        let (status, events) = try DatabaseQueue(path: workspace.db).read { db in
            (try String.fetchOne(db, sql: "SELECT status FROM outbox"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE type = 'message_discarded'"))
        }
        #expect(status == "discarded")
        #expect(events == 1)
    }

    @Test("an archived list takes no new snapshot (409 list_archived) while an earlier one still streams")
    func archivedSnapshots() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        try server.workspace.listgate("subscribers", "add", "reader@example.net", "--list", "news", "--confirmed")
        let token = try server.workspace.listgate("tokens", "create", "--list", "news").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let earlier = try await server.request("POST", "/api/v1/lists/news/snapshots", bearer: token)
        #expect(earlier.status == 201)
        let id = try #require(try jsonObject(earlier.body)["id"] as? String)
        #expect(try server.workspace.listgate("lists", "archive", "news").status == 0)

        let refused = try await server.request("POST", "/api/v1/lists/news/snapshots", bearer: token)
        #expect(refused.status == 409)
        let error = try #require(try jsonObject(refused.body)["error"] as? [String: Any])
        #expect(error["code"] as? String == "list_archived")
        let readBack = try await server.request("GET", "/api/v1/snapshots/\(id)", bearer: token)
        #expect(readBack.status == 200)
        #expect(try jsonObject(readBack.body)["sha256"] as? String == (try jsonObject(earlier.body)["sha256"] as? String))
        let stream = try await server.request("GET", "/api/v1/snapshots/\(id)/recipients", bearer: token)
        #expect(stream.status == 200)
        #expect(stream.body.contains("reader@example.net"))
        let count = try await DatabaseQueue(path: server.workspace.db).read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM snapshots")
        }
        #expect(count == 1)
    }

    // MARK: Sender identity in the sender API

    @Test("GET /api/v1/lists and snapshot metadata carry sender_identity; a snapshot keeps the identity it was taken with")
    func senderIdentityInAPI() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        let token = try server.workspace.listgate("tokens", "create", "--list", "news").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let bare = try jsonObject(try await server.request("GET", "/api/v1/lists", bearer: token).body)
        let bareList = try #require((bare["lists"] as? [[String: Any]])?.first)
        let unset = try #require(bareList["sender_identity"] as? [String: Any])
        #expect(unset.count == 3 && unset.values.allSatisfy { $0 is NSNull }, "every member null when unset")
        #expect(bareList["archived_at"] is NSNull)

        try server.workspace.listgate("lists", "update", "news", "--legal-name", "株式会社サンプル", "--postal-address",
                                      "〒100-0001 東京都千代田区千代田1-1", "--contact", "support@example.org")
        let expected = ["legal_name": "株式会社サンプル", "postal_address": "〒100-0001 東京都千代田区千代田1-1",
                        "contact": "support@example.org"]
        let lists = try jsonObject(try await server.request("GET", "/api/v1/lists", bearer: token).body)
        #expect((lists["lists"] as? [[String: Any]])?.first?["sender_identity"] as? [String: String] == expected)
        let taken = try jsonObject(try await server.request("POST", "/api/v1/lists/news/snapshots", bearer: token).body)
        #expect(taken["sender_identity"] as? [String: String] == expected)

        try server.workspace.listgate("lists", "update", "news", "--legal-name", "別会社")
        let id = try #require(taken["id"] as? String)
        let readBack = try jsonObject(try await server.request("GET", "/api/v1/snapshots/\(id)", bearer: token).body)
        #expect(readBack["sender_identity"] as? [String: String] == expected)
    }
}
