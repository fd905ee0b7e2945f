// listgate behind a real nginx, with the site file from deploy/ changed only for ports and
// paths: TLS at nginx (a certificate made here by openssl), listgate under /newsletter,
// visitors on their own loopback addresses (127.5.5.5, 127.6.6.6) so the proxy (127.0.0.1)
// and each visitor are told apart, as on a real host. curl is the visitor.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

/// `nginx` running `deploy/nginx/listgate.conf` in a temporary prefix, in front of a
/// listgate on `upstreamPort`, with a self-signed certificate for www.example.co.jp.
final class ReverseProxy: @unchecked Sendable {
    static let host = "www.example.co.jp"
    let directory: URL
    let port: Int
    let process = Process()
    var certificate: String { directory.appendingPathComponent("cert.pem").path }
    var origin: String { "https://\(Self.host):\(port)" }

    init(upstreamPort: Int) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("www"), withIntermediateDirectories: true)
        port = try freePort()
        let plainPort = try freePort()
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = try Binary.runTool("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=\(Self.host)",
            "-addext", "subjectAltName=DNS:\(Self.host)", "-keyout", key, "-out", directory.appendingPathComponent("cert.pem").path,
        ])
        guard openssl.status == 0 else { throw WorkspaceError(message: "openssl: \(openssl.stderr)") }

        // The shipped site, with only its ports and paths changed.
        var site = try String(contentsOf: Binary.repository.appendingPathComponent("deploy/nginx/listgate.conf"), encoding: .utf8)
        for (shipped, here) in [
            ("listen 443 ssl http2;", "listen 127.0.0.1:\(port) ssl http2;"),
            ("listen 80;", "listen 127.0.0.1:\(plainPort);"),
            ("/etc/letsencrypt/live/www.example.co.jp/fullchain.pem", directory.appendingPathComponent("cert.pem").path),
            ("/etc/letsencrypt/live/www.example.co.jp/privkey.pem", key),
            ("root /var/www/html;", "root \(directory.appendingPathComponent("www").path);"),
            ("proxy_pass http://127.0.0.1:8080/;", "proxy_pass http://127.0.0.1:\(upstreamPort)/;"),
        ] {
            guard site.contains(shipped) else { throw WorkspaceError(message: "deploy/nginx/listgate.conf no longer says \(shipped)") }
            site = site.replacingOccurrences(of: shipped, with: here)
        }
        try site.write(to: directory.appendingPathComponent("site.conf"), atomically: true, encoding: .utf8)
        let temp = directory.appendingPathComponent("temp").path
        let main = """
            \(getuid() == 0 ? "user root;" : "")
            worker_processes 1;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/error.log warn;
            events { worker_connections 256; }
            http {
                include /etc/nginx/mime.types;
                access_log \(directory.path)/access.log;
                client_body_temp_path \(temp)/body;
                proxy_temp_path \(temp)/proxy;
                fastcgi_temp_path \(temp)/fastcgi;
                uwsgi_temp_path \(temp)/uwsgi;
                scgi_temp_path \(temp)/scgi;
                include \(directory.path)/site.conf;
            }
            """
        try main.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)

        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else {
            throw WorkspaceError(message: "nginx is not installed (make test-deps installs it)")
        }
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", directory.path, "-e", "\(directory.path)/error.log", "-c",
                             directory.appendingPathComponent("nginx.conf").path, "-g", "daemon off;"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if let probe = try? LoopbackSocket(port: port) {
                probe.close()
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let log = (try? String(contentsOfFile: "\(directory.path)/error.log", encoding: .utf8)) ?? ""
        throw WorkspaceError(message: "nginx did not start: \(log)")
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// One request through nginx by curl, from the loopback address `from`.
    func request(_ method: String, _ path: String, form: [String: String]? = nil, from: String,
                 headers: [String] = []) throws -> CurlAnswer {
        try Curl.request(method, path.hasPrefix("https://") ? path : origin + path, form: form, headers: headers,
                         extra: ["--cacert", certificate, "--resolve", "\(Self.host):\(port):127.0.0.1", "--interface", from])
    }
}

struct CurlAnswer {
    let status: Int
    let headers: String
    let body: String
}

