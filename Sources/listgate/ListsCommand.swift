// `listgate lists create | update | archive | list | show`: define lists, change and close
// them, and look at them.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateServer

struct ListsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lists",
        abstract: "Create, change and inspect mailing lists.",
        subcommands: [Create.self, Update.self, Archive.self, List.self, Show.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a list.",
            discussion: """
                Example:
                  listgate lists create news --name "お知らせ" --from "Example <news@example.org>" --locale ja
                """
        )

        @Argument(help: "URL name of the list: a-z, 0-9 and '-', at most 63 characters.")
        var slug: String

        @Option(help: "Name shown on pages and in mail.")
        var name: String

        @Option(help: ArgumentHelp("Sender mailbox, e.g. \"Example <news@example.org>\".", valueName: "mailbox"))
        var from: String

        @Option(help: "Language of pages and mail.")
        var locale: ListLocale = .ja

        @Option(help: ArgumentHelp("Reply-To address for this list's mail.", valueName: "address"))
        var replyTo: String?

        @Option(help: ArgumentHelp(
            "An extra address this list's mail may contain (repeatable); the content guard refuses any other.",
            valueName: "address"))
        var allowAddress: [String] = []

        @Option(help: ArgumentHelp(
            "A website origin allowed to post this list's form, e.g. https://www.example.org (repeatable; none = any). "
                + "Stored as browsers send it: lower case, without a default port.",
            valueName: "origin"))
        var allowOrigin: [String] = []

        @OptionGroup var pages: SitePageOptions
        @OptionGroup var identity: SenderIdentityOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            // Validate everything before touching the database: bad input changes nothing.
            var sitePages = SitePages()
            for (page, url) in try pages.changes() { sitePages[page] = url }
            var senderIdentity = SenderIdentity()
            try identity.change().apply(to: &senderIdentity)
            let newList = try NewList(
                slug: ListSlug(slug),
                name: name,
                from: address("--from") { try Mailbox(from) },
                replyTo: replyTo.map { text in try address("--reply-to") { try EmailAddress(text) } },
                locale: locale,
                allowedAddresses: allowAddress.map { text in try address("--allow-address") { try EmailAddress(text) } },
                allowedOrigins: allowOrigin.map { text in try serializedOrigin("--allow-origin", text) },
                sitePages: sitePages, senderIdentity: senderIdentity)
            let store = try await database.openMigrated()
            let list = try await store.createList(newList, source: .cli)
            if output.json {
                try Console.printJSON(ListDocument(list, counts: MemberCounts()))
            } else {
                print("created list '\(list.slug)' (\(list.name)), from \(list.from.formatted)")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a list: its name, sender, language, addresses, origins, pages, sender identity, bounce policy or approvals.",
            discussion: """
                Prints each field that changed, with its value before and after, and records them in one \
                list_updated event; a running server uses the change within a second. Values are checked as \
                by `lists create`. An empty --thanks-url (…) or --legal-name (…) clears that value.

                The soft-bounce policy: the Nth soft bounce a sender reports within D days makes the \
                subscription bounced (default: 3 in 15 days).

                --snapshot-approvals N: each snapshot taken from then on needs N different approvers \
                (`listgate snapshots approve`) before its recipients can be streamed (default 0: none).

                Example:
                  listgate lists update news --from "Example 広報部 <news@example.co.jp>" \\
                    --legal-name "株式会社サンプル" --postal-address "〒100-0001 東京都千代田区千代田1-1" \\
                    --contact support@example.co.jp
                """
        )

        @Argument(help: "The list's slug.")
        var slug: String

        @Option(help: "New name shown on pages and in mail.")
        var name: String?

        @Option(help: ArgumentHelp("New sender mailbox, e.g. \"Example <news@example.org>\".", valueName: "mailbox"))
        var from: String?

        @Option(help: "New language of pages and mail.")
        var locale: ListLocale?

        @Option(help: ArgumentHelp("New Reply-To address.", valueName: "address"))
        var replyTo: String?

        @Flag(help: "Remove the Reply-To.")
        var noReplyTo = false

        @Option(help: ArgumentHelp("Add an address this list's mail may contain (repeatable).", valueName: "address"))
        var allowAddress: [String] = []

        @Option(help: ArgumentHelp("Remove an address from those allowed (repeatable).", valueName: "address"))
        var disallowAddress: [String] = []

        @Option(help: ArgumentHelp("Add a website origin allowed to post this list's forms (repeatable).", valueName: "origin"))
        var allowOrigin: [String] = []

        @Option(help: ArgumentHelp(
            "Remove an allowed origin (repeatable); with none left, any origin may post.", valueName: "origin"))
        var disallowOrigin: [String] = []

        @Option(help: ArgumentHelp(
            "The soft bounce that makes a subscription bounced: the Nth within --soft-bounce-days (1–100; default 3).",
            valueName: "n"))
        var softBounceLimit: Int?

        @Option(help: ArgumentHelp("The window soft bounces are counted in, in days (1–365; default 15).", valueName: "days"))
        var softBounceDays: Int?

        @Option(help: ArgumentHelp(
            "How many people must approve each new snapshot (its count and sha256) before it can be streamed (0–9; 0: none).",
            valueName: "n"))
        var snapshotApprovals: Int?

        @OptionGroup var pages: SitePageOptions
        @OptionGroup var identity: SenderIdentityOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let slug = try ListSlug(slug)
            let change = try validatedChange()
            guard !change.isEmpty else {
                throw CLIError("nothing to change: give at least one option (see `listgate lists update --help`)")
            }
            let store = try await database.openMigrated()
            let (list, changed) = try await store.updateList(slug, change, source: .cli)
            if output.json {
                try Console.printJSON(ListDocument(list, counts: try await store.memberCounts(listID: list.id)))
            } else if changed.isEmpty {
                print("list '\(list.slug)' unchanged: every value was already so")
            } else {
                for change in changed {
                    print("\(change.field): \(change.before ?? "(none)") -> \(change.after ?? "(none)")")
                }
            }
            try await noteQueuedMail(list, changed, store: store)
        }

        /// Queued mail keeps the bytes it was written with: after a change of the addresses
        /// the content guard allows, the admin should know some of it may be held.
        func noteQueuedMail(_ list: MailingList, _ changed: [ListFieldChange], store: some ListgateStore) async throws {
            let guarded: Set = ["from", "reply_to", "allowed_addresses", "contact"]
            guard changed.contains(where: { guarded.contains($0.field) }) else { return }
            let waiting = try await store.messages(status: .queued).filter { $0.listID == list.id }.count
            guard waiting > 0 else { return }
            Console.writeStderr(
                "note: \(waiting) queued message(s) of this list were written before the change; the content guard holds "
                    + "any that names an address the list no longer allows (see `listgate outbox quarantine`)\n")
        }

        /// Every option parsed as `lists create` parses it, before the database is opened.
        func validatedChange() throws -> ListChange {
            var change = ListChange()
            change.name = try name.map { try NewList.validName($0) }
            change.from = try from.map { text in try NewList.validFrom(address("--from") { try Mailbox(text) }) }
            change.locale = locale
            if let replyTo {
                guard !noReplyTo else { throw CLIError("--reply-to and --no-reply-to cannot both be given") }
                change.replyTo = .some(try address("--reply-to") { try EmailAddress(replyTo) })
            } else if noReplyTo {
                change.replyTo = .some(nil)
            }
            change.allowAddresses = try allowAddress.map { text in try address("--allow-address") { try EmailAddress(text) } }
            change.disallowAddresses = try disallowAddress.map { text in
                try address("--disallow-address") { try EmailAddress(text) }
            }
            if let both = change.allowAddresses.first(where: change.disallowAddresses.contains) {
                throw CLIError("--allow-address and --disallow-address both name \(both.entered)")
            }
            change.allowOrigins = try allowOrigin.map { text in try serializedOrigin("--allow-origin", text) }
            change.disallowOrigins = try disallowOrigin.map { text in try serializedOrigin("--disallow-origin", text) }
            if let both = change.allowOrigins.first(where: change.disallowOrigins.contains) {
                throw CLIError("--allow-origin and --disallow-origin both name \(both)")
            }
            change.sitePages = try pages.changes()
            change.identity = try identity.change()
            change.softBounceLimit = try softBounceLimit.map { try SoftBouncePolicy.validLimit($0) }
            change.softBounceDays = try softBounceDays.map { try SoftBouncePolicy.validDays($0) }
            if let snapshotApprovals, !MailingList.snapshotApprovalsRange.contains(snapshotApprovals) {
                throw CLIError("--snapshot-approvals must be 0 to 9, not \(snapshotApprovals)")
            }
            change.snapshotApprovals = snapshotApprovals
            return change
        }
    }

    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a list: it takes no more subscriptions or snapshots; its members can still leave.",
            discussion: """
                The subscribe form and pending confirmation links answer 410 with a page saying the list is \
                closed; unsubscribe, one-click and preferences links keep working, and so do earlier snapshots. \
                Nothing is deleted, and a list_archived event records it. It cannot be undone.
                """
        )

        @Argument(help: "The list's slug.")
        var slug: String

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let slug = try ListSlug(slug)
            let store = try await database.openMigrated()
            let list = try await store.archiveList(slug, source: .cli)
            if output.json {
                try Console.printJSON(ListDocument(list, counts: try await store.memberCounts(listID: list.id)))
            } else {
                print("archived list '\(list.slug)' (\(list.name)): it takes no new subscriptions; its members can still leave")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every list with its member counts.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let store = try await database.openMigrated()
            var documents: [ListDocument] = []
            for list in try await store.allLists() {
                documents.append(ListDocument(list, counts: try await store.memberCounts(listID: list.id)))
            }
            if output.json {
                try Console.printJSON(documents)
            } else if documents.isEmpty {
                print("no lists yet: create one with `listgate lists create SLUG --name NAME --from MAILBOX`")
            } else {
                Console.printTable(
                    header: ["SLUG", "NAME", "LOCALE", "STATE", "ACTIVE", "PENDING", "FROM"],
                    rows: documents.map {
                        [$0.slug, $0.name, $0.locale, $0.archivedAt == nil ? "open" : "archived",
                         String($0.counts.active), String($0.counts.pending), $0.from]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one list.")

        @Argument(help: "The list's slug.")
        var slug: String

        @Flag(help: "Print an HTML form to paste into another website instead.")
        var embed = false

        @Option(help: ArgumentHelp(
            "With --embed: the server's public URL (env LISTGATE_BASE_URL; default http://127.0.0.1:8080).", valueName: "url"))
        var baseURL: String?

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let slug = try ListSlug(slug)
            let store = try await database.openMigrated()
            guard let list = try await store.list(slug) else { throw DomainError.listNotFound(slug.rawValue) }
            if embed {
                let settings = SettingsSource()
                let base = try settings.baseURL(flag: baseURL) ?? "http://127.0.0.1:8080"
                print(try await EmbedSnippet.html(for: list, baseURL: base, formsDirectory: settings.formsDirectory(flag: nil)))
                return
            }
            let document = ListDocument(list, counts: try await store.memberCounts(listID: list.id))
            if output.json {
                try Console.printJSON(document)
            } else {
                Console.printTable(header: ["FIELD", "VALUE"], rows: [
                    ["slug", document.slug],
                    ["name", document.name],
                    ["from", document.from],
                    ["reply-to", document.replyTo ?? "-"],
                    ["locale", document.locale],
                    ["allowed addresses", document.allowedAddresses.isEmpty ? "-" : document.allowedAddresses.joined(separator: ", ")],
                    ["allowed origins", document.allowedOrigins.isEmpty ? "any" : document.allowedOrigins.joined(separator: ", ")],
                    ["thanks page", document.pages[.thanks] ?? "-"],
                    ["confirmed page", document.pages[.confirmed] ?? "-"],
                    ["unsubscribed page", document.pages[.unsubscribed] ?? "-"],
                    ["privacy policy", document.pages[.privacy] ?? "-"],
                    ["legal name", document.legalName ?? "-"],
                    ["postal address", document.postalAddress ?? "-"],
                    ["contact", document.contact ?? "-"],
                    ["snapshot approvals", document.snapshotApprovals == 0
                        ? "none" : "\(document.snapshotApprovals) per snapshot before it can be streamed"],
                    ["soft bounces", "\(document.softBounceLimit) within \(document.softBounceDays) days make a subscription bounced"],
                    ["created", document.createdAt],
                    ["archived", document.archivedAt ?? "no"],
                    ["members", "\(document.counts.active) active, \(document.counts.pending) pending, "
                        + "\(document.counts.unsubscribed) unsubscribed, \(document.counts.bounced) bounced, "
                        + "\(document.counts.complained) complained"],
                ])
            }
        }
    }
}

/// The JSON shape of a list in `lists list --json` and `lists show --json`.
struct ListDocument: Encodable {
    let slug: String
    let name: String
    let from: String
    let fromEmail: String
    let replyTo: String?
    let locale: String
    let allowedAddresses: [String]
    let allowedOrigins: [String]
    let pages: [SitePage: String]
    let legalName: String?
    let postalAddress: String?
    let contact: String?
    let createdAt: String
    let archivedAt: String?
    let softBounceLimit: Int
    let softBounceDays: Int
    let snapshotApprovals: Int
    let counts: MemberCounts

    init(_ list: MailingList, counts: MemberCounts) {
        slug = list.slug.rawValue
        name = list.name
        from = list.from.formatted
        fromEmail = list.from.address.entered
        replyTo = list.replyTo?.entered
        locale = list.locale.rawValue
        allowedAddresses = list.allowedAddresses.map(\.entered)
        allowedOrigins = list.allowedOrigins
        pages = Dictionary(uniqueKeysWithValues: SitePage.allCases.compactMap { page in list.sitePages[page].map { (page, $0.text) } })
        legalName = list.senderIdentity.legalName
        postalAddress = list.senderIdentity.postalAddress
        contact = list.senderIdentity.contact?.text
        createdAt = Timestamp.string(list.createdAt)
        archivedAt = list.archivedAt.map { Timestamp.string($0) }
        softBounceLimit = list.softBounces.limit
        softBounceDays = list.softBounces.days
        snapshotApprovals = list.snapshotApprovals
        self.counts = counts
    }

    enum CodingKeys: String, CodingKey {
        case slug, name, from, locale, counts
        case fromEmail = "from_email"
        case replyTo = "reply_to"
        case allowedAddresses = "allowed_addresses"
        case allowedOrigins = "allowed_origins"
        case createdAt = "created_at"
        case archivedAt = "archived_at"
        case senderIdentity = "sender_identity"
        case softBounceLimit = "soft_bounce_limit"
        case softBounceDays = "soft_bounce_days"
        case snapshotApprovals = "snapshot_approvals"
    }

    enum IdentityKeys: String, CodingKey {
        case legalName = "legal_name"
        case postalAddress = "postal_address"
        case contact
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(slug, forKey: .slug)
        try container.encode(name, forKey: .name)
        try container.encode(from, forKey: .from)
        try container.encode(fromEmail, forKey: .fromEmail)
        try container.encode(replyTo, forKey: .replyTo)  // null when absent, not omitted
        try container.encode(locale, forKey: .locale)
        try container.encode(allowedAddresses, forKey: .allowedAddresses)
        try container.encode(allowedOrigins, forKey: .allowedOrigins)
        var urls = encoder.container(keyedBy: PageKey.self)
        for page in SitePage.allCases {
            try urls.encode(pages[page], forKey: PageKey(page.field))  // null when absent
        }
        // As the sender API gives it: always an object, each member null when not set.
        var identity = container.nestedContainer(keyedBy: IdentityKeys.self, forKey: .senderIdentity)
        try identity.encode(legalName, forKey: .legalName)
        try identity.encode(postalAddress, forKey: .postalAddress)
        try identity.encode(contact, forKey: .contact)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(archivedAt, forKey: .archivedAt)  // null while the list is open
        try container.encode(softBounceLimit, forKey: .softBounceLimit)
        try container.encode(softBounceDays, forKey: .softBounceDays)
        try container.encode(snapshotApprovals, forKey: .snapshotApprovals)
        try container.encode(counts, forKey: .counts)
    }
}

/// `thanks_url`, `privacy_url`, … in the JSON.
struct PageKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// `--thanks-url`, `--confirmed-url`, `--unsubscribed-url` and `--privacy-url`, shared by
/// `lists create` and `lists update`.
struct SitePageOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "After a successful subscribe form post, send the visitor to this page of your site (303) instead of listgate's page.",
        valueName: "url"))
    var thanksURL: String?

    @Option(help: ArgumentHelp("After confirming, send the visitor to this page of your site.", valueName: "url"))
    var confirmedURL: String?

    @Option(help: ArgumentHelp("After unsubscribing with the page's button, send the visitor to this page of your site.", valueName: "url"))
    var unsubscribedURL: String?

    @Option(help: ArgumentHelp("Your privacy policy, linked on the subscribe page and in the confirmation mail.", valueName: "url"))
    var privacyURL: String?

    /// The pages given, each validated; an empty value stands for "clear it".
    func changes() throws -> [SitePage: SitePageURL?] {
        var changes: [SitePage: SitePageURL?] = [:]
        for (page, value) in [(SitePage.thanks, thanksURL), (.confirmed, confirmedURL), (.unsubscribed, unsubscribedURL),
                              (.privacy, privacyURL)]
        {
            guard let value else { continue }
            if value.trimmingCharacters(in: .whitespaces).isEmpty {
                changes[page] = .some(nil)
                continue
            }
            do {
                changes[page] = try SitePageURL(value)
            } catch {
                throw CLIError("--\(page.rawValue)-url: \(error)")
            }
        }
        return changes
    }
}

