// An app built exactly as `listgate serve` builds it, over a migrated database in a
// temp directory, plus helpers to read what it stored and queued.
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateMail
import ListgateServer
import ListgateTestSupport
import Logging

final class ServerFixture: @unchecked Sendable {
    let directory: URL
    let store: SQLiteStore
    let composer: AutoReplyComposer
    var configuration = ServerConfiguration()
    static let secret = "test-secret-key"

    /// `directory`: where the database goes (a fresh temporary directory by default).
    init(lists: [(slug: String, name: String, locale: ListLocale)] = [("news", "週刊お知らせ", .ja)], directory: URL? = nil)
        async throws
    {
        self.directory = directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("listgate-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: self.directory.appendingPathComponent("listgate.sqlite3").path)
        _ = try await store.migrate()
        for list in lists {
            _ = try await store.createList(
                NewList(slug: ListSlug(list.slug), name: list.name, from: Mailbox("編集部 <news@example.org>"), locale: list.locale),
                source: .cli)
        }
        composer = try await AutoReplyComposer.bundled()
        configuration.baseURL = "https://lists.example.org"
        configuration.secretKey = Self.secret
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    var databasePath: String { directory.appendingPathComponent("listgate.sqlite3").path }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let server = ListgateHTTPServer(store: store, configuration: configuration, renderer: composer, logger: Logger(label: "test"))
        // The app's IntakeDesk decides recorded form posts a moment after the answers:
        // let it finish before the app stops, as a running server would.
        try await server.buildApplication().test(.router) { client in
            try await body(client)
            try await self.settled()
        }
    }

    /// The links the app makes (same key, same base URL).
    var links: LinkBuilder { LinkBuilder(signer: TokenSigner(secret: Self.secret), baseURL: "https://lists.example.org") }

    /// The Intake the app uses, for driving time (expired links) from a test.
    func intake() -> Intake {
        Intake(store: store, renderer: composer, links: links)
    }

    /// Rows of a table once the app's IntakeDesk has decided every recorded form post
    /// (it runs in the background, a moment after the answer).
    func count(_ table: String, where condition: String = "1") async throws -> Int {
        try await settled()
        return try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE \(condition)") ?? -1 }
    }

    func queuedMessages() async throws -> [OutboxMessage] {
        try await settled()
        return try await store.messages(status: .queued)
    }

    /// Waits until no recorded form post is left undecided (at most 10 s).
    func settled() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await store.pool.read({ db in try Int.fetchOne(db, sql: "SELECT count(*) FROM form_requests") ?? 0 }) > 0 {
            guard ContinuousClock.now < deadline else { throw SettleTimeout() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    struct SettleTimeout: Error {}

    /// The confirm and block links of the newest confirmation mail.
    func links(in message: OutboxMessage) throws -> (confirm: String, block: String) {
        let text = try MailInspector.inspect(message.raw).text ?? ""
        func path(_ prefix: String) -> String {
            let marker = "https://lists.example.org/\(prefix)/"
            guard let start = text.range(of: marker) else { return "" }
            let rest = text[start.upperBound...]
            let token = rest.prefix { !$0.isWhitespace }
            return "/\(prefix)/\(token)"
        }
        return (path("confirm"), path("block"))
    }

    func eventTypes() async throws -> [String] {
        try await store.pool.read { db in try String.fetchAll(db, sql: "SELECT type FROM events ORDER BY id") }
    }
}

extension TestClientProtocol {
    @discardableResult
    func post(_ uri: String, form: [String: String], json: Bool = false, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        headers[.contentType] = "application/x-www-form-urlencoded"
        if json { headers[.accept] = "application/json" }
        let body = form.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
}
