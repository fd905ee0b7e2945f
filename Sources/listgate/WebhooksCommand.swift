// `listgate webhooks …`: outbound webhooks, a list's changes POSTed to receivers the admin
// names (README, "Receiving webhooks"). The delivery itself runs in `listgate serve`.
// This command is also the parent of the provider (inbound) webhooks' subcommands.
import ArgumentParser
import Foundation
import ListgateCore

struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Tell other systems (a CRM, a data warehouse) of a list's changes, as signed HTTP POSTs.",
        discussion: """
            Each change of a list (subscribed, unsubscribed, bounced, complained, blocked, \
            forgotten) is queued for every webhook of that list that wants it, in the change's \
            own transaction, and POSTed by `listgate serve` as JSON signed the Standard Webhooks \
            way. Failed POSTs are retried with backoff for 3 days, then shown by \
            `webhooks deliveries --failed`.
            """,
        subcommands: [Add.self, List.self, Remove.self, Deliveries.self, Retry.self, InboundWebhooksCommand.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a receiver; prints its id and its signing secret, once.",
            discussion: """
                The secret (whsec_…) is what the receiver verifies each request's \
                webhook-signature with; it is stored encrypted and never shown again: keep it \
                now. URLs must be http:// or https:// with a host; redirects are not followed.
                """)
        @Argument(help: ArgumentHelp("Where to POST, e.g. https://crm.example.com/hooks/listgate.", valueName: "url"))
        var url: String
        @Option(help: "The list whose changes are sent.") var list: String
        @Option(name: .customLong("event"), help: ArgumentHelp(
            "A kind of change to send (repeatable; default: all): \(WebhookEventType.accepted).", valueName: "type"))
        var events: [String] = []
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let slug = try ListSlug(list)
            // Checked before the database is opened, so a bad URL changes nothing anywhere.
            _ = try WebhookURL(url)
            let registry = WebhookRegistry(store: try await database.openMigrated())
            let (webhook, secret) = try await registry.add(url: url, list: slug, types: events, source: .cli)
            print("webhook \(webhook.id) added for list \(webhook.listSlug): \(webhook.types.map(\.rawValue).joined(separator: ", "))")
            print("signing secret (shown once; the receiver verifies webhook-signature with it):")
            print(secret.text)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List receivers (never their secrets), with their queues.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let webhooks = try await database.openMigrated().webhooks()
            if output.json {
                try Console.printJSON(webhooks.map(WebhookDocument.init))
            } else if webhooks.isEmpty {
                print("no webhooks yet: add one with `listgate webhooks add URL --list SLUG`")
            } else {
                Console.printTable(
                    header: ["ID", "LIST", "URL", "EVENTS", "PENDING", "FAILED", "STATE"],
                    rows: webhooks.map {
                        [$0.id, $0.listSlug, $0.url,
                         $0.types.count == WebhookEventType.allCases.count ? "all" : $0.types.map(\.rawValue).joined(separator: ","),
                         String($0.pending), String($0.failed), $0.removedAt == nil ? "active" : "removed"]
                    })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a receiver: nothing more is sent to it; what was waiting is marked failed.")
        @Argument(help: ArgumentHelp("The webhook's id (wh_…, see `webhooks list`).", valueName: "id")) var id: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let removed = try await database.openMigrated().removeWebhook(id: id, source: .cli, at: Date())
            print("webhook \(removed.id) removed (\(removed.url))")
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List deliveries, newest first: kind, state, attempts, last answer.",
            discussion: "A failed delivery was not answered 2xx within 3 days of retries (or its webhook was removed); `webhooks retry ID` queues it again.")
        @Flag(help: "Only deliveries that failed for good.") var failed = false
        @Option(help: ArgumentHelp("Show at most this many, the newest.", valueName: "count")) var limit = 100
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let deliveries = try await database.openMigrated(sealingOnExit: false)
                .webhookDeliveries(status: failed ? .failed : nil, limit: limit)
            if output.json {
                try Console.printJSON(deliveries.map(DeliveryDocument.init))
            } else if deliveries.isEmpty {
                print(failed ? "no failed deliveries" : "no deliveries")
            } else {
                Console.printTable(
                    header: ["ID", "WEBHOOK", "LIST", "TYPE", "STATE", "ATTEMPTS", "QUEUED", "NEXT ATTEMPT", "LAST ERROR"],
                    rows: deliveries.map {
                        [$0.id, $0.webhookID, $0.listSlug, $0.type.rawValue, $0.status.rawValue, String($0.attempts),
                         Timestamp.string($0.createdAt), $0.nextAttemptAt.map(Timestamp.string) ?? "-",
                         OutboxCommand.List.oneLine($0.lastError ?? "")]
                    })
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a failed delivery again now, with 3 more days of retries.")
        @Argument(help: ArgumentHelp("The delivery's id (msg_…, see `webhooks deliveries --failed`).", valueName: "id"))
        var id: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let delivery = try await database.openMigrated().retryWebhookDelivery(id: id, at: Date())
            print("delivery \(delivery.id) queued again; a running listgate serve sends it within a second")
        }
    }
}

struct WebhookDocument: Encodable {
    let id: String, list: String, url: String, events: [String], createdAt: String, removedAt: String?
    let pending: Int, failed: Int

    init(_ webhook: Webhook) {
        id = webhook.id
        list = webhook.listSlug
        url = webhook.url
        events = webhook.types.map(\.rawValue)
        createdAt = Timestamp.string(webhook.createdAt)
        removedAt = webhook.removedAt.map(Timestamp.string)
        pending = webhook.pending
        failed = webhook.failed
    }

    enum CodingKeys: String, CodingKey {
        case id, list, url, events, pending, failed
        case createdAt = "created_at", removedAt = "removed_at"
    }
}

struct DeliveryDocument: Encodable {
    let id: String, webhook: String, list: String, type: String, status: String, attempts: Int
    let createdAt: String, nextAttemptAt: String?, deliveredAt: String?, lastStatus: Int?, lastError: String?

    init(_ delivery: WebhookDeliveryRecord) {
        id = delivery.id
        webhook = delivery.webhookID
        list = delivery.listSlug
        type = delivery.type.rawValue
        status = delivery.status.rawValue
        attempts = delivery.attempts
        createdAt = Timestamp.string(delivery.createdAt)
        nextAttemptAt = delivery.nextAttemptAt.map(Timestamp.string)
        deliveredAt = delivery.deliveredAt.map(Timestamp.string)
        lastStatus = delivery.lastStatus
        lastError = delivery.lastError
    }

    enum CodingKeys: String, CodingKey {
        case id, webhook, list, type, status, attempts
        case createdAt = "created_at", nextAttemptAt = "next_attempt_at", deliveredAt = "delivered_at"
        case lastStatus = "last_status", lastError = "last_error"
    }
}
