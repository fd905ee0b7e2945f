// The delivery journal: what the SMTP server accepted is not sent again after a crash
// that came before the `sent` mark; what it did not note is requeued, as before.
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateMail
import ListgateTestSupport
import Logging
import Testing

@Suite("Delivery journal", .serialized)
struct DeliveryJournalTests {
    let logger = Logger(label: "test")

    @Test("a message accepted but not yet marked when the process died is marked sent at the next start, not sent again")
    func acceptedBeforeCrashIsNotResent() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        let ids = try await fixture.queueConfirmations(to: ["accepted@example.net", "interrupted@example.net"])
        // The dead process: it had claimed both; the server had accepted the first.
        let claimed = try await fixture.store.claimDueMessages(now: Date(), limit: 10)
        #expect(claimed.map(\.id) == ids)
        try DeliveryJournal(forDatabaseAt: fixture.path).accepted(ids[0])

        let journal = try DeliveryJournal(forDatabaseAt: fixture.path)
        let worker = OutboxWorker(
            store: fixture.store, transport: try CurlSMTPTransport(url: sink.url), policy: .fastRetry, logger: logger,
            journal: journal)
        try await worker.recoverFromPreviousStop()
        #expect(try await fixture.row(ids[0])["status"] == "sent")
        #expect(try await fixture.row(ids[1])["status"] == "queued")
        #expect(try journal.leftOver().isEmpty)

        try await worker.drain()
        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(200))
        #expect(try sink.messages().count == 1)
        #expect(received.flatMap(\.rcptTos) == ["interrupted@example.net"])
    }

    @Test("the journal notes each acceptance and is empty again once every delivery is marked sent")
    func journalEmptiesAfterMarks() async throws {
        let sink = try SMTPSink.start()
        let fixture = try await OutboxFixture()
        try await fixture.queueConfirmations(to: (1...6).map { "reader\($0)@example.net" })
        let noted = Shared<[[Int64]]>([])
        let journal = try DeliveryJournal(forDatabaseAt: fixture.path)
        let transport = NotingTransport(inner: try CurlSMTPTransport(url: sink.url), journal: journal, noted: noted)
        let worker = OutboxWorker(store: fixture.store, transport: transport, policy: .fastRetry, logger: logger, journal: journal)
        try await worker.drain()

        // At each acceptance the file held that message's id, before its `sent` mark.
        #expect(noted.current.count == 6)
        #expect(noted.current.allSatisfy { !$0.isEmpty })
        #expect(Set(noted.current.flatMap { $0 }).count == 6)
        #expect(try await fixture.statuses() == Array(repeating: .sent, count: 6))
        #expect(try journal.leftOver().isEmpty, "every acceptance recorded: nothing left over")
        let size = try FileManager.default.attributesOfItem(atPath: journal.path)[.size] as? Int
        #expect(size == 64 * 1024, "its reserved space is kept, not given back")
    }

    @Test("CurlSMTPTransport reports acceptance before send returns, and not for a refused message")
    func acceptanceCallback() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let message = Array("From: news@example.org\r\nTo: ok@example.net\r\nSubject: x\r\n\r\nhello\r\n".utf8)
        let accepted = Shared(0)
        try await transport.send(
            message, from: EmailAddress("news@example.org"), to: Recipient(EmailAddress("ok@example.net")),
            whenAccepted: { accepted.withLock { $0 += 1 } })
        #expect(accepted.current == 1)

        await #expect(throws: DeliveryError.self) {
            try await transport.send(
                message, from: EmailAddress("news@example.org"), to: Recipient(EmailAddress("tempfail@example.net")),
                whenAccepted: { accepted.withLock { $0 += 1 } })
        }
        #expect(accepted.current == 1)
    }

    @Test("a journal line cut short by the kill is ignored; whole lines are read back")
    func partialLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("db").path + "-delivered"
        try Data("12\n34\n5x".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try DeliveryJournal(path: path).leftOver() == [12, 34])
    }
}

/// Lets the worker note each acceptance, then reads what the journal file holds.
private struct NotingTransport: MailTransport {
    let inner: CurlSMTPTransport
    let journal: DeliveryJournal
    let noted: Shared<[[Int64]]>

    func send(_ message: [UInt8], from sender: EmailAddress, to recipient: Recipient) async throws(DeliveryError) {
        try await inner.send(message, from: sender, to: recipient)
    }

    func send(
        _ message: [UInt8], from sender: EmailAddress, to recipient: Recipient, whenAccepted accepted: @escaping @Sendable () -> Void
    ) async throws(DeliveryError) {
        let noted = noted, journal = journal
        try await inner.send(message, from: sender, to: recipient, whenAccepted: {
            accepted()
            let lines = (try? journal.leftOver()) ?? []
            noted.withLock { $0.append(lines) }
        })
    }
}

@Suite("A full disk at the worker", .serialized)
struct FullDiskDeliveryTests {
    /// An accepted message whose `sent` mark cannot be committed is neither sent again nor
    /// followed by more mail; its acceptance is still noted, in the journal's reserved
    /// space; once the disk has room it is marked, and everything goes out exactly once.
    @Test("a full disk after the SMTP server accepted: noted, nothing more sent, each message delivered once")
    func fullDiskAfterAcceptance() async throws {
        guard let disk = SmallFileSystem(megabytes: 4) else {
            print("skipped the full-disk worker test: mounting a tmpfs is not permitted here")
            return
        }
        let fixture = try await OutboxFixture(directory: disk.url.appendingPathComponent("db"))
        let ids = try await fixture.queueConfirmations(to: ["a@example.net", "b@example.net", "c@example.net", "d@example.net"])
        let sink = try SMTPSink.start(options: ["--data-delay", "1.5"])
        var policy = OutboxPolicy.fastRetry
        policy.batchSize = 3
        let journal = try DeliveryJournal(forDatabaseAt: fixture.path)
        let worker = OutboxWorker(
            store: fixture.store, transport: try CurlSMTPTransport(url: sink.url), policy: policy,
            logger: Logger(label: "test"), journal: journal)

        // Three messages are claimed and wait at the SMTP server while the disk fills up.
        let pass = Task { try await worker.runOnce() }
        func claimed() async throws -> Int {
            try await fixture.store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE status = 'sending'") ?? 0
            }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while try await claimed() < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let full = disk.fill()
        #expect(full, "the tmpfs filled up")

        #expect(try await pass.value == 3, "the pass finishes even though it cannot record")
        #expect(try await sink.waitForMessages(count: 3, timeout: .seconds(10)).count == 3)
        #expect(Set(try journal.leftOver()) == Set(ids.prefix(3)), "each acceptance noted despite the full disk")
        // While the marks cannot be saved, nothing more is sent.
        #expect(try await worker.runOnce() == 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try sink.messageCount() == 3)

        // Room again: the three are marked, the fourth goes out, nothing twice.
        try disk.empty()
        try await worker.drain()
        _ = try await sink.waitForMessages(count: 4, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(300))
        let recipients = try sink.messages().flatMap(\.rcptTos)
        #expect(recipients.sorted() == ["a@example.net", "b@example.net", "c@example.net", "d@example.net"])
        #expect(try await fixture.statuses() == Array(repeating: .sent, count: 4))
        #expect(try journal.leftOver().isEmpty)
    }
}
