// `listgate outbox …`: look at the queue and steer it. Pause and resume are stored in
// the database, so a running server's worker obeys them within a second.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateMail

struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Inspect and steer outgoing auto-replies.",
        subcommands: [Status.self, Pause.self, Resume.self, Quarantine.self, Recheck.self, Discard.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count messages by state and show whether sending is paused.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let summary = try await database.openMigrated().outboxSummary()
            if output.json {
                try Console.printJSON(StatusDocument(summary))
            } else {
                print(summary.paused ? "sending: PAUSED (\(summary.pauseReason ?? "no reason given"))" : "sending: running")
                Console.printTable(
                    header: ["STATE", "MESSAGES"],
                    rows: OutboxStatus.allCases.map { [$0.rawValue, String(summary.counts[$0] ?? 0)] })
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop sending; queued mail waits, nothing is lost.")
        @Option(help: "Why (shown by `outbox status`).") var reason: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.openMigrated().setOutboxPaused(true, reason: reason, source: .cli)
            print("sending paused")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume sending after an operator paused it.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.openMigrated().setOutboxPaused(false, reason: nil, source: .cli)
            print("sending resumed")
        }
    }

    struct Quarantine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List messages the content guard refused. They are kept and never sent.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let messages = try await database.openMigrated().messages(status: .quarantined)
            if output.json {
                try Console.printJSON(messages.map(MessageDocument.init))
            } else if messages.isEmpty {
                print("no quarantined messages")
            } else {
                Console.printTable(
                    header: ["ID", "KIND", "RECIPIENT", "QUEUED", "REASON"],
                    rows: messages.map {
                        [String($0.id), $0.kind.rawValue, $0.recipient, Timestamp.string($0.createdAt), $0.quarantineReason ?? ""]
                    })
            }
        }
    }

    struct Recheck: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the content guard again on quarantined messages; those that now pass are queued again.",
            discussion: "Use after fixing a list's --allow-address entries. Messages that still fail stay quarantined.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let store = try await database.openMigrated()
            var released = 0, kept = 0
            for message in try await store.messages(status: .quarantined) {
                guard let list = try await store.list(id: message.listID),
                      let recipient = try? EmailAddress(message.recipient)
                else {
                    kept += 1
                    continue
                }
                if ContentGuard(recipient: recipient, allowed: list.addressesMailMayContain).check(message.raw) == .pass {
                    try await store.releaseQuarantined(message.id, source: .cli)
                    released += 1
                } else {
                    kept += 1
                }
            }
            print("\(released) released to the queue, \(kept) still quarantined")
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Never send this message (queued, failed or quarantined). The change is recorded.")
        @Argument(help: "The message id, as shown by `outbox quarantine`.") var id: Int64
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.openMigrated().discardMessage(id, source: .cli)
            print("message \(id) discarded")
        }
    }
}

/// `outbox status --json`
struct StatusDocument: Encodable {
    let counts: [String: Int]
    let paused: Bool
    let pauseReason: String?

    init(_ summary: OutboxSummary) {
        counts = Dictionary(uniqueKeysWithValues: summary.counts.map { ($0.key.rawValue, $0.value) })
        paused = summary.paused
        pauseReason = summary.pauseReason
    }

    enum CodingKeys: String, CodingKey {
        case counts, paused
        case pauseReason = "pause_reason"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(counts, forKey: .counts)
        try container.encode(paused, forKey: .paused)
        try container.encode(pauseReason, forKey: .pauseReason)
    }
}

/// One message in `outbox quarantine --json` (without its body).
struct MessageDocument: Encodable {
    let id: Int64
    let messageID: String
    let kind: String
    let recipient: String
    let status: String
    let attempts: Int
    let reason: String?
    let lastError: String?
    let createdAt: String

    init(_ message: OutboxMessage) {
        id = message.id
        messageID = message.messageID
        kind = message.kind.rawValue
        recipient = message.recipient
        status = message.status.rawValue
        attempts = message.attempts
        reason = message.quarantineReason
        lastError = message.lastError
        createdAt = Timestamp.string(message.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, recipient, status, attempts, reason
        case messageID = "message_id"
        case lastError = "last_error"
        case createdAt = "created_at"
    }
}
