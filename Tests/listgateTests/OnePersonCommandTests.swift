// One person, whole, through the built binary (README, "One person, whole"): the three
// questions support gets every week. "I never got the confirmation mail" (`subscribers
// find` shows the request and its mail's state), "why does this person get nothing?"
// (`find` shows suppressions), and "prove that this person consented" / "send me
// everything you hold on me" (`subscribers history`, `subscribers export`, `consent show`,
// with the wording archived so it outlives template edits).
import Foundation
import GRDB
import ListgateTestSupport
import Testing

/// Helpers for this file's suites.
private enum Person {
    /// A migrated workspace with the list `news`.
    static func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        let created = try workspace.listgate("lists", "create", "news", "--name", "週刊お知らせ", "--from", "編集部 <news@example.org>")
        guard created.status == 0 else { throw WorkspaceError(message: created.stderr) }
        return workspace
    }

    static func json(_ result: CommandResult) throws -> Any {
        guard result.status == 0 else { throw WorkspaceError(message: "exit \(result.status): \(result.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    static func find(_ workspace: Workspace, _ email: String) throws -> [[String: Any]] {
        try #require(try json(workspace.listgate("subscribers", "find", email, "--json")) as? [[String: Any]])
    }

    static func history(_ workspace: Workspace, _ email: String) throws -> [[String: Any]] {
        try #require(try json(workspace.listgate("subscribers", "history", email, "--json")) as? [[String: Any]])
    }

    /// `subscribers export` into a file of the workspace, read back.
    static func export(_ workspace: Workspace, _ email: String, file: String = "person.json") throws -> [String: Any] {
        let path = workspace.url.appendingPathComponent(file).path
        let result = try workspace.listgate("subscribers", "export", email, "--output", path)
        guard result.status == 0 else { throw WorkspaceError(message: result.stderr) }
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }



    /// The link in a received confirmation mail that contains `path` (`/confirm/`, `/block/`).
    static func link(_ message: ReceivedMessage, containing path: String) throws -> String {
        let text = try #require(try MailInspector.inspect(message.data).text)
        return String(try #require(text.split(whereSeparator: \.isWhitespace).first { $0.contains(path) }))
    }
}

@Suite("One person, whole, with a running server", .serialized)
struct OnePersonServerTests {
    @Test("a pending request shows in find with its mail queued while sending is paused, then sent")
    func pendingRequestAndItsMail() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        #expect(try server.workspace.listgate("outbox", "pause", "--reason", "test").status == 0)
        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "carol@example.com", "name": "キャロル"]).status == 200)

        var row: [String: Any] = [:]
        #expect(try await eventually(within: .seconds(10)) {
            row = try Person.find(server.workspace, "Carol@Example.com").first ?? [:]
            return row["status"] as? String == "pending"
        })
        #expect(row["list"] as? String == "news")
        #expect(row["name"] as? String == "キャロル")
        #expect(row["mail"] as? String == "queued")
        let requested = try #require(row["requested_at"] as? String)
        #expect(row["updated_at"] as? String == requested)
        #expect(row["expires_at"] as? String ?? "" > requested)
        let queued = try server.workspace.listgate("subscribers", "find", "carol@example.com")
        #expect(queued.stdout.contains("carol@example.com has a pending request on news since \(requested)"), "\(queued.stdout)")
        #expect(queued.stdout.contains("its confirmation mail is queued and not sent yet"), "\(queued.stdout)")

        #expect(try server.workspace.listgate("outbox", "resume").status == 0)
        _ = try await server.sink.waitForMessages(count: 1, timeout: .seconds(10))
        #expect(try await eventually(within: .seconds(10)) {
            row = try Person.find(server.workspace, "carol@example.com").first ?? [:]
            return row["mail"] as? String == "sent"
        })
        let sentAt = try #require(row["mail_sent_at"] as? String)
        let sent = try server.workspace.listgate("subscribers", "find", "carol@example.com")
        #expect(sent.stdout.contains("its confirmation mail was sent at \(sentAt)"), "\(sent.stdout)")
    }

    @Test("an admin suppression on every list and a \"not me\" block on a list both show in find")
    func suppressionsShowInFind() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        let workspace = server.workspace
        #expect(try workspace.listgate("suppressions", "add", "carol@example.com").status == 0)
        let carol = try Person.find(workspace, "carol@example.com")
        #expect(carol.count == 1)
        #expect(carol.first?["list"] is NSNull)
        #expect(carol.first?["status"] as? String == "suppressed")
        #expect(carol.first?["reason"] as? String == "admin")
        let since = try #require(carol.first?["since"] as? String)
        let plain = try workspace.listgate("subscribers", "find", "carol@example.com")
        #expect(plain.stdout == "carol@example.com is suppressed on every list (admin) since \(since)\n")

        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "dave@example.com"]).status == 200)
        let mail = try #require(try await server.sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        #expect(try await server.request("POST", try Person.link(mail, containing: "/block/")).status == 200)
        let dave = try Person.find(workspace, "dave@example.com")
        #expect(dave.map { "\($0["list"] ?? "")/\($0["status"] ?? "")/\($0["reason"] ?? "")" } == ["news/suppressed/blocked"])
        let said = try workspace.listgate("subscribers", "find", "dave@example.com").stdout
        #expect(said.hasPrefix("dave@example.com is suppressed on news (blocked) since "), "\(said)")
    }

    @Test("the export holds the exact wording of the mail the person got, also after the template changed; consent show prints it")
    func wordingOutlivesTheTemplate() async throws {
        let workspace = try Person.workspace()
        let forms = try FormsFolder()
        let builtIn = try FormsFolder.builtIn("mail/confirmation.ja.text.mustache")
        let first = builtIn.replacingOccurrences(
            of: "「{{list_name}}」への登録のお申し込みを受け付けました。", with: "「{{list_name}}」へのご登録、ありがとうございます（第一版）。")
        let second = builtIn.replacingOccurrences(
            of: "「{{list_name}}」への登録のお申し込みを受け付けました。", with: "「{{list_name}}」のお知らせをお届けします（第二版）。")
        #expect(first != builtIn && second != builtIn)
        let sink = try SMTPSink.start()

        try forms.write("mail/confirmation.ja.text.mustache", first)
        var server: ServeProcess? = try await ServeProcess(workspace, arguments: ["--smtp-url", sink.url, "--forms-dir", forms.path])
        #expect(await FormPoster().post("\(server!.base)/lists/news/subscribe", ["email": "erin@example.jp"]) == 200)
        let received = try #require(try await sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        #expect(try MailInspector.inspect(received.data).text?.contains("ありがとうございます（第一版）") == true)
        server = nil

        try forms.write("mail/confirmation.ja.text.mustache", second)
        server = try await ServeProcess(workspace, arguments: ["--smtp-url", sink.url, "--forms-dir", forms.path])
        #expect(await FormPoster().post("\(server!.base)/lists/news/subscribe", ["email": "frank@example.jp"]) == 200)
        _ = try await sink.waitForMessages(count: 2, timeout: .seconds(10))
        server = nil

        let document = try Person.export(workspace, "erin@example.jp")
        let requests = try #require(document["requests"] as? [[String: Any]])
        let version = try #require(requests.first?["consent_version"] as? String)
        let wordings = try #require(document["consent_wordings"] as? [[String: Any]])
        #expect(wordings.map { $0["version"] as? String } == [version])
        #expect(wordings.first?["intact"] as? Bool == true)
        let parts = try #require(wordings.first?["parts"] as? [[String: String]])
        let text = parts.first { $0["name"] == "mail/confirmation.ja.text" }?["text"]
        #expect(text == first, "the mail's text template exactly as it was when erin got it")
        #expect(parts.contains { $0["name"] == "pages/subscribe.ja" }, "the subscribe page is part of the wording")
        let mail = try #require(document["mail"] as? [[String: Any]])
        #expect(mail.map { $0["consent_version"] as? String } == [version])
        #expect(mail.first?["state"] as? String == "sent")
        #expect((mail.first?["message_id"] as? String)?.hasPrefix("<") == true)

        let shown = try workspace.listgate("consent", "show", version)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("ありがとうございます（第一版）"))
        #expect(!shown.stdout.contains("第二版"))
        #expect(shown.stdout.contains("the texts below hash to this version"))
        let frank = try #require(try Person.history(workspace, "frank@example.jp").first { $0["type"] as? String == "requested" })
        #expect(frank["consent_version"] as? String != version, "the new wording has a version of its own")
    }
}

