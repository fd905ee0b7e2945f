// The composition root, as the Hummingbird template's `buildApplication(reader:)` is: from
// one resolved `Settings`, everything `listgate serve` runs (the templates, checked; the
// store; the mail transport and the outbox worker; the webhook worker and its pruner; the snapshot
// pruner, the ledger's sealer and the log checkpointer; the metrics
// registry; the HTTP server with its routes), built in one place and in this order.
import Foundation
import Hummingbird
import ListgateCore
import ListgateMail
import ListgateServer
import ListgateSQLite
import ServiceLifecycle
import Logging
import Metrics
import Prometheus

func buildApplication(settings: Settings) async throws -> some ApplicationProtocol {
    // Every template, the operator's and the built-in ones, is read and rendered now:
    // one that would fail a visitor or a mail stops the start, naming its file.
    let composer = try AutoReplyComposer.load(formsDirectory: settings.server.formsDirectory)
    try composer.check()
    try ListgateHTTPServer.checkPages(formsDirectory: settings.server.formsDirectory)

    let location = DatabaseLocation(settings.databasePath)
    // On SQLite, checkpoints run off the writer, by the service below (LogCheckpoints.swift says why).
    let store = try await location.openMigrated(checkpoints: .inBackground)
    var sqliteServices: [any Service] = []
    if case .sqlite(let path) = location {
        sqliteServices.append(LogCheckpointService(checkpointer: try LogCheckpointer(path: path)))
    }
    var logger = Logger(label: "listgate")
    logger.logLevel = settings.logLevel
    raiseOpenFileLimit(for: settings.server.maxConnections, logger: logger)
    if settings.createDemoList, try await store.allLists().isEmpty {
        _ = try await store.createList(
            NewList(slug: ListSlug("demo"), name: "デモ・ニュースレター", from: Mailbox("listgate demo <demo@example.org>")),
            source: .cli)
    }
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

    let transport: any MailTransport
    do {
        transport = try settings.mail.destination.makeTransport(username: settings.mail.username, password: settings.mail.password)
    } catch {
        throw CLIError("invalid SMTP URL: \(error)")
    }
    // On SQLite the journal is also the lock that keeps a second `serve` off the database.
    // On PostgreSQL several may share it: each claims its messages under a lease
    // (README, "Running on PostgreSQL"), and there is no file beside the database to keep.
    var journal: DeliveryJournal?
    if case .sqlite(let path) = location {
        do { journal = try DeliveryJournal(forDatabaseAt: path) } catch {
            throw CLIError("another listgate serve is already running on \(path)")
        }
    }
    let worker = OutboxWorker(store: store, transport: transport, policy: settings.outbox, logger: logger, journal: journal)
    // Beside the outbox worker, not inside it: no receiver can hold mail back.
    let webhooks = WebhookWorker(store: store, policy: settings.webhooks, logger: logger)
    let pruner = SnapshotPruner(store: store, retentionDays: settings.snapshotRetentionDays, logger: logger)
    let webhookPruner = WebhookDeliveryPruner(store: store, retentionDays: settings.webhookRetentionDays, logger: logger)
    let server = ListgateHTTPServer(
        store: store, configuration: settings.server, renderer: composer, registry: registry, logger: logger,
        services: [
            worker, webhooks, webhookPruner, pruner,
            LedgerSealer(store: store, holder: LedgerSealing.holder("serve"), lease: try LedgerSealing.leaseDuration(), logger: logger),
        ] + sqliteServices,
        // The provider webhooks' GETs (SNS certificates, confirmations) go through libcurl.
        urlFetch: CurlURLFetch())

    let announcement = try await Announcement(settings: settings, lists: store.allLists())
    // Said once the port is really ours, so a busy port is one error line, not a claim.
    return try await server.buildApplication { port in announcement.print(port: port) }
}

/// What `serve` prints once it listens: where, each list's subscribe page, where mail goes.
struct Announcement: Sendable {
    let host: String
    let baseURL: String
    let slugs: [String]
    let mailTo: String

    init(settings: Settings, lists: [MailingList]) {
        host = settings.server.host
        baseURL = settings.server.resolvedBaseURL
        slugs = lists.map(\.slug.rawValue)
        mailTo = switch settings.mail.destination {
        case .smtp(let endpoint): "\(Self.redacted(endpoint.url)) (\(endpoint.security))"
        case .file: settings.mail.url.map(Self.redacted) ?? "./mail-outbox/ (one .eml file per message)"
        }
    }

    func print(port: Int) {
        Swift.print("listgate is serving on http://\(host):\(port)")
        for slug in slugs {
            Swift.print("  subscribe page for '\(slug)': \(baseURL)/lists/\(slug)/subscribe")
        }
        Swift.print("  mail goes to: \(mailTo)")
        fflush(nil)  // shown now even when stdout is a pipe (e.g. under make)
    }

    /// The URL without any user:password part, for logs.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil || components.user != nil else {
            return url
        }
        components.user = nil
        components.password = nil
        return components.string ?? url
    }
}

/// Each connection is a file descriptor; the usual soft limit (1,024) is below what the
/// connection cap and the database need together, and running out kills the process.
private func raiseOpenFileLimit(for maxConnections: Int, logger: Logger) {
    let files = OpenFileLimit.raiseToHardLimit()
    logger.log(
        level: files.before == files.after ? .debug : .info, "open-file limit",
        metadata: ["before": "\(files.before)", "after": "\(files.after)"])
    if files.after < UInt64(maxConnections) + 64 {
        logger.warning(
            "the open-file limit is close to the connection cap; lower --max-connections or raise the hard limit",
            metadata: ["limit": "\(files.after)", "max_connections": "\(maxConnections)"])
    }
}
