// Specification of the outbox worker, against a real SMTP server (aiosmtpd) on
// loopback and a real SQLite file: one recipient per message at the wire, retries
// through an outage, no retry after a permanent refusal, quarantine, breaker, pause.
import Foundation
import GRDB
import ListgateCore
import ListgateMail
import ListgateTestSupport
import Logging
import Synchronization
import Testing

@Suite("Outbox worker", .serialized)
struct OutboxWorkerTests {
    let logger = Logger(label: "test")

    func worker(_ fixture: OutboxFixture, _ transport: any MailTransport, policy: OutboxPolicy = .fastRetry) -> OutboxWorker {
        OutboxWorker(store: fixture.store, transport: transport, policy: policy, logger: logger)
    }

    @Test("every delivered message has exactly one RCPT TO, equal to its one To header, and no Cc or Bcc")
    func oneRecipientAtTheWire() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let addresses = (1...12).map { "person\($0)@example.net" } + ["山田@example.jp", "user@例え.jp"]
        try await fixture.queueConfirmations(to: addresses)
        try await worker(fixture, CurlSMTPTransport(url: sink.url)).drain()

        let received = try await sink.waitForMessages(count: addresses.count, timeout: .seconds(10))
        #expect(received.count == addresses.count)
        for message in received {
            #expect(message.rcptTos.count == 1)
            let mail = try MailInspector.inspect(message.data)
            #expect(mail.headers(named: "To").count == 1)
            #expect(mail.to == message.rcptTos)
            #expect(mail.headers(named: "Cc").isEmpty)
            #expect(mail.headers(named: "Bcc").isEmpty)
            #expect(mail.defects.isEmpty)
        }
        let expected = try addresses.map { try EmailAddress($0).smtpPath }.sorted()
        #expect(received.flatMap(\.rcptTos).sorted() == expected)
        #expect(try await fixture.statuses() == Array(repeating: .sent, count: addresses.count))
    }

    @Test("a Japanese confirmation mail arrives with its subject, both parts and the confirm link intact")
    func japaneseMailRoundTrips() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        try await fixture.queueConfirmations(to: ["taro@example.jp"])
        try await worker(fixture, CurlSMTPTransport(url: sink.url)).drain()

        let message = try #require(try await sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        let mail = try MailInspector.inspect(message.data)
        #expect(mail.subject == "【週刊お知らせ】メールアドレス確認のお願い")
        #expect(mail.from == ["news@example.org"])
        #expect(mail.headers(named: "Auto-Submitted") == ["auto-generated"])
        #expect(mail.headers(named: "Reply-To").first?.contains("support@example.org") == true)
        #expect(mail.parts.map(\.contentType) == ["text/plain", "text/html"])
        #expect(mail.text?.contains("「週刊お知らせ」への登録のお申し込みを受け付けました。") == true)
        let link = try fixture.confirmation(to: "taro@example.jp").links.confirm!
        #expect(mail.text?.components(separatedBy: link).count == 2, "exactly one confirm link in the text part")
        #expect(mail.maxLineLength <= 998)
        #expect(mail.bareLineFeeds == 0)
    }

    @Test("a 5xx refusal marks the message failed and it is not retried")
    func permanentFailure() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let ids = try await fixture.queueConfirmations(to: ["reject-me@example.net"])
        let worker = try worker(fixture, CurlSMTPTransport(url: sink.url))
        try await worker.drain()
        try await worker.drain(now: { Date().addingTimeInterval(3600) })

        let row = try await fixture.row(ids[0])
        #expect(row["status"] == "failed")
        #expect(row["attempts"] == 1)
        #expect((row["last_error"] as String?)?.contains("550") == true)
        #expect(try sink.messages().isEmpty)
    }

    @Test("a 4xx answer schedules a retry with backoff instead of failing")
    func transientFailure() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let ids = try await fixture.queueConfirmations(to: ["tempfail@example.net"])
        let before = Date()
        try await worker(fixture, CurlSMTPTransport(url: sink.url), policy: {
            var policy = OutboxPolicy()
            policy.retryBase = .seconds(60)
            return policy
        }()).runOnce()

        let row = try await fixture.row(ids[0])
        #expect(row["status"] == "queued")
        #expect(row["attempts"] == 1)
        #expect((row["last_error"] as String?)?.contains("451") == true)
        let next = try #require(Timestamp.parse(row["next_attempt_at"]))
        #expect(next.timeIntervalSince(before) >= 30, "equal jitter keeps at least half of the 60 s base")
        #expect(next.timeIntervalSince(before) <= 61)
    }

    @Test("a refusal quoting the address leaves no address in last_error or in any log line")
    func refusalsAreRedacted() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let ids = try await fixture.queueConfirmations(to: ["unknown-carol@example.net", "greylist-dave@example.net"])
        let records = LogRecords()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
        try await OutboxWorker(store: fixture.store, transport: CurlSMTPTransport(url: sink.url), policy: .fastRetry,
                               logger: logger).runOnce()

        let refused = try await fixture.row(ids[0]), deferred = try await fixture.row(ids[1])
        #expect(refused["status"] == "failed")
        #expect(deferred["status"] == "queued")
        let errors = [refused["last_error"], deferred["last_error"]].compactMap { $0 as String? }
        #expect(errors.count == 2)
        #expect(errors[0].contains("550 5.1.1 <[redacted]>: Recipient address rejected: User unknown"), "\(errors[0])")
        #expect(errors[1].contains("450 4.2.0 <[redacted]>: Recipient address rejected: Greylisted"), "\(errors[1])")
        let lines = records.lines
        #expect(lines.contains { $0.contains("message refused permanently") && $0.contains("550 5.1.1") }, "\(lines)")
        #expect(lines.contains { $0.contains("delivery deferred") && $0.contains("450 4.2.0") }, "\(lines)")
        for text in errors + lines {
            #expect(!text.contains("carol") && !text.contains("dave") && !text.contains("@example.net"), "\(text)")
        }
    }

    @Test("while the SMTP server is down nothing is lost; once it is back every message is delivered exactly once")
    func outageThenRecovery() async throws {
        let port = try freeLoopbackPort()
        let fixture = try await OutboxFixture()
        let addresses = (1...8).map { "reader\($0)@example.net" }
        let ids = try await fixture.queueConfirmations(to: addresses)
        let transport = try CurlSMTPTransport(url: "smtp://127.0.0.1:\(port)", connectTimeout: .seconds(2))
        let worker = worker(fixture, transport)

        try await worker.runOnce()
        for id in ids {
            let row = try await fixture.row(id)
            #expect(row["status"] == "queued")
            #expect(row["attempts"] == 1)
        }

        let sink = try SMTPSink.start(port: port)
        try await worker.drain(now: { Date().addingTimeInterval(3600) })
        let received = try await sink.waitForMessages(count: addresses.count, timeout: .seconds(10))
        #expect(received.flatMap(\.rcptTos).sorted() == addresses.sorted())
        #expect(try await fixture.statuses() == Array(repeating: .sent, count: addresses.count))
        #expect(try sink.messages().count == addresses.count, "no message delivered twice")
    }

    @Test("a message that fails the content guard is quarantined with its reason and never delivered")
    func guardQuarantines() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let leak = OutgoingMessage(
            from: fixture.list.from, replyTo: nil, to: try Recipient(EmailAddress("reader@example.net")),
            subject: "Your receipt", textBody: "Other subscribers: alice@example.com, bob@example.com\n",
            htmlBody: "<p>Other subscribers</p>", messageID: MessageID.make(domain: "example.org"), date: Date())
        let id = try await fixture.queue(leak)
        try await fixture.queueConfirmations(to: ["fine@example.net"])
        try await worker(fixture, CurlSMTPTransport(url: sink.url)).drain()

        let row = try await fixture.row(id)
        #expect(row["status"] == "quarantined")
        let reason = try #require(row["quarantine_reason"] as String?)
        #expect(!reason.contains("alice@example.com"), "the reason must not repeat the leaked addresses")
        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(10))
        #expect(received.flatMap(\.rcptTos) == ["fine@example.net"])
        // A later pass leaves it where it is.
        try await worker(fixture, CurlSMTPTransport(url: sink.url)).drain(now: { Date().addingTimeInterval(3600) })
        #expect(try await fixture.row(id)["status"] == "quarantined")
    }

    @Test("above the ceiling mail is held, never paused: receipts go out first, confirmations within their share")
    func ceilingHoldsButNeverPauses() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        try await fixture.queueConfirmations(to: (1...6).map { "burst\($0)@example.net" })
        let receipt = try fixture.composer.outboxMessage(AutoReply(
            kind: .receipt, list: fixture.list, recipient: try Recipient(EmailAddress("leaver@example.net")),
            links: .init(resubscribe: "https://lists.example.org/lists/news/subscribe")))
        _ = try await fixture.store.enqueue(receipt)
        var policy = OutboxPolicy.fastRetry
        policy.ceilingPerMinute = 5
        let worker = try worker(fixture, CurlSMTPTransport(url: sink.url), policy: policy)

        try await worker.drain()
        // Confirmations may take 4 of the minute's 5 messages (one stays free for people
        // leaving); the receipt, queued last, went out with 3 of them.
        let sent = try await sink.waitForMessages(count: 4, timeout: .seconds(10))
        #expect(sent.contains { $0.rcptTos == ["leaver@example.net"] })
        try await Task.sleep(for: .milliseconds(300))
        #expect(try sink.messages().count == 4)
        let summary = try await fixture.store.outboxSummary()
        #expect(!summary.paused, "no stranger can pause the mail")
        #expect(summary.counts[.queued] == 3)
        #expect(try await !fixture.eventTypes().contains("outbox_paused"))

        // A minute later the held mail goes out, at the ceiling rate.
        try await worker.drain(now: { Date().addingTimeInterval(61) })
        #expect(try await sink.waitForMessages(count: 7, timeout: .seconds(10)).count == 7)
    }

    @Test("a paused outbox sends nothing and keeps everything; resuming sends it")
    func pauseAndResume() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        try await fixture.store.setOutboxPaused(true, reason: "maintenance", source: .cli)
        try await fixture.queueConfirmations(to: ["a@example.net", "b@example.net"])
        let worker = try worker(fixture, CurlSMTPTransport(url: sink.url))
        try await worker.drain()
        #expect(try await fixture.statuses() == [.queued, .queued])
        #expect(try sink.messages().isEmpty)

        try await fixture.store.setOutboxPaused(false, reason: nil, source: .cli)
        try await worker.drain()
        #expect(try await sink.waitForMessages(count: 2, timeout: .seconds(10)).count == 2)
        #expect(Array(try await fixture.eventTypes().suffix(2)) == ["outbox_paused", "outbox_resumed"])
    }

    @Test("messages interrupted mid-send by a crash are sent after restart with the same Message-ID")
    func interruptedMessagesAreRequeued() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let ids = try await fixture.queueConfirmations(to: ["crash@example.net"])
        let claimed = try await fixture.store.claimDueMessages(now: Date(), limit: 10)  // the "crashed" worker
        #expect(claimed.map(\.id) == ids)
        let messageID = claimed[0].messageID

        let service = try worker(fixture, CurlSMTPTransport(url: sink.url))
        let task = Task { try await service.run() }
        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(10))
        task.cancel()
        _ = try? await task.value
        let mail = try MailInspector.inspect(received[0].data)
        #expect(mail.headers(named: "Message-ID") == [messageID])
        #expect(try await fixture.statuses() == [.sent])
    }

    @Test("a message older than the maximum age fails instead of being sent")
    func expiredMessagesFail() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let ids = try await fixture.queueConfirmations(to: ["late@example.net"])
        try await worker(fixture, CurlSMTPTransport(url: sink.url)).runOnce(now: Date().addingTimeInterval(49 * 3600))
        let row = try await fixture.row(ids[0])
        #expect(row["status"] == "failed")
        #expect((row["last_error"] as String?)?.contains("expired") == true)
        #expect(try sink.messages().isEmpty)
    }

    @Test("backoff doubles per attempt, stays within the cap, and keeps at least half of each step")
    func backoffShape() {
        var policy = OutboxPolicy()
        policy.retryBase = .seconds(30)
        policy.retryCap = .seconds(3600)
        #expect(policy.retryDelay(afterAttempt: 1, random: 1) == .seconds(30))
        #expect(policy.retryDelay(afterAttempt: 2, random: 1) == .seconds(60))
        #expect(policy.retryDelay(afterAttempt: 3, random: 0) == .seconds(60))
        #expect(policy.retryDelay(afterAttempt: 20, random: 1) == .seconds(3600))
        #expect(policy.retryDelay(afterAttempt: 20, random: 0) == .seconds(1800))
    }
}

/// Every log record the worker writes, as one line each (level, message, metadata), so a
/// test can read what an operator's log would say.
final class LogRecords: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    func append(_ line: String) { storage.withLock { $0.append(line) } }
}

struct RecordingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        records.append(([event.level.rawValue, event.message.description] + fields).joined(separator: " "))
    }
}
