// `listgate webhooks inbound add | list | remove` through the built binary: secrets shown
// once and never listed, nothing stored in the clear, every mistake one `error:` line
// that changes nothing.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

@Suite("listgate webhooks inbound")
struct InboundWebhooksCommandTests {
    func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        return workspace
    }

    /// `key: value` lines of an `add`.
    func fields(_ stdout: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in stdout.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    @Test("postmark without --password generates one, shows it once, keeps only its hash and never lists it")
    func postmarkGeneratedPassword() async throws {
        let workspace = try workspace()
        let added = try workspace.listgate("webhooks", "inbound", "add", "postmark", "--list", "news", "--base-url", "https://lists.example.org")
        #expect(added.status == 0, "\(added.stderr)")
        let shown = fields(added.stdout)
        let password = try #require(shown["password"])
        #expect(password.count >= 40)
        #expect(shown["url"] == "https://listgate:\(password)@lists.example.org/webhooks/postmark/news")
        let file = try Data(contentsOf: URL(fileURLWithPath: workspace.db))
        #expect(file.range(of: Data(password.utf8)) == nil, "the password is nowhere in the database file")
        for arguments in [["webhooks", "inbound", "list"], ["webhooks", "inbound", "list", "--json"]] {
            let listed = try Binary.run(arguments + ["--db", workspace.db])
            #expect(listed.status == 0)
            #expect(listed.stdout.contains(try #require(shown["id"])))
            #expect(!listed.stdout.contains(password))
        }
    }

    @Test("mailgun's signing key is shown nowhere after add and stored sealed")
    func mailgunKey() async throws {
        let workspace = try workspace()
        let key = "key-0123456789abcdef0123456789abcdef"
        let added = try workspace.listgate("webhooks", "inbound", "add", "mailgun", "--list", "news", "--signing-key", key)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(!added.stdout.contains(key))
        let listed = try workspace.listgate("webhooks", "inbound", "list", "--json")
        #expect(!listed.stdout.contains(key))
        let file = try Data(contentsOf: URL(fileURLWithPath: workspace.db))
        #expect(file.range(of: Data(key.utf8)) == nil, "the key is nowhere in the database file in the clear")
    }

    @Test("list --json shows each source's id, provider, list and non-secret detail; remove records an event")
    func listAndRemove() async throws {
        let workspace = try workspace()
        let arn = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
        let added = try workspace.listgate("webhooks", "inbound", "add", "ses", "--list", "news", "--topic-arn", arn)
        #expect(added.status == 0, "\(added.stderr)")
        let id = try #require(fields(added.stdout)["id"])
        #expect(fields(added.stdout)["url"] == "http://127.0.0.1:8080/webhooks/ses/news")
        let listed = try #require(
            try JSONSerialization.jsonObject(with: Data(workspace.listgate("webhooks", "inbound", "list", "--json").stdout.utf8)) as? [[String: Any]])
        #expect(listed.count == 1)
        #expect(listed.first?["id"] as? String == id)
        #expect(listed.first?["provider"] as? String == "ses")
        #expect(listed.first?["list"] as? String == "news")
        #expect(listed.first?["topic_arn"] as? String == arn)

        let removed = try workspace.listgate("webhooks", "inbound", "remove", id)
        #expect(removed.status == 0)
        #expect(removed.stdout == "inbound webhook \(id) removed\n")
        let again = try workspace.listgate("webhooks", "inbound", "remove", id)
        #expect(again.status != 0)
        #expect(again.lastErrorLine == "error: no inbound webhook with id '\(id)'")
        let events = try workspace.rows("SELECT type, detail FROM events WHERE type LIKE 'webhook_source_%' ORDER BY id")
        #expect(events.map { $0["type"] as String } == ["webhook_source_added", "webhook_source_removed"])
        #expect(events.allSatisfy { ($0["detail"] as String).contains(id) })
    }

    @Test("sendgrid takes the verification key SendGrid shows; anything else is refused")
    func sendgridKey() async throws {
        let workspace = try workspace()
        let bad = try workspace.listgate("webhooks", "inbound", "add", "sendgrid", "--list", "news", "--public-key", "bm90IGEga2V5")
        #expect(bad.status != 0)
        #expect(bad.lastErrorLine?.hasPrefix("error: --public-key must be") == true)
        let good = try workspace.listgate("webhooks", "inbound", "add", "sendgrid", "--list", "news", "--public-key", SendGridSigner().publicKey)
        #expect(good.status == 0, "\(good.stderr)")
    }

    @Test("mistakes are one error line, a non-zero exit, and no change", arguments: [
        (["add", "sparkpost", "--list", "news"], "error: unknown provider 'sparkpost': use ses, sendgrid, mailgun, postmark"),
        (["add", "ses", "--list", "nope"], "error: no list named 'nope'"),
        (["add", "mailgun", "--list", "news"], "error: mailgun needs --signing-key (the HTTP webhook signing key)"),
        (["add", "sendgrid", "--list", "news"], "error: sendgrid needs --public-key (the Signed Event Webhook's verification key)"),
        (["add", "ses", "--list", "news", "--signing-key", "k"], "error: --signing-key is for mailgun, not ses"),
        (["add", "postmark", "--list", "news", "--password", "short"],
         "error: --password must be 16–200 printable characters without ':', '@' or '/' (or leave it out to have one generated)"),
        (["add", "ses", "--list", "news", "--topic-arn", "not an arn"],
         "error: --topic-arn must be an SNS topic ARN, e.g. arn:aws:sns:us-east-1:123456789012:ses-feedback"),
        (["remove", "wh_missing"], "error: no inbound webhook with id 'wh_missing'"),
    ])
    func mistakes(arguments: [String], error: String) async throws {
        let workspace = try workspace()
        let before = try workspace.dump()
        let result = try Binary.run(["webhooks", "inbound"] + arguments + ["--db", workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine == error)
        #expect(try workspace.dump() == before)
    }

    @Test("a second source of the same provider for the same list is refused, naming the first")
    func duplicate() async throws {
        let workspace = try workspace()
        let first = try workspace.listgate("webhooks", "inbound", "add", "ses", "--list", "news")
        let id = try #require(fields(first.stdout)["id"])
        let second = try workspace.listgate("webhooks", "inbound", "add", "ses", "--list", "news")
        #expect(second.status != 0)
        #expect(second.lastErrorLine == "error: list 'news' already takes ses webhooks (id \(id)); remove it first to replace it")
    }
}
