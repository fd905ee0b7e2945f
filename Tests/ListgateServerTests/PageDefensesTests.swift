// What every answer carries whatever route made it: security headers, HEAD like GET,
// OPTIONS, 404 for empty path segments, and a body and a log line on every 5xx.
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import ListgateCore
@testable import ListgateSQLite
import ListgateServer
import ListgateTestSupport
import Logging
import Testing

/// Log entries kept in memory, for checking what a test made the server log.
final class CapturedLogs: Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    let entries = Shared<[Entry]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(logs: self) }
    }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
            logs.entries.withLock { $0.append(Entry(level: event.level, message: "\(event.message)", metadata: all)) }
        }
    }
}

extension ServerFixture {
    func test(logger: Logger, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let server = ListgateHTTPServer(store: store, configuration: configuration, renderer: composer, logger: logger)
        try await server.buildApplication().test(.router, body)
    }
}

@Suite("Pages defend themselves")
struct PageDefensesTests {
    static let policy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action *; frame-ancestors 'none'; base-uri 'none'"

    @Test("every answer says nosniff and no-referrer (same-origin on the two list forms); pages also carry a policy with no script and no framing")
    func securityHeaders() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let page = try await client.execute(uri: "/lists/news/subscribe", method: .get)
            let json = try await client.post("/lists/news/subscribe", form: ["email": "a@example.net"], json: true)
            let health = try await client.execute(uri: "/healthz", method: .get)
            let missing = try await client.execute(uri: "/nowhere", method: .get)
            let error = try await client.execute(uri: "/lists/nope/subscribe", method: .get)
            let leave = try await client.execute(uri: "/lists/news/unsubscribe", method: .get)
            for response in [page, json, health, missing, error, leave] {
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
            }
            // The list forms carry no token, and their posts must name their origin.
            for response in [page, json, leave, error] {
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin")
            }
            for response in [health, missing] {
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            }
            #expect(page.headers[.contentSecurityPolicy] == Self.policy)
            #expect(error.status == .notFound && error.headers[.contentSecurityPolicy] == Self.policy, "error pages too")
            #expect(json.headers[.contentSecurityPolicy] == nil && health.headers[.contentSecurityPolicy] == nil)
            // The policy allows what the pages use: inline CSS, and no script to block.
            #expect(page.text.contains("<style>") && !page.text.contains("<script") && !page.text.contains("<link"))
        }
    }

    @Test("HEAD answers every GET route like GET, without the body")
    func head() async throws {
        let fixture = try await ServerFixture()
        let link = try await fixture.activeSubscriber("reader@example.net")
        try await fixture.test { client in
            for uri in ["/lists/news/subscribe", "/lists/news/unsubscribe", "/healthz", link, "/confirm/forged", "/lists/nope/subscribe"] {
                let get = try await client.execute(uri: uri, method: .get)
                let head = try await client.execute(uri: uri, method: .head)
                #expect(head.status == get.status, "\(uri)")
                #expect(head.body.readableBytes == 0, "\(uri)")
                #expect(head.headers[.contentType] == get.headers[.contentType], "\(uri)")
                #expect(head.headers[.contentLength] == String(get.body.readableBytes), "\(uri)")
                #expect(head.headers[.xContentTypeOptions] == "nosniff")
            }
        }
        #expect(try await fixture.status(of: "reader@example.net") == "active", "HEAD, like GET, changes nothing")
    }

    @Test("OPTIONS on a known path is 204 with the methods it answers; elsewhere 404")
    func options() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let subscribe = try await client.execute(uri: "/lists/news/subscribe", method: .options)
            #expect(subscribe.status == .noContent)
            #expect(subscribe.headers[.allow] == "GET, HEAD, OPTIONS, POST")
            let health = try await client.execute(uri: "/healthz", method: .options)
            #expect(health.headers[.allow] == "GET, HEAD, OPTIONS")
            let token = try await client.execute(uri: "/unsubscribe/anything", method: .options)
            #expect(token.headers[.allow] == "GET, HEAD, OPTIONS, POST")
            #expect(try await client.execute(uri: "/nowhere", method: .options).status == .notFound)
        }
    }

    @Test("a path with an empty segment is 404, never a page", arguments: [
        "//lists/news/subscribe", "/lists//news/subscribe", "/lists/news//subscribe", "/lists/news/subscribe/", "//healthz",
    ])
    func emptySegments(path: String) async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            for method in [HTTPRequest.Method.get, .post, .head, .options] {
                let response = try await client.execute(uri: path, method: method)
                #expect(response.status == .notFound, "\(method) \(path)")
                #expect(!response.text.contains("<form"), "\(method) \(path)")
            }
        }
        #expect(try await fixture.count("outbox") == 0)
    }

    @Test("a failing database makes a 500 with a short page or JSON, logged at error level with the route and no personal data")
    func serverErrors() async throws {
        let fixture = try await ServerFixture()
        // Every route that reads a list now fails inside the store.
        try await fixture.store.pool.write { db in try db.execute(sql: "ALTER TABLE lists RENAME TO lists_gone") }
        let logs = CapturedLogs()
        try await fixture.test(logger: logs.logger) { client in
            let page = try await client.post("/lists/news/subscribe", form: ["email": "secret.person@example.net"])
            #expect(page.status == .internalServerError)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains("<h1") && page.text.contains("しばらくしてから"))
            #expect(page.headers[.contentSecurityPolicy] == Self.policy)

            let json = try await client.post("/lists/news/subscribe", form: ["email": "secret.person@example.net"], json: true)
            #expect(json.status == .internalServerError)
            let answer = try JSONSerialization.jsonObject(with: Data(json.text.utf8)) as? [String: [String: String]]
            #expect(answer?["error"]?["code"] == "internal_error")
            #expect(answer?["error"]?["message"]?.isEmpty == false)

            let english = try await client.execute(uri: "/lists/news/subscribe", method: .get, headers: [.acceptLanguage: "en-US"])
            #expect(english.status == .internalServerError && english.text.contains("Something went wrong"))
        }
        // One per answer (the intake desk, failing on the same database, logs its own).
        let errors = logs.entries.current.filter { $0.level == .error && $0.metadata["route"] != nil }
        #expect(errors.count == 3)
        #expect(["/lists/{slug}/subscribe", "/lists/:slug/subscribe"].contains(errors.first?.metadata["route"] ?? ""))
        #expect(errors.first?.metadata["status"] == "500")
        #expect(errors.first?.metadata["error.type"]?.contains("DatabaseError") == true)
        let logged = logs.entries.current.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(!logged.contains("secret.person"), "no address in the log")
        #expect(!logged.contains("/lists/news/"), "the route, not the path")
    }
}

