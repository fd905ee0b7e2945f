// LISTGATE_SMTP_TLS through the built binary, against the real SMTP sink (aiosmtpd,
// which offers no STARTTLS): with TLS required nothing crosses the plain connection,
// neither a password nor a message, and the message waits in the outbox with the
// reason as its last error; nothing is lost.
import Foundation
import ListgateCore
import ListgateSQLite
import ListgateMail
import ListgateTestSupport
import Testing

@Suite("serve: TLS on smtp://", .serialized)
struct SMTPTLSTests {
    /// A migrated workspace with one list and one confirmation queued, as the server
    /// would queue it; returns the message's id.
    func queuedConfirmation() async throws -> (Workspace, SQLiteStore, Int64) {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        let store = try await SQLiteStore.openMigrated(path: workspace.db)
        let list = try #require(try await store.list(ListSlug("news")))
        let reply = AutoReply(
            kind: .confirmation, list: list, recipient: try Recipient(EmailAddress("reader@example.net")),
            links: .init(confirm: "http://127.0.0.1/confirm/t", block: "http://127.0.0.1/block/t"))
        let id = try await store.enqueue(try await AutoReplyComposer.bundled().outboxMessage(reply))
        return (workspace, store, id)
    }

    /// The message once the worker has tried it (deferred, failed or sent).
    func afterFirstAttempt(_ id: Int64, in store: SQLiteStore, server: ServeProcess) async throws -> OutboxEntry {
        var entry: OutboxEntry?
        let tried = try await eventually(within: .seconds(20)) {
            entry = try await store.outboxEntries(status: nil, limit: 10).first { $0.id == id }
            return (entry?.attempts ?? 0) > 0
        }
        #expect(tried, "the worker never tried the message:\n\(server.log)")
        return try #require(entry)
    }

    @Test("with LISTGATE_SMTP_TLS=require, a server without STARTTLS receives nothing and the message waits with the reason")
    func requireSendsNothingInTheClear() async throws {
        let sink = try SMTPSink.start()
        let (workspace, store, id) = try await queuedConfirmation()
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", sink.url], environment: ["LISTGATE_SMTP_TLS": "require"])

        let entry = try await afterFirstAttempt(id, in: store, server: server)
        #expect(entry.status == .queued, "deferred, not given up")
        #expect(entry.lastError?.contains("does not offer STARTTLS and TLS is required, so nothing was sent") == true,
                "\(entry.lastError ?? "no last error")")
        #expect(try sink.messageCount() == 0)
        #expect(server.log.contains("mail goes to: \(sink.url) (STARTTLS required)"), "serve says how mail travels:\n\(server.log)")
    }

    @Test("with LISTGATE_SMTP_TLS=opportunistic or none, the same server receives the message", arguments: ["opportunistic", "none"])
    func plainServerGetsMailWhenAllowed(_ mode: String) async throws {
        let sink = try SMTPSink.start()
        let (workspace, store, id) = try await queuedConfirmation()
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", sink.url], environment: ["LISTGATE_SMTP_TLS": mode])

        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(20))
        #expect(received.map(\.rcptTos) == [["reader@example.net"]])
        #expect(try await afterFirstAttempt(id, in: store, server: server).status == .sent)
    }

    @Test("SMTP credentials without a TLS mode mean require: neither the password nor the message is sent in the clear")
    func credentialsMeanRequire() async throws {
        let sink = try SMTPSink.start(options: ["--auth"])
        let (workspace, store, id) = try await queuedConfirmation()
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", sink.url],
            environment: ["LISTGATE_SMTP_USERNAME": "listgate", "LISTGATE_SMTP_PASSWORD": "s3cret"])

        let entry = try await afterFirstAttempt(id, in: store, server: server)
        #expect(entry.status == .queued)
        #expect(entry.lastError?.contains("does not offer STARTTLS") == true, "\(entry.lastError ?? "no last error")")
        #expect(try sink.messageCount() == 0)
    }

    @Test("--smtp-tls overrides LISTGATE_SMTP_TLS")
    func flagOverridesEnvironment() async throws {
        let sink = try SMTPSink.start()
        let (workspace, _, _) = try await queuedConfirmation()
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", sink.url, "--smtp-tls", "opportunistic"],
            environment: ["LISTGATE_SMTP_TLS": "require"])
        defer { withExtendedLifetime(server) {} }

        #expect(try await sink.waitForMessages(count: 1, timeout: .seconds(20)).count == 1)
    }

    @Test("an unknown TLS mode, from the flag or the environment, is an error at start", arguments: [
        (["--smtp-tls", "required"], [:], "required"),
        ([], ["LISTGATE_SMTP_TLS": "yes"], "yes"),
    ] as [([String], [String: String], String)])
    func unknownMode(_ options: [String], _ environment: [String: String], _ value: String) throws {
        // A database that does not exist: had the mode been taken, serve would stop there instead.
        let workspace = try Workspace()
        let result = try Binary.run(
            ["serve", "--port", "0", "--db", workspace.db, "--smtp-url", "smtp://127.0.0.1:25"] + options,
            environment: environment, in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine
            == "error: invalid SMTP TLS mode '\(value)' (--smtp-tls or LISTGATE_SMTP_TLS): use require, opportunistic or none")
    }

    @Test("--smtp-tls none with an smtps:// URL is an error at start: smtps:// is always TLS")
    func noneWithSMTPS() throws {
        let workspace = try Workspace()
        let result = try Binary.run(
            ["serve", "--port", "0", "--db", workspace.db, "--smtp-url", "smtps://127.0.0.1", "--smtp-tls", "none"],
            in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: invalid SMTP URL: ") == true, "\(result.stderr)")
        #expect(result.lastErrorLine?.contains("smtps:// is always TLS") == true)
    }
}
