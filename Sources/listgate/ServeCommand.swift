// `listgate serve`: the HTTP server, the outbox worker and the ledger's sealer, in one
// service group with graceful shutdown. Its flags become `Settings` (Settings.swift), and
// `buildApplication(settings:)` (Application+build.swift) composes what runs.
import ArgumentParser
import Foundation
import ListgateServer

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
        let settings = try Settings(serve: self)
        let application = try await buildApplication(settings: settings)
        do {
            try await application.runService()
        } catch where ListgateHTTPServer.isAddressInUse(error) {
            throw CLIError("cannot listen on \(settings.server.host):\(settings.server.port): the port is already in use")
        }
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