@Suite("HEAD on the wire")
struct HeadOnTheWireTests {
    @Test("a HEAD answer over a real socket has GET's headers and no body bytes")
    func headWritesNoBody() async throws {
        let fixture = try await ServerFixture()
        var configuration = fixture.configuration
        configuration.port = 0
        let server = ListgateHTTPServer(
            store: fixture.store, configuration: configuration, renderer: fixture.composer, logger: Logger(label: "test"))
        try await server.buildApplication().test(.live) { client in
            let port = try #require(client.port)
            func exchange(_ method: String) async throws -> String {
                let socket = try LoopbackSocket(port: port)
                socket.send("\(method) /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return String(decoding: await socket.waitForClose(), as: UTF8.self)
            }
            let get = try await exchange("GET"), head = try await exchange("HEAD")
            let getHead = try #require(get.components(separatedBy: "\r\n\r\n").first)
            #expect(head.hasSuffix("\r\n\r\n"), "nothing after the header section")
            #expect(head.hasPrefix("HTTP/1.1 200"))
            func field(_ name: String, _ text: String) -> String? {
                text.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name + ":") }.map(String.init)
            }
            for name in ["content-type", "content-length", "content-security-policy", "x-content-type-options"] {
                #expect(field(name, head) != nil && field(name, head) == field(name, getHead), "\(name)")
            }
        }
    }
}