@Suite("One person, whole, from the command line")
struct OnePersonCommandTests {
    @Test("history of one person shows their events, oldest first, and none of another's")
    func historyIsOnePersons() throws {
        let workspace = try Person.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        try workspace.listgate("subscribers", "add", "bob@example.org", "--list", "news", "--confirmed")
        try workspace.listgate("subscribers", "remove", "ada@example.org", "--list", "news")
        try workspace.listgate("suppressions", "add", "bob@example.org")
        let ada = try Person.history(workspace, "ADA@example.org")
        #expect(ada.map { $0["type"] as? String } == ["subscriber_added", "unsubscribed", "suppressed"])
        #expect(ada.allSatisfy { $0["list"] as? String == "news" && $0["source"] as? String == "cli" })
        let ids = ada.compactMap { $0["id"] as? Int }
        #expect(ids == ids.sorted())
        let bob = try Person.history(workspace, "bob@example.org")
        #expect(Set(bob.compactMap { $0["id"] as? Int }).isDisjoint(with: ids))

        let exported = try workspace.listgate("export", "events", "--email", "ada@example.org", "--format", "ndjson")
        #expect(exported.status == 0, "\(exported.stderr)")
        let lines = exported.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.map { $0?["id"] as? Int } == ids.map { Optional($0) }, "the same rows in the export format")
    }

    @Test("export records a data_exported event under the person's keyed hash, and the document lists it")
    func exportIsRecorded() throws {
        let workspace = try Person.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--name", "エイダ", "--confirmed")
        let document = try Person.export(workspace, "ada@example.org")
        let events = try workspace.rows("SELECT type, address_hash FROM events WHERE address_hash IS NOT NULL ORDER BY id")
        #expect(events.map { $0["type"] as String } == ["subscriber_added", "data_exported"])
        #expect(Set(events.map { $0["address_hash"] as String }) == [document["address_hash"] as? String])
        let listed = try #require(document["events"] as? [[String: Any]])
        #expect(listed.last?["type"] as? String == "data_exported")
        let subscriptions = try #require(document["subscriptions"] as? [[String: Any]])
        #expect(subscriptions.first?["name"] as? String == "エイダ")
        #expect(document["note"] is NSNull)
    }

    @Test("the export file is its owner's only, and an existing file is not replaced without --force")
    func exportFileIsPrivate() throws {
        let workspace = try Person.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        let path = workspace.url.appendingPathComponent("ada.json").path
        #expect(try workspace.listgate("subscribers", "export", "ada@example.org", "--output", path).status == 0)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0)
        try "someone else's".write(toFile: path, atomically: true, encoding: .utf8)
        let before = try workspace.dump()
        let refused = try workspace.listgate("subscribers", "export", "ada@example.org", "--output", path)
        #expect(refused.status != 0)
        #expect(refused.lastErrorLine == "error: \(path) already exists; choose another file or give --force to replace it")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "someone else's")
        #expect(try workspace.dump() == before, "no data_exported event for a disclosure that was not written")
        #expect(try workspace.listgate("subscribers", "export", "ada@example.org", "--output", path, "--force").status == 0)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("\"address\" : \"ada@example.org\""))
    }

    @Test("the export of a forgotten address holds nothing personal, and says so")
    func forgottenExport() throws {
        let workspace = try Person.workspace()
        try workspace.listgate("subscribers", "add", "zeb@example.org", "--list", "news", "--name", "ゼブロン", "--confirmed")
        #expect(try workspace.listgate("subscribers", "forget", "zeb@example.org").status == 0)
        let path = workspace.url.appendingPathComponent("zeb.json").path
        let result = try workspace.listgate("subscribers", "export", "zeb@example.org", "--output", path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("zeb@example.org was erased: listgate holds nothing personal on it"), "\(result.stdout)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(document["forgotten"] as? Bool == true)
        #expect((document["note"] as? String)?.contains("erased") == true)
        for key in ["subscriptions", "requests", "mail", "snapshot_entries"] {
            #expect((document[key] as? [Any])?.isEmpty == true, "\(key)")
        }
        #expect(!text.contains("ゼブロン"))
        #expect(text.components(separatedBy: "zeb@example.org").count == 2, "only the address asked about, once")
        let find = try workspace.listgate("subscribers", "find", "zeb@example.org")
        #expect(find.stdout.contains("is suppressed on every list (forgotten)") && find.stdout.contains("only its keyed hash is kept"))
    }

    @Test("find, history and export of an address never seen say so plainly and exit 0")
    func neverSeen() throws {
        let workspace = try Person.workspace()
        let find = try workspace.listgate("subscribers", "find", "nobody@example.org")
        #expect(find.status == 0)
        #expect(find.stdout == "listgate holds nothing on nobody@example.org: it is on no list, has no pending request and is not suppressed\n")
        #expect(try Person.find(workspace, "nobody@example.org").isEmpty)
        let history = try workspace.listgate("subscribers", "history", "nobody@example.org")
        #expect(history.status == 0)
        #expect(history.stdout == "the ledger holds no event about nobody@example.org\n")
        let export = try workspace.listgate("subscribers", "export", "nobody@example.org")
        #expect(export.status == 0)
        #expect(export.stderr.hasPrefix("note: listgate holds nothing personal on nobody@example.org"), "\(export.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
        #expect((document["subscriptions"] as? [Any])?.isEmpty == true)
    }

    @Test("consent show of a version recorded before the archive says its text was not kept")
    func versionBeforeTheArchive() throws {
        let workspace = try Person.workspace()
        // As an older listgate recorded it: a version in the ledger, no wording stored.
        try DatabaseQueue(path: workspace.db).write { db in
            try db.execute(sql: """
                INSERT INTO events (occurred_at, type, source, consent_version, detail)
                VALUES ('2025-01-01T00:00:00.000Z', 'requested', 'form', '00112233aabbccdd', '{}')
                """)
        }
        let shown = try workspace.listgate("consent", "show", "00112233aabbccdd")
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout == "consent version 00112233aabbccdd was first recorded at 2025-01-01T00:00:00.000Z, before listgate archived wordings: its text was not kept\n")
    }

    @Test("archived wordings cannot be changed or deleted")
    func wordingsAreAppendOnly() throws {
        let workspace = try Person.workspace()
        try DatabaseQueue(path: workspace.db).write { db in
            try db.execute(sql: """
                INSERT INTO consent_wordings (version, locale, parts, first_used_at)
                VALUES ('00112233aabbccdd', 'ja', '[]', '2026-01-01T00:00:00.000Z')
                """)
        }
        for sql in ["UPDATE consent_wordings SET parts = '[{\"name\":\"x\",\"text\":\"y\"}]'", "DELETE FROM consent_wordings"] {
            #expect(throws: DatabaseError.self, "\(sql)") {
                try DatabaseQueue(path: workspace.db).write { try $0.execute(sql: sql) }
            }
        }
        #expect(try workspace.rows("SELECT parts FROM consent_wordings").map { $0["parts"] as String } == ["[]"])
    }

    static let badInvocations: [(arguments: [String], error: String)] = [
        (["subscribers", "find", "not-an-address"], "error: invalid address: "),
        (["subscribers", "history", "bad@"], "error: invalid address: "),
        (["subscribers", "history", "a@example.org, b@example.org"], "error: invalid address: "),
        (["subscribers", "export", "a@example.org\r\nBcc: b@example.org"], "error: invalid address: "),
        (["export", "events", "--email", "nope"], "error: invalid --email: "),
        (["export", "events", "--email", "ada@example.org", "--list", "news"], "error: --email gives every event"),
        (["export", "events", "--list", "nope"], "error: no list named 'nope'"),
        (["consent", "show", "0123456789abcdef"], "error: no consent version 0123456789abcdef in this database"),
        (["consent", "show", "not-a-version"], "error: 'not-a-version' is not a consent version"),
        (["consent", "show"], "error: "),
    ]

    @Test("bad input is an error, last on stderr, and changes nothing", arguments: badInvocations)
    func badInput(_ arguments: [String], _ error: String) throws {
        let workspace = try Person.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        let before = try workspace.dump()
        let result = try Binary.run(arguments + ["--db", workspace.db], in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix(error) == true, "last stderr line: \(result.lastErrorLine ?? "none")")
        #expect(try workspace.dump() == before)
    }
}
