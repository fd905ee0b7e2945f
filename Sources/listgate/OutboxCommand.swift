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
        subcommands: [Status.self, List.self, Pause.self, Resume.self, Quarantine.self, Recheck.self, Discard.self]
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

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List messages, newest first: kind, recipient, state, attempts and last error.",
            discussion: """
                The last error is why the last attempt did not deliver: the SMTP server's reply \
                (addresses redacted), a network or TLS error, or why the message was given up. \
                For a quarantined message it is the content guard's reason. A sent message has none.
                """
        )
        // A string, parsed in run(): ArgumentParser would list the states over several lines,
        // and the last line of a failure must be the `error:` one.
        @Option(help: ArgumentHelp(
            "Only messages in this state: \(Self.states) (default: every state).", valueName: "state"))
        var status: String?
        @Option(help: ArgumentHelp("Show at most this many, the newest.", valueName: "count"))
        var limit = 100
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        static let states = OutboxStatus.allCases.map(\.rawValue).dropLast().joined(separator: ", ")
            + " or " + (OutboxStatus.allCases.last?.rawValue ?? "")

        func run() async throws {
            let status = try self.status.map { text in
                guard let status = OutboxStatus(rawValue: text) else {
                    throw CLIError("invalid state '\(text)': use \(Self.states)")
                }
                return status
            }
            // One more than shown tells whether older messages were left out.
            let entries = try await database.openMigrated().outboxEntries(status: status, limit: limit + 1)
            let shown = entries.prefix(limit)
            if output.json {
                try Console.printJSON(shown.map(OutboxEntryDocument.init))
            } else if shown.isEmpty {
                print(status.map { "no \($0.rawValue) messages" } ?? "no messages")
            } else {
                Console.printTable(
                    header: ["ID", "LIST", "KIND", "RECIPIENT", "STATE", "ATTEMPTS", "QUEUED", "LAST ERROR"],
                    rows: shown.map {
                        [String($0.id), $0.listSlug, $0.kind.rawValue, $0.recipient, $0.status.rawValue, String($0.attempts),
                         Timestamp.string($0.createdAt), Self.oneLine($0.lastError ?? $0.quarantineReason ?? "")]
                    })
            }
            if entries.count > limit {
                Console.writeStderr("note: only the newest \(limit) are shown; use --limit to see more\n")
            }
        }

        /// An error text comes partly from the SMTP server: control characters (a line
        /// break, a terminal escape) would break the one-line-per-message table or the terminal.
        static func oneLine(_ text: String) -> String {
            String(String.UnicodeScalarView(text.unicodeScalars.map {
                $0.properties.generalCategory == .control ? " " : $0
            }))
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

/// One message in `outbox list --json` (without its body). Every key is always present,
/// null when it does not apply, so a script can rely on the shape.
struct OutboxEntryDocument: Encodable {
    let entry: OutboxEntry

    enum CodingKeys: String, CodingKey {
        case id, list, kind, recipient, status, attempts
        case messageID = "message_id"
        case lastError = "last_error"
        case quarantineReason = "quarantine_reason"
        case createdAt = "created_at"
        case nextAttemptAt = "next_attempt_at"
        case sentAt = "sent_at"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entry.id, forKey: .id)
        try container.encode(entry.messageID, forKey: .messageID)
        try container.encode(entry.listSlug, forKey: .list)
        try container.encode(entry.kind.rawValue, forKey: .kind)
        try container.encode(entry.recipient, forKey: .recipient)
        try container.encode(entry.status.rawValue, forKey: .status)
        try container.encode(entry.attempts, forKey: .attempts)
        try container.encode(entry.lastError, forKey: .lastError)
        try container.encode(entry.quarantineReason, forKey: .quarantineReason)
        try container.encode(Timestamp.string(entry.createdAt), forKey: .createdAt)
        // Only a queued message has a next attempt.
        try container.encode(entry.status == .queued ? Timestamp.string(entry.nextAttemptAt) : nil, forKey: .nextAttemptAt)
        try container.encode(entry.sentAt.map(Timestamp.string), forKey: .sentAt)
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
