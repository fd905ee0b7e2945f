// `listgate outbox …` through the built binary, and its effect on a running server.
import Foundation
import GRDB
import ListgateCore
import ListgateSQLite
import ListgateMail
import ListgateTestSupport
import Testing

@Suite("listgate outbox", .serialized)
struct OutboxCommandTests {
    /// A migrated workspace with one list, and a way to queue mail into it as the
    /// server would.
    func prepared() async throws -> (Workspace, SQLiteStore, MailingList) {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "お知らせ", "--from", "news@example.org")
        let store = try await SQLiteStore.openMigrated(path: workspace.db)
        let list = try #require(try await store.list(ListSlug("news")))
        return (workspace, store, list)
    }

    func queueConfirmation(to address: String, list: MailingList, store: SQLiteStore) async throws -> Int64 {
        let reply = AutoReply(
            kind: .confirmation, list: list, recipient: try Recipient(EmailAddress(address)),
            links: .init(confirm: "http://127.0.0.1/confirm/t", block: "http://127.0.0.1/block/t"))
        return try await store.enqueue(try await AutoReplyComposer.bundled().outboxMessage(reply))
    }

    func queueLeak(list: MailingList, store: SQLiteStore) async throws -> Int64 {
        let message = OutgoingMessage(
            from: list.from, replyTo: nil, to: try Recipient(EmailAddress("reader@example.net")), subject: "x",
            textBody: "everyone: other@example.com\n", htmlBody: "<p>x</p>",
            messageID: MessageID.make(domain: "example.org"), date: Date())
        return try await store.enqueue(NewOutboxMessage(
            messageID: message.messageID.value, listID: list.id, kind: .receipt, recipient: message.to.address,
            raw: try MIMERenderer.render(message)))
    }

    func statusJSON(_ workspace: Workspace) throws -> [String: Any] {
        let result = try workspace.listgate("outbox", "status", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test("status --json gives counts by state and whether sending is paused")
    func status() async throws {
        let (workspace, store, list) = try await prepared()
        _ = try await queueConfirmation(to: "a@example.net", list: list, store: store)
        let status = try statusJSON(workspace)
        let counts = try #require(status["counts"] as? [String: Int])
        #expect(counts["queued"] == 1)
        #expect(counts["sent"] == 0)
        #expect(Set(counts.keys) == ["queued", "sending", "sent", "failed", "quarantined", "discarded"])
        #expect(status["paused"] as? Bool == false)
    }

    @Test("pause and resume are stored, shown by status and recorded as events")
    func pauseResume() async throws {
        let (workspace, _, _) = try await prepared()
        #expect(try workspace.listgate("outbox", "pause", "--reason", "checking a complaint").status == 0)
        var status = try statusJSON(workspace)
        #expect(status["paused"] as? Bool == true)
        #expect(status["pause_reason"] as? String == "checking a complaint")
        #expect(try workspace.listgate("outbox", "resume").status == 0)
        status = try statusJSON(workspace)
        #expect(status["paused"] as? Bool == false)
        let events = try await DatabaseQueue(path: workspace.db).read {
            try String.fetchAll($0, sql: "SELECT type FROM events WHERE type LIKE 'outbox_%' ORDER BY id")
        }
        #expect(events == ["outbox_paused", "outbox_resumed"])
    }

    @Test("a running server stops sending within a second of `outbox pause` and resumes after `outbox resume`")
    func pauseReachesRunningServer() async throws {
        let (workspace, store, list) = try await prepared()
        let sink = try SMTPSink.start()
        let port = try freePort()
        let server = Process()
        server.executableURL = Binary.url
        server.arguments = ["serve", "--db", workspace.db, "--port", String(port), "--smtp-url", sink.url]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }

        _ = try await queueConfirmation(to: "first@example.net", list: list, store: store)
        #expect(try await sink.waitForMessages(count: 1, timeout: .seconds(10)).count == 1)

        #expect(try workspace.listgate("outbox", "pause").status == 0)
        try await Task.sleep(for: .seconds(1))
        _ = try await queueConfirmation(to: "second@example.net", list: list, store: store)
        try await Task.sleep(for: .seconds(2))
        #expect(try sink.messages().count == 1, "nothing is sent while paused")

        #expect(try workspace.listgate("outbox", "resume").status == 0)
        let received = try await sink.waitForMessages(count: 2, timeout: .seconds(5))
        #expect(received.map(\.rcptTos) == [["first@example.net"], ["second@example.net"]])
    }

    @Test("quarantine lists refused messages; recheck keeps them while they still fail; discard removes them")
    func quarantineAndDiscard() async throws {
        let (workspace, store, list) = try await prepared()
        let id = try await queueLeak(list: list, store: store)
        try await store.quarantine(try #require(try await store.claimDueMessages(now: Date(), limit: 1).first?.id), reason: "body contains 1 address other than the recipient")

        let listed = try workspace.listgate("outbox", "quarantine", "--json")
        let messages = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(messages.map { $0["id"] as? Int } == [Int(id)])
        #expect(messages.first?["reason"] as? String == "body contains 1 address other than the recipient")

        let recheck = try workspace.listgate("outbox", "recheck")
        #expect(recheck.stdout.contains("0 released to the queue, 1 still quarantined"))

        #expect(try workspace.listgate("outbox", "discard", String(id)).status == 0)
        let counts = try #require(try statusJSON(workspace)["counts"] as? [String: Int])
        #expect(counts["discarded"] == 1)
        #expect(counts["quarantined"] == 0)
    }

    @Test("recheck releases a quarantined message once its list allows what it contains")
    func recheckReleases() async throws {
        let (workspace, store, list) = try await prepared()
        _ = try await queueConfirmation(to: "a@example.net", list: list, store: store)
        let claimed = try #require(try await store.claimDueMessages(now: Date(), limit: 1).first)
        try await store.quarantine(claimed.id, reason: "quarantined by a stricter guard")  // it passes today's guard
        let recheck = try workspace.listgate("outbox", "recheck")
        #expect(recheck.stdout.contains("1 released to the queue, 0 still quarantined"))
        #expect((try statusJSON(workspace)["counts"] as? [String: Int])?["queued"] == 1)
    }

    // MARK: list

    /// Four messages, oldest first: one sent, one deferred by a 451, one failed by a 550,
    /// one never tried. Returns their ids in that order.
    func messagesInEveryState(list: MailingList, store: SQLiteStore) async throws -> [Int64] {
        func claimNext() async throws -> Int64 {
            try #require(try await store.claimDueMessages(now: Date(), limit: 1).first?.id)
        }
        let sent = try await queueConfirmation(to: "sent@example.net", list: list, store: store)
        try await store.markSent(try await claimNext(), at: Date())
        let deferred = try await queueConfirmation(to: "deferred@example.net", list: list, store: store)
        try await store.scheduleRetry(
            try await claimNext(), error: "smtp://mx: SMTP \"451 4.3.0 try again later\"", at: Date().addingTimeInterval(600))
        let failed = try await queueConfirmation(to: "failed@example.net", list: list, store: store)
        try await store.markFailed(try await claimNext(), error: "smtp://mx: SMTP \"550 5.1.1 no such user\"")
        let waiting = try await queueConfirmation(to: "waiting@example.net", list: list, store: store)
        return [sent, deferred, failed, waiting]
    }

    func listJSON(_ workspace: Workspace, _ options: String...) throws -> [[String: Any]] {
        let result = try Binary.run(["outbox", "list", "--json"] + options + ["--db", workspace.db])
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
    }

    @Test("list --json gives each message's kind, recipient, state, attempts and last error, newest first")
    func listJSONShowsEveryMessage() async throws {
        let (workspace, store, list) = try await prepared()
        let ids = try await messagesInEveryState(list: list, store: store)

        let messages = try listJSON(workspace)
        #expect(messages.map { $0["id"] as? Int } == ids.reversed().map { Int($0) })
        #expect(messages.map { $0["recipient"] as? String }
            == ["waiting@example.net", "failed@example.net", "deferred@example.net", "sent@example.net"])
        #expect(messages.map { $0["status"] as? String } == ["queued", "failed", "queued", "sent"])
        #expect(messages.map { $0["attempts"] as? Int } == [0, 1, 1, 1])
        #expect(messages.map { $0["last_error"] as? String } == [
            nil, "smtp://mx: SMTP \"550 5.1.1 no such user\"", "smtp://mx: SMTP \"451 4.3.0 try again later\"", nil,
        ])
        #expect(messages.allSatisfy { $0["kind"] as? String == "confirmation" && $0["list"] as? String == "news" })
        #expect(messages.allSatisfy { $0.keys.contains("last_error") }, "null when there is none, never left out")
        #expect(messages.last?["sent_at"] is String)
        #expect(messages.first?["next_attempt_at"] is String, "a queued message says when it is tried next")
    }

    @Test("list prints one aligned line per message with its kind, recipient, state, attempts and last error")
    func listPlain() async throws {
        let (workspace, store, list) = try await prepared()
        let ids = try await messagesInEveryState(list: list, store: store)

        let result = try workspace.listgate("outbox", "list")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 1 + ids.count)
        #expect(lines.first?.hasPrefix("ID") == true)
        #expect(lines.first?.hasSuffix("LAST ERROR") == true)
        let failed = try #require(lines.first { $0.contains("failed@example.net") })
        #expect(failed.hasPrefix(String(ids[2]) + " "))
        for word in ["news", "confirmation", "failed", "550 5.1.1 no such user"] { #expect(failed.contains(word), "\(failed)") }
        // Aligned: each line's state starts where the STATE heading does.
        let header = try #require(lines.first)
        let column = header.distance(from: header.startIndex, to: try #require(header.range(of: "STATE")).lowerBound)
        #expect(lines.dropFirst().map { String($0.dropFirst(column).prefix { $0 != " " }) } == ["queued", "failed", "queued", "sent"])
    }

    @Test("list --status shows only messages in that state")
    func listByStatus() async throws {
        let (workspace, store, list) = try await prepared()
        let ids = try await messagesInEveryState(list: list, store: store)
        #expect(try listJSON(workspace, "--status", "failed").map { $0["id"] as? Int } == [Int(ids[2])])
        #expect(try listJSON(workspace, "--status", "queued").map { $0["id"] as? Int } == [Int(ids[3]), Int(ids[1])])
        #expect(try workspace.listgate("outbox", "list", "--status", "discarded").stdout == "no discarded messages\n")
    }

    @Test("list refuses an unknown --status with an error naming the valid states, and a --limit below 1")
    func listRefusesBadOptions() async throws {
        let (workspace, _, _) = try await prepared()
        let status = try workspace.listgate("outbox", "list", "--status", "bounced")
        #expect(status.status != 0)
        #expect(status.lastErrorLine
            == "error: invalid state 'bounced': use queued, sending, sent, failed, quarantined or discarded")
        let limit = try workspace.listgate("outbox", "list", "--limit", "0")
        #expect(limit.status != 0)
        #expect(limit.lastErrorLine == "error: --limit must be at least 1")
    }

    @Test("list --limit shows the newest messages and says on stderr that older ones were left out")
    func listLimit() async throws {
        let (workspace, store, list) = try await prepared()
        let ids = try await messagesInEveryState(list: list, store: store)
        let result = try Binary.run(["outbox", "list", "--json", "--limit", "2", "--db", workspace.db])
        #expect(result.status == 0)
        let messages = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(messages.map { $0["id"] as? Int } == [Int(ids[3]), Int(ids[2])])
        #expect(result.stderr == "note: only the newest 2 are shown; use --limit to see more\n")
        #expect(try workspace.listgate("outbox", "list", "--limit", "4").stderr.isEmpty, "nothing left out, no note")
    }

    @Test("a control character in a last error (from the SMTP server) cannot break the line or reach the terminal")
    func listNeutralisesControlCharacters() async throws {
        let (workspace, store, list) = try await prepared()
        _ = try await queueConfirmation(to: "a@example.net", list: list, store: store)
        let id = try #require(try await store.claimDueMessages(now: Date(), limit: 1).first?.id)
        try await store.scheduleRetry(id, error: "421 first\r\nsecond \u{1B}[2J\u{7}end", at: Date().addingTimeInterval(600))
        let result = try workspace.listgate("outbox", "list")
        #expect(result.stdout.split(separator: "\n").count == 2)
        #expect(!result.stdout.unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" })
        #expect(result.stdout.contains("421 first  second  [2J end"))
        #expect(try listJSON(workspace).first?["last_error"] as? String == "421 first\r\nsecond \u{1B}[2J\u{7}end", "JSON keeps it as stored")
    }

    @Test("a message the SMTP server refused shows in `outbox list --status failed` with the server's reply")
    func refusedMessageShowsItsReason() async throws {
        let (workspace, store, list) = try await prepared()
        let sink = try SMTPSink.start()
        let id = try await queueConfirmation(to: "reject@example.net", list: list, store: store)
        let server = try await ServeProcess(workspace, arguments: ["--smtp-url", sink.url])
        defer { withExtendedLifetime(server) {} }

        let failed = try await eventually(within: .seconds(20)) {
            try await store.outboxEntries(status: .failed, limit: 1).first?.id == id
        }
        #expect(failed, "\(server.log)")
        let result = try workspace.listgate("outbox", "list", "--status", "failed")
        let line = try #require(result.stdout.split(separator: "\n").last.map(String.init))
        #expect(line.hasPrefix(String(id) + " "))
        #expect(line.contains("reject@example.net"))
        #expect(line.contains("SMTP \"550 5.1.1 no such user\""), "\(line)")
    }

    @Test("discard refuses unknown and already-sent messages with an error", arguments: [["999"], ["abc"]])
    func discardErrors(_ arguments: [String]) async throws {
        let (workspace, _, _) = try await prepared()
        let result = try Binary.run(["outbox", "discard"] + arguments + ["--db", workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: ") == true)
    }

    @Test("discarding a sent message is refused and changes nothing")
    func discardSent() async throws {
        let (workspace, store, list) = try await prepared()
        let id = try await queueConfirmation(to: "a@example.net", list: list, store: store)
        _ = try await store.claimDueMessages(now: Date(), limit: 1)
        try await store.markSent(id, at: Date())
        let result = try workspace.listgate("outbox", "discard", String(id))
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: message \(id) is sent; only queued or failed or quarantined messages can be changed this way")
        #expect((try statusJSON(workspace)["counts"] as? [String: Int])?["sent"] == 1)
    }
}
