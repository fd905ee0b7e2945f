// One mailbox, one identity, through the built binary (docs/security.md). An attacker
// got a "not me" block, an admin suppression and an erasure around by spelling one inbox
// differently: `"victim"@…` and `"v\ictim"@…` were other people, and `victim+1@…` had
// limits of its own. Quoted spellings are now refused everywhere; +tag spellings share
// the mailbox's limits and the suppressions that stop mail, and are erased with it.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

@Suite("One mailbox, one identity, through the binary", .serialized)
struct OneMailboxTests {
    static let quoted = [#""victim"@example.com"#, #""v\ictim"@example.com"#, #"victim(comment)@example.com"#]

    @Test("quoted, escaped and commented spellings are refused by the form, the CLI and import")
    func quotedSpellingsRefused() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        for spelling in Self.quoted {
            let posted = try await server.request("POST", "/lists/news/subscribe", form: ["email": spelling])
            #expect(posted.status == 422, "\(spelling)")
            let added = try server.workspace.listgate("subscribers", "add", spelling, "--list", "news", "--confirmed")
            #expect(added.status != 0 && added.stderr.contains("error:"), "\(spelling)")
        }
        let file = server.workspace.url.appendingPathComponent("people.csv")
        let quotedRows = Self.quoted.map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\",x" }
        try (["email,name"] + quotedRows + ["fine@example.com,Fine"]).joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let imported = try server.workspace.listgate("import", file.path, "--list", "news", "--consent-note", "paper form", "--json")
        #expect(imported.status == 0, "\(imported.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(imported.stdout.utf8)) as? [String: Any])
        #expect(summary["invalid"] as? Int == 3, "\(imported.stdout)")
        #expect(summary["imported"] as? Int == 1, "\(imported.stdout)")
    }

    @Test("after a \"not me\" block and an admin suppression, +tag spellings get no mail and cannot be added back")
    func tagsAfterBlockAndSuppression() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        // The victim blocks through the link in their own confirmation mail.
        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "victim@example.com"]).status == 200)
        let confirmation = try #require(try await server.sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        let text = try #require(try MailInspector.inspect(confirmation.data).text)
        let block = try #require(text.split(whereSeparator: \.isWhitespace).first { $0.contains("/block/") })
        #expect(try await server.request("POST", String(block)).status == 200)
        // An admin suppresses another mailbox everywhere.
        try server.workspace.listgate("suppressions", "add", "boss@example.com")

        for spelling in ["victim+1@example.com", "Victim+news@Example.com", "boss+x@example.com", "boss+y@example.com"] {
            #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": spelling]).status == 200)
        }
        for spelling in ["victim+2@example.com", "boss+z@example.com"] {
            let added = try server.workspace.listgate("subscribers", "add", spelling, "--list", "news", "--confirmed")
            #expect(added.status != 0 && added.stderr.contains("suppressed"), "\(spelling): \(added.stderr)")
        }
        let file = server.workspace.url.appendingPathComponent("people.csv")
        try "email\nvictim+3@example.com\nboss+w@example.com\n".write(to: file, atomically: true, encoding: .utf8)
        let imported = try server.workspace.listgate("import", file.path, "--list", "news", "--consent-note", "paper form", "--json")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(imported.stdout.utf8)) as? [String: Any])
        #expect(summary["suppressed"] as? Int == 2, "\(imported.stdout)")

        // Every post has been decided; still only the one confirmation reached the server.
        #expect(try await eventually(within: .seconds(10)) { try await undecided(server) == 0 })
        try await Task.sleep(for: .seconds(1))
        #expect(try server.sink.messageCount() == 1)
        #expect(try await server.activeCount() == 0)
    }

    @Test("+tags share the mailbox's cooldown: eight tagged posts in a row cause one mail")
    func tagsShareTheCooldown() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        for tag in 1...8 {
            #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "inbox+\(tag)@example.com"]).status == 200)
        }
        #expect(try await eventually(within: .seconds(10)) { try await undecided(server) == 0 })
        _ = try await server.sink.waitForMessages(count: 1, timeout: .seconds(10))
        try await Task.sleep(for: .seconds(1))
        #expect(try server.sink.messageCount() == 1, "one mailbox, one confirmation within the 15-minute cooldown")
    }

    @Test("forget erases every spelling of the mailbox: no row and no byte of it is left in the database files")
    func forgetLeavesNothing() async throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        try workspace.listgate("lists", "create", "tech", "--name", "Tech", "--from", "tech@example.org")
        try workspace.listgate("subscribers", "add", "carol@example.com", "--list", "news", "--confirmed")
        try workspace.listgate("subscribers", "add", "carol+tech@example.com", "--list", "tech", "--confirmed")
        try workspace.listgate("subscribers", "add", "Carol+Other@example.com", "--list", "news")
        try workspace.listgate("subscribers", "add", "caroline@example.com", "--list", "news", "--confirmed")

        let forgotten = try workspace.listgate("subscribers", "forget", "carol@example.com")
        #expect(forgotten.status == 0, "\(forgotten.stderr)")

        let database = try DatabaseQueue(path: workspace.db)
        let left = try await database.read { db in
            try String.fetchAll(db, sql: "SELECT identity_key FROM addresses ORDER BY identity_key")
        }
        #expect(left == ["caroline@example.com"], "another person with a similar name stays")
        try database.close()
        for suffix in ["", "-wal", "-shm"] {
            let path = workspace.db + suffix
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            for spelling in ["carol@", "carol+tech@", "carol+other@", "Carol+Other@"] {
                #expect(bytes.range(of: Data(spelling.utf8)) == nil, "\(spelling) is still in \(path)")
            }
        }
        // No +tag spelling of the forgotten mailbox comes back through an admin.
        let back = try workspace.listgate("subscribers", "add", "carol+again@example.com", "--list", "news", "--confirmed")
        #expect(back.status != 0 && back.stderr.contains("error:"), "\(back.stderr)")
    }

    @Test("a flood of sign-ups from many addresses cannot stop a receipt: mail is held at the ceiling, never paused")
    func floodCannotStopAReceipt() async throws {
        let server = try await RunningServer(environment: ["LISTGATE_MAIL_CEILING": "20"], baseURLFromPort: true)
        try server.workspace.listgate("subscribers", "add", "reader@example.net", "--list", "news", "--confirmed")
        let token = try server.workspace.listgate("tokens", "create", "--list", "news").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)

        // 5 clients × 20 posts: each within the per-IP limit, together five times the ceiling.
        for client in 2...6 {
            for index in 0..<20 {
                let socket = try LoopbackSocket(port: server.port, source: "127.0.0.\(client)")
                let body = "email=flood\(client)-\(index)%40example.org"
                socket.send("POST /lists/news/subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
                #expect(socket.receiveResponse()?.status == 200)
            }
        }
        #expect(try await eventually(within: .seconds(10)) { try await undecided(server) == 0 })
        // Confirmations take their share of the minute (16 of 20), then are held.
        _ = try await server.sink.waitForMessages(count: 16, timeout: .seconds(10))

        // The reader leaves by the page button of their link: a receipt is due.
        let stream = try await server.request(
            "GET", "/api/v1/snapshots/\(try await snapshotID(server, token: token))/recipients", bearer: token)
        let line = try #require(stream.body.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let link = try #require(object["unsubscribe_url"] as? String)
        #expect(try await server.request("POST", link).status == 200)

        let arrived = try await eventually(within: .seconds(10)) {
            try server.sink.messages().contains { $0.rcptTos == ["reader@example.net"] }
        }
        #expect(arrived, "the receipt went out ahead of the held confirmations")
        #expect(try server.sink.messageCount() < 100, "the rest is held at the ceiling")
        let status = try server.workspace.listgate("outbox", "status", "--json")
        let outbox = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(outbox["paused"] as? Bool == false, "\(status.stdout)")
    }

    func undecided(_ server: RunningServer) async throws -> Int {
        try await DatabaseQueue(path: server.workspace.db).read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM form_requests") ?? -1
        }
    }

    func snapshotID(_ server: RunningServer, token: String) async throws -> String {
        let answer = try await server.request("POST", "/api/v1/lists/news/snapshots", bearer: token)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        return try #require(object["id"] as? String)
    }
}
