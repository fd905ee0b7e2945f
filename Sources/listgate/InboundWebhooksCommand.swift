// `listgate webhooks inbound add | list | remove`: which provider may report bounces and
// complaints for which list (README, "Provider webhooks"). Secrets are shown once, when
// generated, and never listed; each change is a ledger event naming provider and id.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateServer

extension WebhookSourceError: UserFacingError {}

struct InboundWebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbound",
        abstract: "Manage provider webhooks that report bounces and complaints (ses, sendgrid, mailgun, postmark).",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a provider report bounces and complaints for a list; prints its webhook URL.",
            discussion: """
                ses: --topic-arn (recommended: without it, any SNS topic that subscribes the URL is believed). \
                sendgrid: --public-key (the Signed Event Webhook's verification key). \
                mailgun: --signing-key (the HTTP webhook signing key). \
                postmark: --username (default listgate) and --password (generated and shown once when left out).
                """)
        @Argument(help: "The provider: ses, sendgrid, mailgun or postmark.") var provider: String
        @Option(help: "The list the provider reports for.") var list: String
        @Option(help: "ses: accept notifications of this SNS topic only.") var topicArn: String?
        @Option(help: "sendgrid: the verification key, base64, as SendGrid shows it.") var publicKey: String?
        @Option(help: "mailgun: the HTTP webhook signing key.") var signingKey: String?
        @Option(help: "postmark: the Basic user name (default: listgate).") var username: String?
        @Option(help: "postmark: the Basic password (default: generated, shown once).") var password: String?
        @Option(help: "The public URL listgate is reached at, for the URL printed (env LISTGATE_BASE_URL).") var baseURL: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard let provider = WebhookProvider(rawValue: provider) else {
                throw CLIError("unknown provider '\(provider)': use \(WebhookProvider.names)")
            }
            let slug = try ListSlug(list)
            var generated: String?
            let setting: WebhookSourceSetting
            try refuseOptions(notFor: provider)
            switch provider {
            case .ses:
                setting = .ses(topicARN: topicArn)
            case .sendgrid:
                guard let publicKey else { throw CLIError("sendgrid needs --public-key (the Signed Event Webhook's verification key)") }
                setting = .sendgrid(publicKey: publicKey)
            case .mailgun:
                guard let signingKey else { throw CLIError("mailgun needs --signing-key (the HTTP webhook signing key)") }
                setting = .mailgun(signingKey: signingKey)
            case .postmark:
                if password == nil { generated = WebhookSourcePassword.generate() }
                setting = .postmark(username: username ?? "listgate", password: password ?? generated ?? "")
            }
            if let problem = ProviderWebhookSettings.problem(setting) { throw CLIError(problem) }
            let base = try SettingsSource().baseURL(flag: baseURL) ?? Self.defaultBaseURL
            let source = try await database.openMigrated().addWebhookSource(list: slug, setting: setting, source: .cli)

            print("id: \(source.id)")
            let path = "/webhooks/\(provider.rawValue)/\(slug.rawValue)"
            if case .postmark(let user, let secret) = setting, var url = URLComponents(string: base + path) {
                url.user = user
                url.password = secret
                print("url: \(url.string ?? base + path)")
                print("username: \(user)")
                if let generated { print("password: \(generated)") }
                FileHandle.standardError.write(Data("note: only a hash of the password is kept; it cannot be shown again\n".utf8))
            } else {
                print("url: \(base + path)")
            }
            if case .ses(nil) = setting {
                FileHandle.standardError.write(Data(
                    "warning: without --topic-arn, notifications of any SNS topic that subscribes this URL are believed\n".utf8))
            }
        }

        /// `serve`'s own default base URL (LISTGATE_HOST, LISTGATE_PORT).
        static var defaultBaseURL: String {
            let environment = ProcessInfo.processInfo.environment
            return "http://\(environment["LISTGATE_HOST"] ?? "127.0.0.1"):\(environment["LISTGATE_PORT"] ?? "8080")"
        }

        /// An option for another provider is a mistake to point out, not to ignore.
        func refuseOptions(notFor provider: WebhookProvider) throws {
            let given: [(String, Bool, WebhookProvider)] = [
                ("--topic-arn", topicArn != nil, .ses), ("--public-key", publicKey != nil, .sendgrid),
                ("--signing-key", signingKey != nil, .mailgun), ("--username", username != nil, .postmark),
                ("--password", password != nil, .postmark),
            ]
            for (option, isGiven, owner) in given where isGiven && owner != provider {
                throw CLIError("\(option) is for \(owner.rawValue), not \(provider.rawValue)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List provider webhooks (never their secrets).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let sources = try await database.openMigrated().webhookSources()
            if output.json {
                try Console.printJSON(sources.map { source in
                    [
                        "id": source.id, "provider": source.provider.rawValue, "list": source.listSlug,
                        "created_at": Timestamp.string(source.createdAt), "topic_arn": source.topicARN, "username": source.username,
                    ]
                })
            } else if sources.isEmpty {
                print("no provider webhooks yet: add one with `listgate webhooks inbound add PROVIDER --list SLUG`")
            } else {
                Console.printTable(
                    header: ["ID", "PROVIDER", "LIST", "DETAIL", "CREATED"],
                    rows: sources.map {
                        [$0.id, $0.provider.rawValue, $0.listSlug,
                         $0.topicARN.map { "topic \($0)" } ?? $0.username.map { "user \($0)" } ?? "-",
                         Timestamp.string($0.createdAt)]
                    })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a provider webhook; its requests are refused at once.")
        @Argument(help: "The webhook's id, as shown by `webhooks inbound list`.") var id: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await database.openMigrated().removeWebhookSource(id: id, source: .cli)
            print("inbound webhook \(id) removed")
        }
    }
}
