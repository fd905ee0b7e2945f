// `listgate lists create | list | show`: define lists and look at them.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateServer

struct ListsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lists",
        abstract: "Create, change and inspect mailing lists.",
        subcommands: [Create.self, Update.self, List.self, Show.self]
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
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            // Validate everything before touching the database: bad input changes nothing.
            var sitePages = SitePages()
            for (page, url) in try pages.changes() { sitePages[page] = url }
            let newList = try NewList(
                slug: ListSlug(slug),
                name: name,
                from: address("--from") { try Mailbox(from) },
                replyTo: replyTo.map { text in try address("--reply-to") { try EmailAddress(text) } },
                locale: locale,
                allowedAddresses: allowAddress.map { text in try address("--allow-address") { try EmailAddress(text) } },
                allowedOrigins: allowOrigin.map { text in try serializedOrigin("--allow-origin", text) },
                sitePages: sitePages)
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
            abstract: "Change a list's website pages.",
            discussion: """
                Prints each field that changed; a running server uses the change within a second.
                An empty value clears the page (listgate shows its own page again).

                Example:
                  listgate lists update news --thanks-url https://www.example.co.jp/newsletter/thanks \\
                    --privacy-url https://www.example.co.jp/privacy
                """
        )

        @Argument(help: "The list's slug.")
        var slug: String

        @OptionGroup var pages: SitePageOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let slug = try ListSlug(slug)
            let changes = try pages.changes()
            guard !changes.isEmpty else {
                throw CLIError("nothing to change: give at least one of --thanks-url, --confirmed-url, --unsubscribed-url, --privacy-url")
            }
            let store = try await database.openMigrated()
            let (list, changed) = try await store.updateSitePages(slug, changes, source: .cli)
            if output.json {
                try Console.printJSON(ListDocument(list, counts: try await store.memberCounts(listID: list.id)))
            } else if changed.isEmpty {
                print("list '\(list.slug)' unchanged: every value was already so")
            } else {
                for change in changed {
                    print("\(change.field): \(change.before ?? "(none)") -> \(change.after ?? "(none)")")
                }
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
                    header: ["SLUG", "NAME", "LOCALE", "ACTIVE", "PENDING", "FROM"],
                    rows: documents.map {
                        [$0.slug, $0.name, $0.locale, String($0.counts.active), String($0.counts.pending), $0.from]
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
                let base = try ServeCommand.validBaseURL(
                    baseURL ?? ProcessInfo.processInfo.environment["LISTGATE_BASE_URL"] ?? "http://127.0.0.1:8080")
                print(try await EmbedSnippet.html(
                    for: list, baseURL: base,
                    formsDirectory: ProcessInfo.processInfo.environment["LISTGATE_FORMS_DIR"].flatMap { $0.isEmpty ? nil : $0 }))
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
                    ["created", document.createdAt],
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
    let createdAt: String
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
        createdAt = Timestamp.string(list.createdAt)
        self.counts = counts
    }

    enum CodingKeys: String, CodingKey {
        case slug, name, from, locale, counts
        case fromEmail = "from_email"
        case replyTo = "reply_to"
        case allowedAddresses = "allowed_addresses"
        case allowedOrigins = "allowed_origins"
        case createdAt = "created_at"
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
        try container.encode(createdAt, forKey: .createdAt)
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