/// `--legal-name`, `--postal-address` and `--contact`, shared by `lists create` and
/// `lists update`: who sends the list's mail, for its footer and the newsletter sender.
struct SenderIdentityOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The sender's legal name, e.g. \"株式会社サンプル\" (one line, at most 200 characters); shown in every mail.",
        valueName: "text"))
    var legalName: String?

    @Option(help: ArgumentHelp(
        "The sender's postal address (one line, at most 300 characters); shown in every mail.", valueName: "text"))
    var postalAddress: String?

    @Option(help: ArgumentHelp(
        "Where complaints and questions go: an address (it may then appear in mail) or an https:// URL.",
        valueName: "address-or-url"))
    var contact: String?

    /// The values given, each checked; an empty value stands for "clear it".
    func change() throws -> SenderIdentityChange {
        func parse<T>(_ value: String?, _ parser: (String) throws(DomainError) -> T) throws -> T?? {
            guard let value else { return nil }
            if value.trimmingCharacters(in: .whitespaces).isEmpty { return .some(nil) }
            return .some(try parser(value))
        }
        return SenderIdentityChange(
            legalName: try parse(legalName, SenderIdentity.legalName),
            postalAddress: try parse(postalAddress, SenderIdentity.postalAddress),
            contact: try parse(contact) { (text: String) throws(DomainError) in try SenderContact(text) })
    }
}

extension ListLocale: ExpressibleByArgument {}

/// An origin as a browser sends it (`https://X.example:443/` → `https://x.example`), or an
/// error that names the option and says what is wrong with it.
func serializedOrigin(_ option: String, _ text: String) throws -> String {
    do {
        return try WebOrigin(text).serialized
    } catch {
        throw CLIError("invalid origin for \(option): \(error); use scheme://host[:port], e.g. https://www.example.org")
    }
}

/// Runs a parser and names the option it came from in the error.
func address<T>(_ option: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as EmailAddressError {
        throw DomainError.invalidAddress(field: option, reason: error)
    }
}
