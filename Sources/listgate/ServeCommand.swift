// `listgate serve`: the HTTP server and the outbox worker, in one process, under one
// service group with graceful shutdown.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateMail
import ListgateServer
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server and the outbox worker.",
        discussion: """
            Refuses to start on a database that needs `listgate migrate`.
            Mail goes to LISTGATE_SMTP_URL (smtp://host:port with STARTTLS when offered, \
            smtps://host:port, or file:///dir); unset, it is written as .eml files to \
            ./mail-outbox/. SMTP credentials come from LISTGATE_SMTP_USERNAME and \
            LISTGATE_SMTP_PASSWORD.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (env LISTGATE_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env LISTGATE_PORT; default 8080).")
    var port: Int?

    @Option(help: ArgumentHelp("Where mail goes (env LISTGATE_SMTP_URL; default file:./mail-outbox).", valueName: "url"))
    var smtpURL: String?

    @Option(help: ArgumentHelp(
        "Circuit breaker: pause sending when more auto-replies than this are queued in a minute (env LISTGATE_MAIL_CEILING; default 300).",
        valueName: "count"))
    var mailCeiling: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let host = self.host ?? environment["LISTGATE_HOST"] ?? "127.0.0.1"
        let port = try Self.number("port", port.map(String.init) ?? environment["LISTGATE_PORT"] ?? "8080", in: 0...65535)
        var policy = OutboxPolicy()
        policy.ceilingPerMinute = try Self.number(
            "mail ceiling", mailCeiling.map(String.init) ?? environment["LISTGATE_MAIL_CEILING"] ?? "300", in: 1...1_000_000)
        let smtpURL = smtpURL ?? environment["LISTGATE_SMTP_URL"]
        let transport: any MailTransport
        do {
            transport = try TransportConfiguration.make(
                url: smtpURL, username: environment["LISTGATE_SMTP_USERNAME"], password: environment["LISTGATE_SMTP_PASSWORD"])
        } catch {
            throw CLIError("invalid SMTP URL: \(error)")
        }

        let store = try await database.openMigrated()
        var logger = Logger(label: "listgate")
        logger.logLevel = .info
        logger.info("mail goes to \(smtpURL.map(Self.redacted) ?? "./mail-outbox/ (.eml files)")")
        let worker = OutboxWorker(store: store, transport: transport, policy: policy, logger: logger)
        let server = ListgateHTTPServer(store: store, host: host, port: port, logger: logger, services: [worker])
        try await server.run()
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