enum Curl {
    static func request(_ method: String, _ url: String, form: [String: String]?, headers: [String], extra: [String]) throws
        -> CurlAnswer
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var arguments = ["-sS", "-X", method, "-o", directory.appendingPathComponent("body").path,
                         "-D", directory.appendingPathComponent("headers").path, "-w", "%{http_code}", "--max-time", "10"]
        for (name, value) in (form ?? [:]).sorted(by: { $0.key < $1.key }) { arguments += ["--data-urlencode", "\(name)=\(value)"] }
        for header in headers { arguments += ["-H", header] }
        let result = try Binary.runTool("/usr/bin/curl", arguments + extra + [url])
        guard result.status == 0, let status = Int(result.stdout) else {
            throw WorkspaceError(message: "curl \(url): \(result.stderr)")
        }
        return CurlAnswer(
            status: status,
            headers: (try? String(contentsOf: directory.appendingPathComponent("headers"), encoding: .utf8)) ?? "",
            body: (try? String(contentsOf: directory.appendingPathComponent("body"), encoding: .utf8)) ?? "")
    }
}

@Suite("Behind a real nginx under a path", .serialized)
struct ReverseProxyTests {
    static let visitor = "127.5.5.5"
    static let otherVisitor = "127.6.6.6"

    /// listgate trusting the proxy on 127.0.0.1, with nginx in front.
    func deployment(rateLimits: String = "ip=20/min,address=3/day") async throws -> (RunningServer, ReverseProxy) {
        let port = try freePort()
        let proxy = try ReverseProxy(upstreamPort: port)
        let server = try await RunningServer(port: port, environment: [
            "LISTGATE_BASE_URL": "\(proxy.origin)/newsletter", "LISTGATE_TRUSTED_PROXIES": "127.0.0.1",
            "LISTGATE_RATE_LIMITS": rateLimits,
        ])
        return (server, proxy)
    }

