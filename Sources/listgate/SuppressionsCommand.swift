// `listgate suppressions add | remove | list`: addresses that must never be mailed or
// (re)activated. Kept by keyed hash, so they outlive `subscribers forget`.
import ArgumentParser
import Foundation
import ListgateCore

struct SuppressionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suppressions",
        abstract: "Suppress addresses: no mail, no subscription by admins or imports.",
        subcommands: [Add.self, Remove.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Suppress an address on every list, or on one with --list.",
            discussion: """
                A suppressed address gets no mail at all, confirmation mails included, and no admin \
                add or import subscribes it. Its pending or active subscriptions in that scope end \
                now (recorded as unsubscribed, route admin).
                """
        )

        @Argument(help: "The address to suppress.")
        var email: String

        @Option(help: ArgumentHelp("Only this list (default: every list).", valueName: "slug"))
        var list: String?

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let slug = try list.map { try ListSlug($0) }
            let store = try await database.openMigrated()
            let result = try await store.suppress(email, list: slug, source: .cli, at: Date())
            let scope = slug.map { "for list '\($0)'" } ?? "on every list"
            switch result.outcome {
            case .added:
                print("suppressed \(email.entered) \(scope)")
            case .strengthened(let previous):
                print("suppressed \(email.entered) \(scope) (it was suppressed because: \(previous.rawValue); now no mail at all)")
            case .alreadySuppressed(let reason):
                print("\(email.entered) was already suppressed \(scope) (\(reason.rawValue))")
            }
            if !result.unsubscribedFrom.isEmpty {
                print("unsubscribed from: \(result.unsubscribedFrom.joined(separator: ", "))")
            }
            if result.discardedMessages > 0 {
                print("discarded \(result.discardedMessages) queued message(s) to this address")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the suppression of an address on every list, or on one with --list.",
            discussion: """
                Removes exactly the suppression of that scope: without --list the one for every list, \
                with --list the one for that list. It resubscribes nobody; it only lets the address be \
                mailed and added again.

                A suppression left by `subscribers forget` (reason forgotten) is what keeps an erased \
                person from being brought back by an import or an admin add. Removing it needs \
                --forgotten, and should follow the person's own request.
                """
        )

        @Argument(help: "The address whose suppression to remove.")
        var email: String

        @Option(help: ArgumentHelp("Only this list's suppression (default: the one for every list).", valueName: "slug"))
        var list: String?

        @Flag(help: "Also remove a suppression left by `subscribers forget` (see above).")
        var forgotten = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let slug = try list.map { try ListSlug($0) }
            let store = try await database.openMigrated()
            let reason = try await store.unsuppress(
                email, list: slug, includingForgotten: forgotten, source: .cli, at: Date())
            print("removed the suppression of \(email.entered) \(slug.map { "for list '\($0)'" } ?? "on every list") "
                + "(\(reason.rawValue))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every suppression.",
            discussion: "The address is shown while listgate stores it; after `subscribers forget` only its hash is left.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let records = try await database.openMigrated().suppressions()
            if output.json {
                try Console.printJSON(records.map(SuppressionDocument.init))
            } else if records.isEmpty {
                print("no suppressions")
            } else {
                Console.printTable(
                    header: ["EMAIL", "LIST", "REASON", "CREATED", "HASH"],
                    rows: records.map {
                        [$0.email ?? "-", $0.listSlug ?? "(every list)", $0.reason.rawValue,
                         Timestamp.string($0.createdAt), String($0.addressHash.prefix(16))]
                    })
            }
        }
    }
}

/// One entry of `suppressions list --json`.
struct SuppressionDocument: Encodable {
    let email: String?
    let addressHash: String
    let list: String?
    let reason: String
    let createdAt: String

    init(_ record: SuppressionRecord) {
        email = record.email
        addressHash = record.addressHash
        list = record.listSlug
        reason = record.reason.rawValue
        createdAt = Timestamp.string(record.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case email, list, reason
        case addressHash = "address_hash"
        case createdAt = "created_at"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(email, forKey: .email)  // null: forgotten or never stored
        try container.encode(addressHash, forKey: .addressHash)
        try container.encode(list, forKey: .list)  // null: every list
        try container.encode(reason, forKey: .reason)
        try container.encode(createdAt, forKey: .createdAt)
    }
}
