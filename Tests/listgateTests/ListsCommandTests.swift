// `listgate lists create | list | show`, end to end through the built binary.
import Foundation
import GRDB
import Testing

@Suite("listgate lists")
struct ListsCommandTests {
    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test("create, then list --json shows the list with its fields and zero counts")
    func createThenList() throws {
        let workspace = try Workspace().migrated()
        let created = try workspace.listgate(
            "lists", "create", "news", "--name", "週刊お知らせ", "--from", "編集部 <news@example.org>",
            "--locale", "ja", "--reply-to", "support@example.org", "--allow-address", "help@example.org")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("created list 'news'"))

        let listed = try workspace.listgate("lists", "list", "--json")
        #expect(listed.status == 0)
        let lists = try #require(try json(listed.stdout) as? [[String: Any]])
        #expect(lists.count == 1)
        let list = lists[0]
        #expect(list["slug"] as? String == "news")
        #expect(list["name"] as? String == "週刊お知らせ")
        #expect(list["from_email"] as? String == "news@example.org")
        #expect(list["reply_to"] as? String == "support@example.org")
        #expect(list["locale"] as? String == "ja")
        #expect(list["allowed_addresses"] as? [String] == ["help@example.org"])
        let counts = try #require(list["counts"] as? [String: Int])
        #expect(counts["active"] == 0)
        #expect(counts["pending"] == 0)
    }

    @Test("show --json gives one list; show of an unknown slug is an error")
    func show() throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "en-news", "--name", "News", "--from", "news@example.org", "--locale", "en")
        let shown = try workspace.listgate("lists", "show", "en-news", "--json")
        #expect(shown.status == 0)
        let list = try #require(try json(shown.stdout) as? [String: Any])
        #expect(list["locale"] as? String == "en")
        #expect(list["reply_to"] is NSNull)

        let missing = try workspace.listgate("lists", "show", "nope")
        #expect(missing.status != 0)
        #expect(missing.lastErrorLine == "error: no list named 'nope'")
    }

    @Test("the human-readable list is a table with the list's row")
    func humanList() throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "お知らせ", "--from", "news@example.org")
        let listed = try workspace.listgate("lists", "list")
        let lines = listed.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("SLUG") == true)
        #expect(lines.count == 2)
        #expect(lines.last?.hasPrefix("news  お知らせ") == true)
    }

    @Test("the default locale is ja")
    func defaultLocale() throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "お知らせ", "--from", "news@example.org")
        let list = try #require(try json(workspace.listgate("lists", "show", "news", "--json").stdout) as? [String: Any])
        #expect(list["locale"] as? String == "ja")
    }

    @Test("--allow-origin is stored and shown as a browser sends it: lower case, no default port, no slash")
    func allowOriginNormalised() throws {
        let workspace = try Workspace().migrated()
        let created = try workspace.listgate(
            "lists", "create", "news", "--name", "News", "--from", "news@example.org",
            "--allow-origin", "https://X.example:443/", "--allow-origin", "http://Shop.example:8080",
            "--allow-origin", "https://例え.jp")
        #expect(created.status == 0, "\(created.stderr)")
        let origins = ["https://x.example", "http://shop.example:8080", "https://xn--r8jz45g.jp"]
        let list = try #require(try json(workspace.listgate("lists", "show", "news", "--json").stdout) as? [String: Any])
        #expect((list["allowed_origins"] as? [String])?.sorted() == origins.sorted())
        let shown = try workspace.listgate("lists", "show", "news").stdout
        let line = try #require(shown.split(separator: "\n").first { $0.hasPrefix("allowed origins") })
        #expect(Set(line.dropFirst("allowed origins".count).split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }) == Set(origins), "\(line)")
        let stored = try DatabaseQueue(path: workspace.db).read { db in
            try String.fetchAll(db, sql: "SELECT origin FROM list_allowed_origins ORDER BY origin")
        }
        #expect(stored == origins.sorted())
    }

    @Test("an --allow-origin that is not an origin says what is wrong with it")
    func allowOriginError() throws {
        let workspace = try Workspace().migrated()
        let result = try workspace.listgate(
            "lists", "create", "news", "--name", "News", "--from", "news@example.org", "--allow-origin", "https://x.example/path")
        #expect(result.status != 0)
        #expect(result.lastErrorLine
            == "error: invalid origin for --allow-origin: an origin has no path; use scheme://host[:port], e.g. https://www.example.org")
    }

    /// Each bad invocation must print `error: …` last, exit non-zero, and change nothing.
    static let badCreates: [(arguments: [String], error: String)] = [
        (["news", "--name", "Dup", "--from", "a@example.org"], "error: a list named 'news' already exists"),
        (["News", "--name", "x", "--from", "a@example.org"], "error: invalid list slug 'News'"),
        (["-x", "--name", "x", "--from", "a@example.org"], "error: "),
        (["ok", "--name", "x", "--from", "a@example.org, b@example.org"], "error: invalid --from"),
        (["ok", "--name", "x", "--from", "A <a@example.org>, B <b@example.org>"], "error: invalid --from"),
        (["ok", "--name", "x", "--from", "a@example.org\r\nBcc: b@example.org"], "error: invalid --from"),
        (["ok", "--name", "x", "--from", "not an address"], "error: invalid --from"),
        (["ok", "--name", "x", "--from", "a@example.org", "--reply-to", "X <b@example.org>"], "error: invalid --reply-to"),
        (["ok", "--name", "x", "--from", "a@example.org", "--allow-address", "b@example.org;c@example.org"],
         "error: invalid --allow-address"),
        (["ok", "--name", "x", "--from", "a@example.org", "--locale", "fr"], "error: "),
        (["ok", "--name", "", "--from", "a@example.org"], "error: invalid list name"),
        (["ok", "--name", "two\nlines", "--from", "a@example.org"], "error: invalid list name"),
        (["ok", "--from", "a@example.org"], "error: "),
        (["ok", "--name", "x", "--from", "a@example.org", "--allow-origin", "javascript:alert(1)"], "error: invalid origin"),
        (["ok", "--name", "x", "--from", "a@example.org", "--allow-origin", "https://x.example/path"], "error: invalid origin"),
        (["ok", "--name", "x"], "error: "),
        (["ok", "--name", "x", "--from", "a@example.org", "--thanks-url", "javascript:alert(1)"], "error: --thanks-url: invalid page URL"),
        (["ok", "--name", "x", "--from", "a@example.org", "--privacy-url", "www.example.co.jp/privacy"], "error: --privacy-url: invalid page URL"),
        (["ok", "--name", "x", "--from", "a@example.org", "--confirmed-url", "https://x.jp/a\r\nSet-Cookie: a=b"],
         "error: --confirmed-url: invalid page URL"),
        (["ok", "--name", "x", "--from", "a@example.org", "--unsubscribed-url", "https://user:pw@x.jp/"],
         "error: --unsubscribed-url: invalid page URL"),
    ]

    @Test("bad input to lists create is an error and changes nothing", arguments: badCreates)
    func badCreate(_ arguments: [String], _ error: String) throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "お知らせ", "--from", "news@example.org")
        let before = try workspace.listgate("lists", "list", "--json").stdout
        let eventsBefore = try eventCount(workspace)

        let result = try Binary.run(["lists", "create"] + arguments + ["--db", workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix(error) == true, "last stderr line: \(result.lastErrorLine ?? "none")")
        #expect(try workspace.listgate("lists", "list", "--json").stdout == before)
        #expect(try eventCount(workspace) == eventsBefore)
    }

    func eventCount(_ workspace: Workspace) throws -> Int {
        try DatabaseQueue(path: workspace.db).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM events") ?? -1 }
    }

    @Test("--help explains the command and exits 0")
    func help() throws {
        let result = try Binary.run(["lists", "create", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--allow-address"))
        #expect(result.stdout.contains("--reply-to"))
    }
}