    func formActions(_ html: String) -> [String] {
        html.components(separatedBy: "action=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    func link(_ prefix: String, in message: ReceivedMessage) throws -> String {
        let text = try #require(try MailInspector.inspect(message.data).text)
        return try #require(text.split(whereSeparator: \.isWhitespace).map(String.init).first { $0.hasPrefix(prefix) })
    }

    /// Sorted, not in event order: the desk decides posts for different mailboxes side by
    /// side, so a later post's event can be written before an earlier one's.
    func requestedNetworks(_ server: RunningServer) async throws -> [String] {
        try await DatabaseQueue(path: server.workspace.db).read { db in
            try String.fetchAll(db, sql: "SELECT json_extract(detail, '$.client_network') FROM events WHERE type = 'requested'")
        }.sorted()
    }

    @Test("subscribe → confirm → unsubscribe through nginx under /newsletter: every form and mail link carries the prefix")
    func wholeLoopUnderPath() async throws {
        let (server, proxy) = try await deployment()
        defer { withExtendedLifetime((server, proxy)) {} }
        let base = "\(proxy.origin)/newsletter"

        let page = try proxy.request("GET", "/newsletter/lists/news/subscribe", from: Self.visitor)
        #expect(page.status == 200)
        #expect(formActions(page.body) == ["/newsletter/lists/news/subscribe"])
        let posted = try proxy.request("POST", "/newsletter/lists/news/subscribe", form: ["email": "taro@example.jp"], from: Self.visitor)
        #expect(posted.status == 200)
        #expect(posted.body.contains("確認メールをお送りしました"))

        let confirmation = try #require(try await server.sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        let confirm = try link("\(base)/confirm/", in: confirmation)
        let confirmPage = try proxy.request("GET", confirm, from: Self.visitor)
        #expect(confirmPage.status == 200)
        let confirmAction = try #require(formActions(confirmPage.body).first)
        #expect(confirmAction == String(confirm.dropFirst(proxy.origin.count)))
        let confirmed = try proxy.request("POST", proxy.origin + confirmAction, from: Self.visitor)
        #expect(confirmed.status == 200)
        #expect(try await server.activeCount() == 1)

        let leavePage = try proxy.request("GET", "/newsletter/lists/news/unsubscribe", from: Self.visitor)
        #expect(formActions(leavePage.body) == ["/newsletter/lists/news/unsubscribe"])
        let asked = try proxy.request("POST", "/newsletter/lists/news/unsubscribe", form: ["email": "taro@example.jp"], from: Self.visitor)
        #expect(asked.status == 200)
        let linkMail = try #require(try await server.sink.waitForMessages(count: 2, timeout: .seconds(10)).last)
        let unsubscribe = try link("\(base)/unsubscribe/", in: linkMail)
        let unsubscribePage = try proxy.request("GET", unsubscribe, from: Self.visitor)
        let unsubscribeAction = try #require(formActions(unsubscribePage.body).first)
        #expect(unsubscribeAction == String(unsubscribe.dropFirst(proxy.origin.count)))
        let left = try proxy.request("POST", proxy.origin + unsubscribeAction, from: Self.visitor)
        #expect(left.status == 200)
        #expect(left.body.contains("配信を停止しました"))
        #expect(try await server.activeCount() == 0)
    }

    @Test("the consent record names the visitor's network, not the proxy's")
    func consentNamesTheVisitor() async throws {
        let (server, proxy) = try await deployment()
        defer { withExtendedLifetime((server, proxy)) {} }
        _ = try proxy.request("POST", "/newsletter/lists/news/subscribe", form: ["email": "taro@example.jp"], from: Self.visitor)
        _ = try await server.sink.waitForMessages(count: 1, timeout: .seconds(10))
        #expect(try await requestedNetworks(server) == ["127.5.5.0/24"])
    }

    @Test("two visitors behind the proxy have their own per-IP limits; a forged X-Forwarded-For through it changes nothing")
    func separateLimits() async throws {
        let (server, proxy) = try await deployment(rateLimits: "ip=2/min,address=3/day")
        defer { withExtendedLifetime((server, proxy)) {} }
        func post(_ email: String, from visitor: String, headers: [String] = []) throws -> Int {
            try proxy.request("POST", "/newsletter/lists/news/subscribe", form: ["email": email], from: visitor, headers: headers).status
        }
        #expect(try post("a1@example.jp", from: Self.visitor) == 200)
        #expect(try post("a2@example.jp", from: Self.visitor) == 200)
        #expect(try post("a3@example.jp", from: Self.visitor) == 429, "the first visitor's limit is spent")
        // Claiming to be someone else: nginx appends the real address, and that is the one taken.
        #expect(try post("a4@example.jp", from: Self.visitor, headers: ["X-Forwarded-For: 203.0.113.9"]) == 429)
        #expect(try post("b1@example.jp", from: Self.otherVisitor) == 200, "another visitor is not limited by the first")
        _ = try await server.sink.waitForMessages(count: 3, timeout: .seconds(10))
        #expect(try await requestedNetworks(server) == ["127.5.5.0/24", "127.5.5.0/24", "127.6.6.0/24"])
    }

    @Test("a forged X-Forwarded-For sent straight to listgate, not through the proxy, is ignored")
    func forgedHeaderStraightToListgate() async throws {
        let (server, proxy) = try await deployment(rateLimits: "ip=1/min,address=3/day")
        defer { withExtendedLifetime((server, proxy)) {} }
        // The visitor spends its limit through the proxy...
        #expect(try proxy.request("POST", "/newsletter/lists/news/subscribe", form: ["email": "a@example.jp"], from: Self.visitor).status == 200)
        // ...then a client that is no proxy says it is someone else, and someone else again.
        let direct = { (email: String, forwardedFor: String) in
            try Curl.request("POST", "\(server.base)/lists/news/subscribe", form: ["email": email],
                             headers: ["X-Forwarded-For: \(forwardedFor)"], extra: ["--interface", "127.7.7.7"]).status
        }
        #expect(try direct("b@example.jp", "127.6.6.6") == 200)
        #expect(try direct("c@example.jp", "127.8.8.8") == 429, "the header did not make it a new client")
        _ = try await server.sink.waitForMessages(count: 2, timeout: .seconds(10))
        #expect(try await requestedNetworks(server) == ["127.5.5.0/24", "127.7.7.0/24"])
    }

    @Test("/metrics is refused through the proxy, and listgate refuses it to a visitor the proxy forwards")
    func metricsNotThroughTheProxy() async throws {
        let (server, proxy) = try await deployment()
        defer { withExtendedLifetime((server, proxy)) {} }
        #expect(try proxy.request("GET", "/newsletter/metrics", from: Self.visitor).status == 404)
        // Even had the site file no such rule: the proxy (127.0.0.1, trusted) forwarding a
        // visitor from the internet is answered as that visitor, not as the host.
        let forwarded = try Curl.request("GET", "\(server.base)/metrics", form: nil,
                                         headers: ["X-Forwarded-For: 198.51.100.7"], extra: [])
        #expect(forwarded.status == 404)
        let onHost = try Curl.request("GET", "\(server.base)/metrics", form: nil, headers: [], extra: [])
        #expect(onHost.status == 200, "an operator on the host still reads it")
    }
}
