// A migrated database in a temp directory with one list, and helpers to queue real
// rendered auto-replies into it.
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateMail

final class OutboxFixture: @unchecked Sendable {
    let directory: URL
    let store: SQLiteStore
    let list: MailingList
    let composer: AutoReplyComposer
    var path: String { directory.appendingPathComponent("listgate.sqlite3").path }

    /// `directory`: where the database goes (default: a new temp directory).
    init(locale: ListLocale = .ja, allowedAddresses: [String] = [], directory: URL? = nil) async throws {
        self.directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("listgate-mail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: self.directory.appendingPathComponent("listgate.sqlite3").path)
        _ = try await store.migrate()
        list = try await store.createList(
            NewList(
                slug: ListSlug("news"), name: "週刊お知らせ", from: Mailbox("編集部 <news@example.org>"),
                replyTo: EmailAddress("support@example.org"), locale: locale,
                allowedAddresses: try allowedAddresses.map { try EmailAddress($0) }),
            source: .cli)
        composer = try await AutoReplyComposer.bundled()
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func confirmation(to address: String) throws -> AutoReply {
        AutoReply(
            kind: .confirmation, list: list, recipient: try Recipient(EmailAddress(address)),
            links: .init(confirm: "https://lists.example.org/confirm/tok-\(address.hashValue)", block: "https://lists.example.org/block/tok"))
    }

    /// Queues one confirmation mail per address; returns the outbox ids.
    @discardableResult
    func queueConfirmations(to addresses: [String]) async throws -> [Int64] {
        var ids: [Int64] = []
        for address in addresses {
            ids.append(try await store.enqueue(try composer.outboxMessage(confirmation(to: address))))
        }
        return ids
    }

    /// Queues a message rendered by hand, e.g. one the content guard must refuse.
    func queue(_ message: OutgoingMessage, kind: AutoReplyKind = .receipt) async throws -> Int64 {
        try await store.enqueue(NewOutboxMessage(
            messageID: message.messageID.value, listID: list.id, kind: kind, recipient: message.to.address,
            raw: try MIMERenderer.render(message)))
    }

    func statuses() async throws -> [OutboxStatus] {
        try await store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT status FROM outbox ORDER BY id").compactMap(OutboxStatus.init)
        }
    }

    func row(_ id: Int64) async throws -> Row {
        try store.pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id])! }
    }

    func eventTypes() async throws -> [String] {
        try await store.pool.read { db in try String.fetchAll(db, sql: "SELECT type FROM events ORDER BY id") }
    }
}

/// A policy that retries quickly, for tests that simulate outages.
extension OutboxPolicy {
    static var fastRetry: OutboxPolicy {
        var policy = OutboxPolicy()
        policy.retryBase = .milliseconds(100)
        policy.retryCap = .milliseconds(400)
        policy.pollInterval = .milliseconds(50)
        return policy
    }
}
