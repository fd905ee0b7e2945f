// `listgate subscribers add | remove | find | forget`: one person's membership.
// Admins can never cause mail, and never bring back someone who left or is suppressed.
import ArgumentParser
import Foundation
import ListgateCore

struct SubscribersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribers",
        abstract: "Add, remove, find and forget subscribers.",
        subcommands: [Add.self, Remove.self, Find.self, Forget.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an address to a list. No mail is sent.",
            discussion: """
                Without --confirmed the address is stored as pending: listgate sends it nothing (an \
                admin can never cause mail), and it does not receive newsletters. With --confirmed it \
                is active at once: use that only when the person's consent was recorded elsewhere.

                A suppressed address, or one that unsubscribed, bounced or complained, is refused: \
                only the person's own double opt-in can subscribe it again.

                Example:
                  listgate subscribers add ada@example.org --list news --name "Ada" --confirmed
                """
        )

        @Argument(help: "The address to add.")
        var email: String

        @Option(help: ArgumentHelp("The list's slug.", valueName: "slug"))
        var list: String

        @Option(help: "The subscriber's name (optional; one line, at most 200 characters).")
        var name: String?

        @Flag(help: "Make the subscription active at once (consent recorded elsewhere) instead of pending.")
        var confirmed = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let subscriber = try NewSubscriber(
                address: address("address") { try EmailAddress(email) }, list: ListSlug(list), name: name,
                confirmed: confirmed)
            let store = try await database.openMigrated()
            let shown = subscriber.address.entered
            switch try await store.addSubscriber(subscriber, source: .cli, at: Date()) {
            case .added(.active):
                print("subscribed \(shown) to '\(subscriber.list)' (active)")
            case .added(let status):
                print("added \(shown) to '\(subscriber.list)' as \(status.rawValue); no mail was sent")
            case .activated:
                print("\(shown) was pending on '\(subscriber.list)' and is now active")
            case .unchanged(let status):
                print("\(shown) is already \(status.rawValue) on '\(subscriber.list)'; nothing changed")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unsubscribe an address from a list.",
            discussion: """
                The subscription becomes unsubscribed and the address is suppressed for that list, so \
                no import or admin add brings it back; only the person's own double opt-in can. \
                No mail is sent. The change is recorded (route admin).
                """
        )

        @Argument(help: "The address to remove.")
        var email: String

        @Option(help: ArgumentHelp("The list's slug.", valueName: "slug"))
        var list: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let slug = try ListSlug(list)
            let store = try await database.openMigrated()
            let previous = try await store.removeSubscriber(email, from: slug, source: .cli, at: Date())
            print("unsubscribed \(email.entered) from '\(slug)' (it was \(previous.rawValue)) and suppressed it for that list")
        }
    }

    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every list an address is on, in any state.",
            discussion: """
                The address matches however it is written: the part before the @ in any case, the \
                domain in Unicode or xn-- form.
                """
        )

        @Argument(help: "The address to look for.")
        var email: String

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let records = try await database.openMigrated().subscriptions(of: email)
            if output.json {
                try Console.printJSON(records.map(SubscriptionDocument.init))
            } else if records.isEmpty {
                print("\(email.entered) is on no list")
            } else {
                Console.printTable(
                    header: ["LIST", "STATUS", "EMAIL", "NAME", "UPDATED"],
                    rows: records.map {
                        [$0.listSlug, $0.status.rawValue, $0.email, $0.name ?? "-", Timestamp.string($0.updatedAt)]
                    })
            }
        }
    }

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase an address and everything stored with it; keep a hashed suppression.",
            discussion: """
                Deletes the address, its subscriptions on every list, its form submissions, every \
                message to it in the outbox and its entries in audience snapshots, then empties the \
                database's write-ahead log so no copy is left behind. The ledger keeps only keyed \
                hashes, never addresses. A hashed suppression on every list (reason forgotten) stays, \
                so no import or admin add can bring the person back.
                """
        )

        @Argument(help: "The address to erase.")
        var email: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let report = try await database.openMigrated().forget(email, source: .cli, at: Date())
            if report.erasedAnything {
                let parts = [
                    Self.count(report.addresses, "address", "addresses"),
                    Self.count(report.subscriptions, "subscription", "subscriptions"),
                    Self.count(report.submissions, "form submission", "form submissions"),
                    Self.count(report.outboxMessages, "outbox message", "outbox messages"),
                    Self.count(report.snapshotEntries, "snapshot entry", "snapshot entries"),
                ]
                print("forgot \(email.entered): erased \(parts.joined(separator: ", "))")
            } else {
                print("listgate stored nothing about \(email.entered); nothing to erase")
            }
            print("kept a hashed suppression on every list (\(report.suppression.rawValue)): "
                + "no import or admin add can bring this address back")
            if !report.walTruncated {
                Console.writeStderr(
                    "warning: another process was reading the database, so its write-ahead log could not be emptied now; "
                        + "SQLite empties it at its next checkpoint\n")
            }
        }

        static func count(_ n: Int, _ one: String, _ many: String) -> String {
            "\(n) \(n == 1 ? one : many)"
        }
    }
}

/// One entry of `subscribers find --json`.
struct SubscriptionDocument: Encodable {
    let list: String
    let email: String
    let status: String
    let name: String?
    let updatedAt: String

    init(_ record: SubscriptionRecord) {
        list = record.listSlug
        email = record.email
        status = record.status.rawValue
        name = record.name
        updatedAt = Timestamp.string(record.updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case list, email, status, name
        case updatedAt = "updated_at"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(list, forKey: .list)
        try container.encode(email, forKey: .email)
        try container.encode(status, forKey: .status)
        try container.encode(name, forKey: .name)  // null when absent, not omitted
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}
