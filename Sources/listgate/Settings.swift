// Every setting listgate runs with, resolved once: the flag if given, else the environment
// variable, else the default (README, "Configuration"). Each value is checked here, and one
// that makes no sense stops the command with one `error:` line naming it. `SettingsSource`
// is the one place that reads the environment; `Settings` is what `serve` runs with, and
// `buildApplication(settings:)` (Application+build.swift) composes the process from it.
import Foundation
import ListgateCore
import ListgateMail
import ListgateServer
import Logging

/// Flags over environment variables: every command reads its settings through this.
struct SettingsSource {
    let environment: [String: String]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The flag, else the variable as it is (empty included).
    func value(_ flag: String?, _ variable: String) -> String? {
        flag ?? environment[variable]
    }

    /// The variable, where empty means unset (secrets, directories).
    func nonEmpty(_ variable: String) -> String? {
        environment[variable].flatMap { $0.isEmpty ? nil : $0 }
    }

    func databasePath(flag: String?) -> String {
        value(flag, "LISTGATE_DB") ?? "./listgate.sqlite3"
    }

    /// LISTGATE_FORMS_DIR / --forms-dir: the operator's templates (nil: the built-in ones).
    func formsDirectory(flag: String?) -> String? {
        flag ?? nonEmpty("LISTGATE_FORMS_DIR")
    }

