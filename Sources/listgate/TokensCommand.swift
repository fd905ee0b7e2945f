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
            abstract: "Create a token that reads one list; prints it once, on stdout alone.",
            discussion: "Only its SHA-256 is stored: a lost token cannot be shown again; revoke it and create another.")
        @Option(help: "The list this token may read.") var list: String
        @Option(help: "A name to recognise the token by (e.g. the sender's host).") var name: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let slug = try ListSlug(list)
            if let name, let problem = OneLineName.problem(name) { throw CLIError("invalid --name: \(problem)") }
            let secret = SenderTokenSecret.generate()
            _ = try await database.openMigrated().createSenderToken(list: slug, name: name, secret: secret, source: .cli)
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
                try Console.printJSON(tokens.map { token in
                    [
                        "id": token.id, "list": token.listSlug, "name": token.name,
                        "created_at": Timestamp.string(token.createdAt),
                        "last_used_at": token.lastUsedAt.map(Timestamp.string),
                        "revoked_at": token.revokedAt.map(Timestamp.string),
                    ]
                })
            } else if tokens.isEmpty {
                print("no tokens yet: create one with `listgate tokens create --list SLUG`")
            } else {
                Console.printTable(
                    header: ["ID", "LIST", "NAME", "CREATED", "LAST USED", "STATE"],
                    rows: tokens.map {
                        [$0.id, $0.listSlug, $0.name ?? "-", Timestamp.string($0.createdAt),
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
