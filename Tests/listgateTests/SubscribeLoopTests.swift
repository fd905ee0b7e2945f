// The whole front door through the built binary on a real port, with mail going to a
// real SMTP server: subscribe → mail → GET (no change) → POST confirm → subscribed.
import Foundation
import GRDB
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `listgate serve` child process on a free port, mailing to a fresh SMTP sink.
final class RunningServer: @unchecked Sendable {
    let workspace: Workspace
    let sink: SMTPSink
    let port: Int
    let process = Process()
    var base: String { "http://127.0.0.1:\(port)" }

    /// `port`: where to listen (a free one by default).
    init(
        _ kind: StoreKind = .sqlite, port: Int? = nil, environment: [String: String] = [:], baseURLFromPort: Bool = false
    ) async throws {
        workspace = try Workspace(kind).migrated()
        try workspace.listgate("lists", "create", "news", "--name", "週刊お知らせ", "--from", "編集部 <news@example.org>")
        sink = try SMTPSink.start()
        let port = try port ?? freePort()
        self.port = port
        process.executableURL = Binary.url
        process.arguments = ["serve", "--db", workspace.db, "--port", String(port), "--smtp-url", sink.url]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTGATE_") }
        if baseURLFromPort { env["LISTGATE_BASE_URL"] = "http://127.0.0.1:\(port)" }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if await httpGet("\(base)/healthz")?.0 == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WorkspaceError(message: "listgate serve did not come up")
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    func request(
        _ method: String, _ path: String, form: [String: String]? = nil, json: Bool = false, body: String? = nil,
        bearer: String? = nil
    ) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: path.hasPrefix("http") ? path : base + path)!)
        request.httpMethod = method
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        if json { request.setValue("application/json", forHTTPHeaderField: "Accept") }
        if let form {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(form.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }
                .joined(separator: "&").utf8)
        }
        if let body {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    func activeCount() async throws -> Int {
        try workspace.count("subscriptions", where: "status = 'active'")
    }
}

@Suite("Subscribe loop through the binary", .serialized)
struct SubscribeLoopTests {
    @Test("subscribe, receive the mail at the SMTP server, open the link (no change), press the button: subscribed",
          arguments: StoreKind.underTest)
    func wholeLoop(_ kind: StoreKind) async throws {
        let server = try await RunningServer(kind, environment: ["LISTGATE_BASE_URL": "http://127.0.0.1:0"])
        let posted = try await server.request("POST", "/lists/news/subscribe", form: ["email": "taro@example.jp", "name": "山田"])
        #expect(posted.status == 200)

        let message = try #require(try await server.sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        #expect(message.rcptTos == ["taro@example.jp"])
        let mail = try MailInspector.inspect(message.data)
        #expect(mail.subject == "【週刊お知らせ】メールアドレス確認のお願い")
        let text = try #require(mail.text)
        let links = text.split(whereSeparator: \.isWhitespace).filter { $0.hasPrefix("http://127.0.0.1:0/confirm/") }
        #expect(links.count == 1, "exactly one confirm link")
        let path = String(try #require(links.first).dropFirst("http://127.0.0.1:0".count))

        let page = try await server.request("GET", path)
        #expect(page.status == 200)
        #expect(try await server.activeCount() == 0)
        let confirmed = try await server.request("POST", path, json: true)
        #expect(confirmed.status == 200)
        #expect(confirmed.body == #"{"status":"subscribed"}"#)
        #expect(try await server.activeCount() == 1)
    }

    @Test("the server answers invalid input with 4xx and stays up; /metrics (loopback) counts requests, not outcomes")
    func hostileInputAndMetrics() async throws {
        let server = try await RunningServer()
        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "nope"]).status == 422)
        #expect(try await server.request("POST", "/lists/missing/subscribe", form: ["email": "a@example.net"]).status == 404)
        #expect(try await server.request("POST", "/confirm/forged.0.AAAA").status == 400)
        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "ok@example.net"]).status == 200)
        let metrics = try await server.request("GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains(#"status="422""#))
        // Outcomes by address state (mailed, already active, suppressed, cooldown) would
        // answer "is this address subscribed?" to whoever reads the metrics.
        #expect(!metrics.body.contains("listgate_subscribe_requests_total"))
        #expect(!metrics.body.contains("already_active") && !metrics.body.contains("outcome=\"mailed\""))
        #expect(metrics.body.contains("listgate_http_requests_total"))
        #expect(metrics.body.contains(#"route="/lists/{slug}/subscribe""#) || metrics.body.contains(#"route="/lists/:slug/subscribe""#))
        #expect(!metrics.body.contains("ok@example.net"), "metrics carry no personal data")
        #expect(try await server.request("GET", "/healthz").status == 200)
    }

    @Test("the per-IP rate limit answers 429 with Retry-After through the real server")
    func rateLimit() async throws {
        let server = try await RunningServer(environment: ["LISTGATE_RATE_LIMITS": "ip=2/min"])
        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "a1@example.net"]).status == 200)
        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "a2@example.net"]).status == 200)
        #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": "a3@example.net"]).status == 429)
    }
}

@Suite("listgate lists show --embed")
struct EmbedTests {
    @Test("prints a form that posts to the list's subscribe URL with the honeypot field")
    func embed() throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "A & B", "--from", "news@example.org")
        let result = try workspace.listgate("lists", "show", "news", "--embed", "--base-url", "https://lists.example.org")
        #expect(result.status == 0)
        #expect(result.stdout.contains(#"action="https://lists.example.org/lists/news/subscribe""#))
        #expect(result.stdout.contains(#"name="website""#))
        #expect(result.stdout.contains("A &amp; B"))
        #expect(!result.stdout.contains("<script"))
    }
}
