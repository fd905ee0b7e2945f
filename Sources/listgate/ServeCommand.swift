// `listgate serve`: the HTTP server, the outbox worker and the ledger's sealer, in one
// process, under one service group with graceful shutdown.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateMail
import ListgateServer
import Logging
import Metrics
import Prometheus

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server and the outbox worker.",
        discussion: """
            Refuses to start on a database that needs `listgate migrate`.
            Mail goes to LISTGATE_SMTP_URL (smtp://host:port, smtps://host:port, or \
            file:///dir); unset, it is written as .eml files to ./mail-outbox/. SMTP \
            credentials come from LISTGATE_SMTP_USERNAME and LISTGATE_SMTP_PASSWORD.

            On smtp://, LISTGATE_SMTP_TLS (or --smtp-tls) says when STARTTLS is used: \
            require (without it nothing is sent: no credentials, no mail; messages wait in \
            the outbox with the reason as their last error), opportunistic (when the server \
            offers it, otherwise in the clear) or none. The default is require whenever SMTP \
            credentials are set, otherwise opportunistic. smtps:// is always TLS.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (env LISTGATE_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env LISTGATE_PORT; default 8080).")
    var port: Int?

    @Option(help: ArgumentHelp("Where mail goes: smtp://host:port (STARTTLS as --smtp-tls says), smtps://host:port or file:///absolute/dir (env LISTGATE_SMTP_URL; default: .eml files in ./mail-outbox/).", valueName: "url"))
    var smtpURL: String?

    // A string rather than an enum, so a bad flag and a bad LISTGATE_SMTP_TLS get the same message.
    @Option(name: .customLong("smtp-tls"), help: ArgumentHelp(
        "STARTTLS on smtp://: require (or nothing is sent), opportunistic (when offered) or none (env LISTGATE_SMTP_TLS; default require when SMTP credentials are set, otherwise opportunistic; smtps:// is always TLS).",
        valueName: "mode"))
    var smtpTLS: String?

    @Option(help: ArgumentHelp(
        "Public URL of this server, used in links in mail (env LISTGATE_BASE_URL; default http://HOST:PORT).",
        valueName: "url"))
    var baseURL: String?

    @Option(name: .customLong("trusted-proxy"), help: ArgumentHelp(
        "A reverse proxy whose X-Forwarded-For (or Forwarded) names the client: an address or a network such as 10.0.0.0/8; repeatable (env LISTGATE_TRUSTED_PROXIES, comma-separated; default none: the peer is the client).",
        valueName: "cidr"))
    var trustedProxies: [String] = []

    @Option(help: ArgumentHelp(
        "Your own wording: a directory laid out like Forms/ (pages/, mail/) whose templates replace the built-in ones of the same name; all are checked at start (env LISTGATE_FORMS_DIR; default: the built-in ones).",
        valueName: "dir"))
    var formsDir: String?

    @Flag(help: "Create a `demo` list first if there are no lists yet (used by `make run`).")
    var demo = false

    @Option(help: ArgumentHelp(
        "Mail ceiling: send at most this many messages a minute; more are held and sent at this rate, leavers first (env LISTGATE_MAIL_CEILING; default 300).",
        valueName: "count"))
    var mailCeiling: Int?

    @Option(help: ArgumentHelp(
        "First retry delay in seconds after a 4xx answer or a network error; it doubles with each attempt, up to the retry cap (env LISTGATE_RETRY_BASE; default 30).",
        valueName: "seconds"))
    var retryBase: Double?

    @Option(help: ArgumentHelp(
        "Longest retry delay in seconds (env LISTGATE_RETRY_CAP; default 3600).", valueName: "seconds"))
    var retryCap: Double?

    @Option(help: ArgumentHelp(
        "Most connections open at once; when all are taken, the one waiting longest for a request gives way (env LISTGATE_MAX_CONNECTIONS; default 512).",
        valueName: "count"))
    var maxConnections: Int?

    @Option(help: ArgumentHelp(
        "Seconds a client has to send a whole request head (env LISTGATE_HEADER_TIMEOUT; default 10).", valueName: "seconds"))
    var headerTimeout: Double?

    @Option(help: ArgumentHelp(
        "Days a snapshot's members are kept; then they are deleted and its stream answers 410 (env LISTGATE_SNAPSHOT_RETENTION; default 30).",
        valueName: "days"))
    var snapshotRetention: Int?

    @Option(help: ArgumentHelp(
        "Longest pause, in seconds, between two parts of a request body (env LISTGATE_BODY_TIMEOUT; default 10).",
        valueName: "seconds"))
    var bodyTimeout: Double?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let host = self.host ?? environment["LISTGATE_HOST"] ?? "127.0.0.1"
        let port = try Self.number("port", port.map(String.init) ?? environment["LISTGATE_PORT"] ?? "8080", in: 0...65535)
        var policy = OutboxPolicy()
        policy.ceilingPerMinute = try Self.number(
            "mail ceiling", mailCeiling.map(String.init) ?? environment["LISTGATE_MAIL_CEILING"] ?? "300", in: 1...1_000_000)
        // Short delays are for tests and for a relay on the same host; the defaults suit a real MTA.
        if let text = retryBase.map({ String($0) }) ?? environment["LISTGATE_RETRY_BASE"] {
            policy.retryBase = try Self.seconds("retry base", text)
        }
        if let text = retryCap.map({ String($0) }) ?? environment["LISTGATE_RETRY_CAP"] {
            policy.retryCap = try Self.seconds("retry cap", text, upTo: 86_400)
        }
        guard policy.retryCap >= policy.retryBase else {
            throw CLIError("the retry cap (\(policy.retryCap)) is shorter than the retry base (\(policy.retryBase))")
        }
        let smtpURL = smtpURL ?? environment["LISTGATE_SMTP_URL"]
        if let smtpURL, smtpURL.lowercased().hasPrefix("smtp"), !CurlCapabilities.linked.speaksSMTP {
            throw CLIError("the system's libcurl (\(CurlCapabilities.linked.version)) was built without SMTP support")
        }
        let username = environment["LISTGATE_SMTP_USERNAME"], password = environment["LISTGATE_SMTP_PASSWORD"]
        let tls = try Self.smtpTLSMode(smtpTLS ?? environment["LISTGATE_SMTP_TLS"])
            ?? .defaultMode(username: username, password: password)
        let destination: TransportConfiguration
        let transport: any MailTransport
        do {
            destination = try TransportConfiguration(url: smtpURL, tls: tls)
            transport = try destination.makeTransport(username: username, password: password)
        } catch {
            throw CLIError("invalid SMTP URL: \(error)")
        }

        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.baseURL = try (baseURL ?? environment["LISTGATE_BASE_URL"]).map(Self.validBaseURL)
        configuration.secretKey = environment["LISTGATE_SECRET_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.metricsToken = environment["LISTGATE_METRICS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            configuration.trustedProxies = try TrustedProxies(
                parsing: trustedProxies.isEmpty ? [environment["LISTGATE_TRUSTED_PROXIES"] ?? ""] : trustedProxies)
        } catch { throw CLIError(error.description) }
        if let limits = environment["LISTGATE_RATE_LIMITS"] {
            do { configuration.rateLimits = try RateLimits(parsing: limits) } catch { throw CLIError(error.description) }
        }
        configuration.maxConnections = try Self.number(
            "maximum number of connections", maxConnections.map(String.init) ?? environment["LISTGATE_MAX_CONNECTIONS"] ?? "512",
            in: 1...1_000_000)
        if let text = headerTimeout.map({ String($0) }) ?? environment["LISTGATE_HEADER_TIMEOUT"] {
            configuration.headerTimeout = try Self.seconds("header timeout", text, upTo: 600)
        }
        if let text = bodyTimeout.map({ String($0) }) ?? environment["LISTGATE_BODY_TIMEOUT"] {
            configuration.bodyTimeout = try Self.seconds("body timeout", text, upTo: 600)
        }
        let retentionDays = try Self.number(
            "snapshot retention", snapshotRetention.map(String.init) ?? environment["LISTGATE_SNAPSHOT_RETENTION"] ?? "30",
            in: 1...36_500)
        configuration.diskSpace = DiskSpace(databasePath: database.resolvedPath)
        // Every template, the operator's and the built-in ones, is read and rendered now:
        // one that would fail a visitor or a mail stops the start, naming its file.
        configuration.formsDirectory = formsDir ?? environment["LISTGATE_FORMS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        let composer = try AutoReplyComposer.load(formsDirectory: configuration.formsDirectory)
        try composer.check()
        try ListgateHTTPServer.checkPages(formsDirectory: configuration.formsDirectory)

        let store = try await database.openMigrated()
        var logger = Logger(label: "listgate")
        let level = environment["LISTGATE_LOG_LEVEL"].map { $0.lowercased() } ?? "info"
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw CLIError("invalid LISTGATE_LOG_LEVEL '\(level)': use trace, debug, info, notice, warning, error or critical")
        }
        logger.logLevel = logLevel
        // Each connection is a file descriptor; the usual soft limit (1,024) is below what
        // the connection cap and the database need together, and running out kills the process.
        let files = OpenFileLimit.raiseToHardLimit()
        logger.log(
            level: files.before == files.after ? .debug : .info, "open-file limit",
            metadata: ["before": "\(files.before)", "after": "\(files.after)"])
        if files.after < UInt64(configuration.maxConnections) + 64 {
            logger.warning(
                "the open-file limit is close to the connection cap; lower --max-connections or raise the hard limit",
                metadata: ["limit": "\(files.after)", "max_connections": "\(configuration.maxConnections)"])
        }
        if demo, try await store.allLists().isEmpty {
            _ = try await store.createList(
                NewList(slug: ListSlug("demo"), name: "デモ・ニュースレター", from: Mailbox("listgate demo <demo@example.org>")),
                source: .cli)
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let journal: DeliveryJournal
        do { journal = try DeliveryJournal(forDatabaseAt: database.resolvedPath) } catch {
            throw CLIError("another listgate serve is already running on \(database.resolvedPath)")
        }
        let worker = OutboxWorker(store: store, transport: transport, policy: policy, logger: logger, journal: journal)
        let server = ListgateHTTPServer(
            store: store, configuration: configuration, renderer: composer, registry: registry, logger: logger,
            services: [
                worker, SnapshotPruner(store: store, retentionDays: retentionDays, logger: logger),
                LedgerSealer(store: store, holder: LedgerSealing.holder("serve"), lease: try LedgerSealing.leaseDuration(), logger: logger),
            ])
        let lists = try await store.allLists()
        let baseURL = configuration.resolvedBaseURL
        let mailTo = switch destination {
        case .smtp(let endpoint): "\(Self.redacted(endpoint.url)) (\(endpoint.security))"
        case .file: smtpURL.map(Self.redacted) ?? "./mail-outbox/ (one .eml file per message)"
        }
        // Said once the port is really ours, so a busy port is one error line, not a claim.
        let application = try await server.buildApplication { port in
            print("listgate is serving on http://\(host):\(port)")
            for list in lists {
                print("  subscribe page for '\(list.slug)': \(baseURL)/lists/\(list.slug)/subscribe")
            }
            print("  mail goes to: \(mailTo)")
            fflush(nil)  // shown now even when stdout is a pipe (e.g. under make)
        }
        do {
            try await application.runService()
        } catch where ListgateHTTPServer.isAddressInUse(error) {
            throw CLIError("cannot listen on \(host):\(port): the port is already in use")
        }
    }

    /// The TLS mode an operator wrote; nil when none was (empty counts as none), so
    /// the default that depends on the credentials applies.
    static func smtpTLSMode(_ text: String?) throws -> SMTPTLSMode? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let mode = SMTPTLSMode(rawValue: text.lowercased()) else {
            throw CLIError("invalid SMTP TLS mode '\(text)' (--smtp-tls or LISTGATE_SMTP_TLS): use \(SMTPTLSMode.accepted)")
        }
        return mode
    }

    static func validBaseURL(_ text: String) throws -> String {
        guard let url = URLComponents(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false,
              url.query == nil, url.fragment == nil
        else { throw CLIError("invalid base URL '\(text)': use e.g. https://lists.example.org") }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// A number of seconds from 0.01 to `limit`, as a Duration.
    static func seconds(_ name: String, _ text: String, upTo limit: Double = 3600) throws -> Duration {
        guard let seconds = Double(text), seconds >= 0.01, seconds <= limit else {
            throw CLIError("invalid \(name) '\(text)': use a number of seconds from 0.01 to \(Int(limit))")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    static func number(_ name: String, _ text: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw CLIError("invalid \(name) '\(text)': use a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
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

/// RLIMIT_NOFILE: the soft limit raised to the hard one, which a process may do for itself.
/// (Where the hard limit is "unlimited" and the kernel refuses that, the soft one stays.)
enum OpenFileLimit {
    #if os(Linux)
    private static let resource = Int32(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif

    static func raiseToHardLimit() -> (before: UInt64, after: UInt64) {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return (0, 0) }
        let before = UInt64(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(resource, &limit) == 0 else { return (before, before) }
        return (before, UInt64(limit.rlim_cur))
    }
}
