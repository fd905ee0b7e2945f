// `listgate outbox …` through the built binary, and its effect on a running server.
import Foundation
import GRDB
import ListgateCore
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
