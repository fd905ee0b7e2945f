// `listgate webhooks add|list|remove|deliveries|retry` through the built binary.
import Foundation
import GRDB
import Testing

extension Workspace {
    /// `webhooks add URL --list news [--event …]`: the webhook's id and its secret.
    func addWebhook(_ url: String, events: [String] = []) throws -> (id: String, secret: String) {
        let result = try Binary.run(
            ["webhooks", "add", url, "--list", "news", "--db", db] + events.flatMap { ["--event", $0] })
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let id = try #require(lines.first?.split(separator: " ").dropFirst().first.map(String.init))
        let secret = try #require(lines.last)
        return (id, secret)
    }
}

@Suite("webhooks command", .serialized)
struct WebhooksCommandTests {
    @Test("add prints the id and a whsec_ secret of 24 bytes once; list shows the webhook and never the secret")
    func addAndList() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let (id, secret) = try workspace.addWebhook("https://crm.example.com/hooks/listgate", events: ["subscribed", "unsubscribed"])
        #expect(id.hasPrefix("wh_"))
        #expect(secret.hasPrefix("whsec_") && Data(base64Encoded: String(secret.dropFirst(6)))?.count == 24)
        let list = try workspace.listgate("webhooks", "list", "--json")
        #expect(list.status == 0)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries.first?["id"] as? String == id)
        #expect(entries.first?["events"] as? [String] == ["subscribed", "unsubscribed"])
        #expect(!list.stdout.contains(secret) && !list.stdout.contains(String(secret.dropFirst(6))))
        #expect(try !workspace.dump().contains(String(secret.dropFirst(6))), "the secret is not stored as it was shown")
    }

    @Test("add and remove are ledger events naming the webhook and the URL's host, never the secret or the path")
    func ledgerEvents() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let (id, secret) = try workspace.addWebhook("https://crm.example.com/hooks/token-in-path")
        let removed = try workspace.listgate("webhooks", "remove", id)
        #expect(removed.status == 0, "\(removed.stderr)")
        let events = try workspace.rows("SELECT type, detail FROM events WHERE type LIKE 'webhook_%' ORDER BY id")
        #expect(events.map { $0["type"] as String } == ["webhook_added", "webhook_removed"])
        for event in events {
            let detail: String = event["detail"]
            #expect(detail.contains(id) && detail.contains("crm.example.com"))
            #expect(!detail.contains("token-in-path") && !detail.contains(String(secret.dropFirst(6))))
        }
        let list = try workspace.listgate("webhooks", "list")
        #expect(list.stdout.contains("removed"))
        #expect(try workspace.listgate("webhooks", "remove", id).status != 0, "removing twice is an error")
    }

    @Test("a URL that is not http(s) with a host is an error: and nothing changes", arguments: [
        "ftp://crm.example.com/hooks", "file:///etc/passwd", "http://", "crm.example.com/hooks", "javascript:alert(1)",
        "http://user:password@crm.example.com/",
    ])
    func badURL(_ url: String) throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let before = try workspace.dump()
        let result = try workspace.listgate("webhooks", "add", url, "--list", "news")
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: invalid webhook URL") == true, "\(result.stderr)")
        #expect(try workspace.dump() == before)
    }

    @Test("an unknown --event, list or id is an error")
    func unknowns() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let event = try workspace.listgate("webhooks", "add", "https://crm.example.com/", "--list", "news", "--event", "opened")
        #expect(event.status != 0 && event.lastErrorLine?.contains("unknown event type 'opened'") == true)
        let list = try workspace.listgate("webhooks", "add", "https://crm.example.com/", "--list", "missing")
        #expect(list.status != 0 && list.lastErrorLine?.hasPrefix("error:") == true)
        let remove = try workspace.listgate("webhooks", "remove", "wh_0000000000000000")
        #expect(remove.status != 0 && remove.lastErrorLine?.hasPrefix("error: no webhook") == true)
        let retry = try workspace.listgate("webhooks", "retry", "msg_000000000000000000000000")
        #expect(retry.status != 0 && retry.lastErrorLine?.hasPrefix("error: no delivery") == true)
    }

    @Test("deliveries lists what a change queued, without the address; retry of a delivered one is refused")
    func deliveriesListing() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        _ = try workspace.addWebhook("http://127.0.0.1:9/hooks")
        #expect(try workspace.listgate("subscribers", "add", "taro@example.jp", "--list", "news", "--confirmed").status == 0)
        let listed = try workspace.listgate("webhooks", "deliveries", "--json")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 1 && entries.first?["type"] as? String == "subscribed" && entries.first?["status"] as? String == "pending")
        #expect(!listed.stdout.contains("taro"))
        #expect(try workspace.listgate("webhooks", "deliveries", "--failed").stdout.contains("no failed deliveries"))
        let id = try #require(entries.first?["id"] as? String)
        try DatabaseQueue(path: workspace.db).write {
            try $0.execute(sql: "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = '2026-11-21T09:30:00.000Z'")
        }
        let retry = try workspace.listgate("webhooks", "retry", id)
        #expect(retry.status != 0 && retry.lastErrorLine == "error: delivery \(id) was already delivered")
    }

    @Test("--help explains every subcommand")
    func help() throws {
        let help = try Binary.run(["webhooks", "--help"])
        for word in ["add", "list", "remove", "deliveries", "retry", "Standard Webhooks"] {
            #expect(help.stdout.contains(word), "\(word)")
        }
        let add = try Binary.run(["webhooks", "add", "--help"])
        #expect(add.stdout.contains("--event") && add.stdout.contains("whsec_"))
    }
}