    /// LISTGATE_SEALER_LEASE_SECONDS (tests shorten it to watch a handover): how long the
    /// ledger sealer's lease holds when its holder stops renewing it.
    func sealerLease() throws -> Duration {
        guard let text = nonEmpty("LISTGATE_SEALER_LEASE_SECONDS") else { return .seconds(10) }
        guard let seconds = Double(text), seconds >= 0.1, seconds <= 3600 else {
            throw CLIError("invalid LISTGATE_SEALER_LEASE_SECONDS '\(text)': use a number of seconds from 0.1 to 3600")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// LISTGATE_DB_TIMEOUT: how long an operation waits for a PostgreSQL connection before
    /// it fails (503 under `serve`), 10 s by default.
    func databaseTimeout() throws -> Duration {
        try seconds("LISTGATE_DB_TIMEOUT", default: 10, in: 0.1...600)
    }

    /// LISTGATE_OUTBOX_LEASE_SECONDS: on PostgreSQL, how long a message claimed by an
    /// instance stays its own; a dead instance's claims are taken over after it (60 s).
    func outboxLease() throws -> Duration {
        try seconds("LISTGATE_OUTBOX_LEASE_SECONDS", default: 60, in: 1...3600)
    }

    private func seconds(_ variable: String, default fallback: Double, in range: ClosedRange<Double>) throws -> Duration {
        guard let text = nonEmpty(variable) else { return .milliseconds(Int64(fallback * 1000)) }
        guard let seconds = Double(text), range.contains(seconds) else {
            throw CLIError("invalid \(variable) '\(text)': use a number of seconds from \(range.lowerBound) to \(range.upperBound)")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// LISTGATE_BASE_URL / --base-url, checked and without a trailing slash.
    func baseURL(flag: String?) throws -> String? {
        try value(flag, "LISTGATE_BASE_URL").map(Settings.validBaseURL)
    }
}

/// What `listgate serve` runs with.
struct Settings {
    var databasePath: String
    /// The HTTP side: address, links, secrets, limits, timeouts, the operator's pages.
    var server = ServerConfiguration()
    /// The outbox worker: the mail ceiling and the retry delays.
    var outbox = OutboxPolicy()
    /// The webhook worker: timeouts, lanes per receiver, the retry schedule.
    var webhooks = WebhookDeliveryPolicy()
    var mail: Mail
    var snapshotRetentionDays = 30
    /// Days a delivered webhook delivery is kept (failed ones stay until retried).
    var webhookRetentionDays = 30
    var logLevel = Logger.Level.info
    /// `serve --demo`: create a `demo` list when there is none (`make run`).
    var createDemoList = false

    /// Where mail goes, and as whom.
    struct Mail {
        /// As the operator wrote it (nil: `.eml` files in ./mail-outbox/), for the start-up line.
        var url: String?
        var destination: TransportConfiguration
        var username: String?
        var password: String?
    }
}

extension Settings {
    /// `serve`'s flags over the environment over the defaults, in the order the checks
    /// have always run (so one bad value gives the same first `error:` line as before).
    init(serve flags: ServeCommand, source: SettingsSource = SettingsSource()) throws {
        let environment = source.environment
        databasePath = source.databasePath(flag: flags.database.path)
        server.host = source.value(flags.host, "LISTGATE_HOST") ?? "127.0.0.1"
        server.port = try Self.number("port", source.value(flags.port.map(String.init), "LISTGATE_PORT") ?? "8080", in: 0...65535)
        outbox.ceilingPerMinute = try Self.number(
            "mail ceiling", source.value(flags.mailCeiling.map(String.init), "LISTGATE_MAIL_CEILING") ?? "300",
            in: 1...1_000_000)
        // Short delays are for tests and for a relay on the same host; the defaults suit a real MTA.
        if let text = source.value(flags.retryBase.map { String($0) }, "LISTGATE_RETRY_BASE") {
            outbox.retryBase = try Self.seconds("retry base", text)
        }
        if let text = source.value(flags.retryCap.map { String($0) }, "LISTGATE_RETRY_CAP") {
            outbox.retryCap = try Self.seconds("retry cap", text, upTo: 86_400)
        }
        guard outbox.retryCap >= outbox.retryBase else {
            throw CLIError("the retry cap (\(outbox.retryCap)) is shorter than the retry base (\(outbox.retryBase))")
        }
        mail = try Self.mail(flags: flags, source: source)
        try readWebhookSettings(environment)

        server.baseURL = try source.baseURL(flag: flags.baseURL)
        server.secretKey = source.nonEmpty("LISTGATE_SECRET_KEY")
        server.metricsToken = source.nonEmpty("LISTGATE_METRICS_TOKEN")
        do {
            server.trustedProxies = try TrustedProxies(
                parsing: flags.trustedProxies.isEmpty ? [environment["LISTGATE_TRUSTED_PROXIES"] ?? ""] : flags.trustedProxies)
        } catch { throw CLIError(error.description) }
        if let limits = environment["LISTGATE_RATE_LIMITS"] {
            do { server.rateLimits = try RateLimits(parsing: limits) } catch { throw CLIError(error.description) }
        }
        // One setting, two rooms: the per-IP part limits the forms' posts (HTTP), the
        // per-address part the confirmation mails one address gets (the intake's policy).
        server.intake.mailsPerAddressPerDay = server.rateLimits.mailsPerAddressPerDay
        server.maxConnections = try Self.number(
            "maximum number of connections",
            source.value(flags.maxConnections.map(String.init), "LISTGATE_MAX_CONNECTIONS") ?? "512", in: 1...1_000_000)
        if let text = source.value(flags.headerTimeout.map { String($0) }, "LISTGATE_HEADER_TIMEOUT") {
            server.headerTimeout = try Self.seconds("header timeout", text, upTo: 600)
        }
        if let text = source.value(flags.bodyTimeout.map { String($0) }, "LISTGATE_BODY_TIMEOUT") {
            server.bodyTimeout = try Self.seconds("body timeout", text, upTo: 600)
        }
        snapshotRetentionDays = try Self.number(
            "snapshot retention",
            source.value(flags.snapshotRetention.map(String.init), "LISTGATE_SNAPSHOT_RETENTION") ?? "30", in: 1...36_500)
        // The disk that fills is SQLite's; PostgreSQL's server watches its own.
        if case .sqlite(let path) = DatabaseLocation(databasePath) { server.diskSpace = DiskSpace(databasePath: path) }
        server.formsDirectory = source.formsDirectory(flag: flags.formsDir)
        server.providerWebhooks.extraSNSOrigins = try Self.snsOrigins(environment["LISTGATE_SES_CERT_HOSTS"] ?? "")
        let level = environment["LISTGATE_LOG_LEVEL"].map { $0.lowercased() } ?? "info"
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw CLIError("invalid LISTGATE_LOG_LEVEL '\(level)': use trace, debug, info, notice, warning, error or critical")
        }
        self.logLevel = logLevel
        createDemoList = flags.demo
    }

    private static func mail(flags: ServeCommand, source: SettingsSource) throws -> Mail {
        let url = source.value(flags.smtpURL, "LISTGATE_SMTP_URL")
        if let url, url.lowercased().hasPrefix("smtp"), !CurlCapabilities.linked.speaksSMTP {
            throw CLIError("the system's libcurl (\(CurlCapabilities.linked.version)) was built without SMTP support")
        }
        let username = source.environment["LISTGATE_SMTP_USERNAME"], password = source.environment["LISTGATE_SMTP_PASSWORD"]
        let tls = try smtpTLSMode(source.value(flags.smtpTLS, "LISTGATE_SMTP_TLS"))
            ?? .defaultMode(username: username, password: password)
        do {
            return Mail(url: url, destination: try TransportConfiguration(url: url, tls: tls), username: username, password: password)
        } catch {
            throw CLIError("invalid SMTP URL: \(error)")
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

    /// LISTGATE_SES_CERT_HOSTS: origins (`scheme://host[:port]`, comma-separated) trusted
    /// besides `https://sns.<region>.amazonaws.com` to serve SNS signing certificates and
    /// subscription confirmations. For tests with a local server; empty in production.
    static func snsOrigins(_ text: String) throws -> [String] {
        try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { origin in
            guard let url = URLComponents(string: origin), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                  url.host?.isEmpty == false, url.path.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
            else { throw CLIError("invalid LISTGATE_SES_CERT_HOSTS entry '\(origin)': use scheme://host[:port], e.g. http://127.0.0.1:8081") }
            return origin.lowercased()
        }
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
}

extension Settings {
    /// LISTGATE_WEBHOOK_*: the defaults suit real receivers; short retries are for tests
    /// (README, "Receiving webhooks").
    mutating func readWebhookSettings(_ environment: [String: String]) throws {
        if let text = environment["LISTGATE_WEBHOOK_TIMEOUT"] {
            webhooks.timeout = .seconds(try Self.number("webhook timeout", text, in: 1...300))
        }
        if let text = environment["LISTGATE_WEBHOOK_CONCURRENCY"] {
            webhooks.lanesPerReceiver = try Self.number("webhook concurrency", text, in: 1...64)
        }
        if let text = environment["LISTGATE_WEBHOOK_RETRY_BASE"] {
            webhooks.retry.base = Self.interval(try Self.seconds("webhook retry base", text))
        }
        if let text = environment["LISTGATE_WEBHOOK_RETRY_CAP"] {
            webhooks.retry.cap = Self.interval(try Self.seconds("webhook retry cap", text, upTo: 86_400))
        }
        if let text = environment["LISTGATE_WEBHOOK_RETENTION"] {
            webhookRetentionDays = try Self.number("webhook retention", text, in: 1...36_500)
        }
        if let text = environment["LISTGATE_WEBHOOK_RETRY_FOR"] {
            webhooks.retry.giveUpAfter = Self.interval(try Self.seconds("webhook retry period", text, upTo: 30 * 86_400))
        }
        guard webhooks.retry.cap >= webhooks.retry.base else {
            throw CLIError("the webhook retry cap (\(webhooks.retry.cap)) is shorter than its base (\(webhooks.retry.base))")
        }
    }

    static func interval(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
