// `listgate subscribers add | remove | find | history | export | forget`: one person's
// membership, and everything held on them.
// Admins can never cause mail, and never bring back someone who left or is suppressed.
import ArgumentParser
import Foundation
import ListgateCore

struct SubscribersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribers",
        abstract: "Add, remove, find, export and forget subscribers.",
        subcommands: [Add.self, Remove.self, Find.self, History.self, Export.self, Forget.self]
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
            abstract: "Show every list an address touches: subscriptions, pending requests and suppressions.",
            discussion: """
                One row per list: a subscription (with its status), a confirmation request still \
                waiting for the person's click (status pending, with the state of its mail: queued, \
                sent, deferred, failed, quarantined, discarded or none), or a suppression (status \
                suppressed, with its reason). A suppression on every list is a row of its own \
                ("list": null). The address matches however it is written: the part before the @ in \
                any case, the domain in Unicode or xn-- form; suppressions of its mailbox (every +tag \
                of it) count too.

                Example:
                  listgate subscribers find carol@example.com
                """
        )

        @Argument(help: "The address to look for.")
        var email: String

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let standing = try await database.openMigrated().standing(of: email)
            let rows = standing.rows(at: Date())
            if output.json {
                try Console.printJSON(rows.map { PersonRowDocument($0, asked: email) })
                return
            }
            guard !rows.isEmpty else {
                print("listgate holds nothing on \(email.entered): it is on no list, has no pending request and is not suppressed")
                if !standing.requests.isEmpty {
                    print("(\(standing.requests.count) earlier request(s) expired or were decided: see listgate subscribers history)")
                }
                return
            }
            for row in rows {
                for sentence in Self.sentences(row, shown: email.entered) { print(sentence) }
            }
        }

        /// The row in the words support would use on the phone.
        static func sentences(_ row: PersonStanding.Row, shown: String) -> [String] {
            var said: [String] = []
            let place = row.listSlug ?? "every list"
            if let subscription = row.subscription {
                let name = subscription.name.map { " (name: \($0))" } ?? ""
                said.append("\(shown) is \(subscription.status.rawValue) on \(place) since \(Timestamp.string(subscription.updatedAt))\(name)")
            }
            if let request = row.request {
                said.append("\(shown) has a pending request on \(place) since \(Timestamp.string(request.requestedAt)) "
                    + "(its link expires \(Timestamp.string(request.expiresAt))); its confirmation mail \(mailPhrase(request))")
            }
            if let suppression = row.suppression {
                let mailbox = suppression.ofMailbox ? ", for every +tag of this mailbox" : ""
                var sentence = "\(shown) is suppressed on \(place) (\(suppression.reason.rawValue)\(mailbox)) since "
                    + Timestamp.string(suppression.since)
                if suppression.reason == .forgotten, row.listSlug == nil {
                    sentence += "; it was erased: only its keyed hash is kept"
                }
                said.append(sentence)
            }
            return said
        }

        static func mailPhrase(_ request: ConfirmationRequest) -> String {
            switch request.mail {
            case .sent: "was sent at \(request.mailSentAt.map(Timestamp.string) ?? "an unknown time")"
            case .queued: "is queued and not sent yet"
            case .deferred: "was deferred: the mail server has not taken it yet and listgate tries again"
            case .failed: "failed: listgate gave up on it (see listgate outbox list --status failed)"
            case .quarantined: "was quarantined by the content guard (see listgate outbox quarantine)"
            case .discarded: "was discarded and will not be sent"
            case .none: "was not sent"
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an address's events in the ledger, oldest first.",
            discussion: """
                The ledger never stores addresses: the events are found through the address's keyed \
                hash, so they are there even after `subscribers forget`. A +tag address also shows \
                the suppressions of its mailbox, which stop its mail too; nothing else of another \
                address appears. Columns: time, type, list, source, consent version, client network \
                (never the full IP address) and the event's other facts. \
                `listgate export events --email EMAIL` writes the same events as CSV or NDJSON.
                """
        )

        @Argument(help: "The address whose events to show.")
        var email: String

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let entries = try await database.openMigrated().history(of: email)
            if output.json {
                try Console.printJSON(entries.map(LedgerEntryDocument.init))
            } else if entries.isEmpty {
                print("the ledger holds no event about \(email.entered)")
            } else {
                Console.printTable(
                    header: ["TIME", "TYPE", "LIST", "SOURCE", "CONSENT", "NETWORK", "DETAIL"],
                    rows: entries.map { entry in
                        let detail = entry.detail.filter { $0.key != "client_network" }.sorted { $0.key < $1.key }
                            .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                        return [
                            Timestamp.string(entry.occurredAt), entry.type, entry.listSlug ?? "-", entry.source,
                            entry.consentVersion ?? "-", entry.clientNetwork ?? "-", detail.isEmpty ? "-" : detail,
                        ]
                    })
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write everything listgate holds on one address as one JSON document.",
            discussion: """
                For a disclosure request (GDPR Art. 15, Japan's APPI): the address's subscriptions, \
                requests and suppressions, its events, the full text of every consent wording it was \
                shown, each mail sent to it (kind, Message-ID, state and times, not the message \
                itself: see README, "One person, whole") and its lines in audience snapshots. \
                A data_exported event records the disclosure. After `subscribers forget` nothing \
                that names the person is left: the document says so.

                The file given with --output is readable by its owner only, and an existing file is \
                never replaced unless --force is given.

                Example:
                  listgate subscribers export carol@example.com --output carol.json
                """
        )

        @Argument(help: "The address whose data to export.")
        var email: String

        @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
        var output: String?

        @Flag(help: "Replace the --output file if it exists.")
        var force = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let email = try address("address") { try EmailAddress(self.email) }
            let store = try await database.openMigrated()
            // Claimed before anything is recorded: a file that cannot be written must not
            // leave a data_exported event behind.
            let file = try output.map { try PrivateFile(finalPath: $0, replacing: force) }
            let now = Date()
            let data = try await store.exportPersonalData(of: email, source: .cli, at: now)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let document = try encoder.encode(PersonalDataDocument(data, address: email, at: now)) + Data("\n".utf8)
            let summary = data.holdsNothingPersonal
                ? (data.standing.isForgotten
                    ? "\(email.entered) was erased: listgate holds nothing personal on it, only keyed hashes (a suppression and \(data.events.count) ledger event(s))"
                    : "listgate holds nothing personal on \(email.entered)")
                : "\(data.standing.subscriptions.count) subscription(s), \(data.standing.requests.count) request(s), "
                    + "\(data.standing.suppressions.count) suppression(s), \(data.events.count) event(s), "
                    + "\(data.wordings.count) consent wording(s), \(data.mail.count) mail(s)"
            guard let file else {
                FileHandle.standardOutput.write(document)
                Console.writeStderr("note: \(summary); recorded as event \(data.exportEventID) (data_exported)\n")
                return
            }
            try file.commit(document)
            print("exported \(email.entered) to \(file.finalPath): \(summary); recorded as event \(data.exportEventID) (data_exported)")
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
