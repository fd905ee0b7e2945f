// `listgate tokens create | list | revoke`: bearer tokens for the newsletter sender.
import ArgumentParser
import Foundation
import ListgateCore

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Manage the sender API's bearer tokens (one list each).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token for one list; prints it once, on stdout alone.",
            discussion: """
                Only its SHA-256 is stored: a lost token cannot be shown again; revoke it and create another.

                Scopes say what the token may do on its list (repeat --scope for more than one):
                  audience:read     snapshots, the recipients stream, the unsubscribes feed (the default)
                  feedback:write    report bounces, complaints and unsubscribes (POST .../feedback)
                  audience:approve  approve snapshots

                Example, a token for the sender's bounce processor only:
                  listgate tokens create --list news --name mta-1 --scope feedback:write
                """)
        @Option(help: "The list this token may use.") var list: String
        @Option(help: "A name to recognise the token by (e.g. the sender's host).") var name: String?
        @Option(help: ArgumentHelp(
            "What the token may do: audience:read (default), feedback:write or audience:approve (repeatable).",
            valueName: "scope"))
        var scope: [String] = []
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let slug = try ListSlug(list)
            if let name, let problem = OneLineName.problem(name) { throw CLIError("invalid --name: \(problem)") }
            let scopes = try scope.map { text in
                guard let scope = SenderScope(rawValue: text) else {
                    throw CLIError(
                        "unknown scope '\(text.printable)': use "
                            + SenderScope.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return scope
            }
            let secret = SenderTokenSecret.generate()
            _ = try await database.openMigrated().createSenderToken(
                list: slug, name: name, scopes: scopes.isEmpty ? [.audienceRead] : scopes, secret: secret, source: .cli)
            print(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let tokens = try await database.openMigrated().senderTokens()
            if output.json {
                try Console.printJSON(tokens.map(TokenDocument.init))
            } else if tokens.isEmpty {
                print("no tokens yet: create one with `listgate tokens create --list SLUG`")
            } else {
                Console.printTable(
                    header: ["ID", "LIST", "NAME", "SCOPES", "CREATED", "LAST USED", "STATE"],
                    rows: tokens.map {
                        [$0.id, $0.listSlug, $0.name ?? "-", $0.scopes.map(\.rawValue).joined(separator: " "),
                         Timestamp.string($0.createdAt),
                         $0.lastUsedAt.map(Timestamp.string) ?? "never", $0.revokedAt == nil ? "active" : "revoked"]
                    })
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; it stops working at once.")
        @Argument(help: "The token's id, as shown by `tokens list`.") var id: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.openMigrated().revokeSenderToken(id: id, source: .cli)
            print("token \(id) revoked")
        }
    }
}

/// A token in `tokens list --json`: never its secret; null for what has not happened.
struct TokenDocument: Encodable {
    let id: String
    let list: String
    let name: String?
    let scopes: [String]
    let createdAt: String
    let lastUsedAt: String?
    let revokedAt: String?

    init(_ token: SenderToken) {
        id = token.id
        list = token.listSlug
        name = token.name
        scopes = token.scopes.map(\.rawValue)
        createdAt = Timestamp.string(token.createdAt)
        lastUsedAt = token.lastUsedAt.map(Timestamp.string)
        revokedAt = token.revokedAt.map(Timestamp.string)
    }

    enum CodingKeys: String, CodingKey {
        case id, list, name, scopes
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(list, forKey: .list)
        try container.encode(name, forKey: .name)  // null when absent, as before
        try container.encode(scopes, forKey: .scopes)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastUsedAt, forKey: .lastUsedAt)
        try container.encode(revokedAt, forKey: .revokedAt)
    }
}
