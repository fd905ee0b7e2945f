// `listgate lists create|update --thanks-url/--confirmed-url/--unsubscribed-url/--privacy-url`,
// through the built binary: what is stored and shown, what the ledger records, what is
// refused, and that a running server follows a change.
import Foundation
import GRDB
import Testing

@Suite("listgate lists update: the company's pages", .serialized)
struct ListUpdateCommandTests {

    @Test("create stores the four pages; show and show --json give them")
    func createWithPages() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews("--thanks-url", "https://www.example.co.jp/newsletter/thanks", "--confirmed-url",
                 "HTTPS://www.example.co.jp/welcome", "--unsubscribed-url", "https://www.example.co.jp/bye?from=mail",
                 "--privacy-url", "https://www.example.co.jp/privacy")
        let list = try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)
        #expect(list["thanks_url"] as? String == "https://www.example.co.jp/newsletter/thanks")
        #expect(list["confirmed_url"] as? String == "https://www.example.co.jp/welcome", "scheme in lower case")
        #expect(list["unsubscribed_url"] as? String == "https://www.example.co.jp/bye?from=mail")
        #expect(list["privacy_url"] as? String == "https://www.example.co.jp/privacy")
        let shown = try workspace.listgate("lists", "show", "news").stdout
        let line = shown.split(separator: "\n").first { $0.hasPrefix("privacy policy ") }
        #expect(line?.split(separator: " ").last == "https://www.example.co.jp/privacy", "\(shown)")
    }

    @Test("without pages, show --json says null for each")
    func noPages() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let list = try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)
        for field in ["thanks_url", "confirmed_url", "unsubscribed_url", "privacy_url"] {
            #expect(list[field] is NSNull, "\(field)")
        }
    }

    @Test("update prints each change and records one list_updated event with before and after")
    func updatePrintsAndRecords() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews("--privacy-url", "https://www.example.co.jp/privacy")
        let updated = try workspace.listgate(
            "lists", "update", "news", "--thanks-url", "https://www.example.co.jp/thanks", "--privacy-url", "")
        #expect(updated.status == 0, "\(updated.stderr)")
        #expect(updated.stdout == """
            thanks_url: (none) -> https://www.example.co.jp/thanks
            privacy_url: https://www.example.co.jp/privacy -> (none)

            """)
        let events = try DatabaseQueue(path: workspace.db).read { db in
            try String.fetchAll(db, sql: "SELECT detail FROM events WHERE type = 'list_updated'")
        }
        #expect(events.count == 1)
        let first = try #require(events.first)
        let detail = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: String]
        #expect(detail == [
            "thanks_url.before": "", "thanks_url.after": "https://www.example.co.jp/thanks",
            "privacy_url.before": "https://www.example.co.jp/privacy", "privacy_url.after": "",
        ])
        let list = try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)
        #expect(list["privacy_url"] is NSNull)
    }

    @Test("an update to what is already there says so and records nothing")
    func unchangedUpdate() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews("--thanks-url", "https://www.example.co.jp/thanks")
        let again = try workspace.listgate("lists", "update", "news", "--thanks-url", "https://www.example.co.jp/thanks")
        #expect(again.status == 0)
        #expect(again.stdout.contains("unchanged"))
        let events = try DatabaseQueue(path: workspace.db).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE type = 'list_updated'")
        }
        #expect(events == 0)
    }

    static let badUpdates: [(arguments: [String], error: String)] = [
        (["news"], "error: nothing to change"),
        (["nope", "--thanks-url", "https://x.jp/"], "error: no list named 'nope'"),
        (["news", "--thanks-url", "ftp://x.jp/"], "error: --thanks-url: invalid page URL"),
        (["news", "--thanks-url", "https://x.jp/ok", "--privacy-url", "https://x.jp/a b"], "error: --privacy-url: invalid page URL"),
        (["news", "--confirmed-url", "https:///path-only"], "error: --confirmed-url: invalid page URL"),
        (["news", "--privacy-url", "https://x.jp/contact?to=info@x.jp"], "error: --privacy-url: invalid page URL"),
    ]

    @Test("bad input to lists update is an error and changes nothing", arguments: badUpdates)
    func badUpdate(_ arguments: [String], _ error: String) throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let before = try workspace.listgate("lists", "show", "news", "--json").stdout
        let result = try Binary.run(["lists", "update"] + arguments + ["--db", workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix(error) == true, "last stderr line: \(result.lastErrorLine ?? "none")")
        #expect(try workspace.listgate("lists", "show", "news", "--json").stdout == before)
    }

    @Test("a running server follows lists update within a second or so")
    func runningServerFollows() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        defer { withExtendedLifetime(server) {} }
        let before = try await server.request("POST", "/lists/news/subscribe", form: ["email": "a@example.net"])
        #expect(before.status == 200)
        #expect(before.body.contains("<html"))
        // The thanks page is the server's own /healthz, so following the 303 shows "ok".
        let updated = try server.workspace.listgate("lists", "update", "news", "--thanks-url", "\(server.base)/healthz")
        #expect(updated.status == 0, "\(updated.stderr)")
        let changedAt = ContinuousClock.now
        var redirected = false
        while !redirected, ContinuousClock.now - changedAt < .seconds(5) {
            let posted = try await server.request("POST", "/lists/news/subscribe", form: ["email": "b@example.net"])
            redirected = posted.body == "ok\n"
            if !redirected { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(redirected, "the form post went on to the new thanks page")
    }
}
