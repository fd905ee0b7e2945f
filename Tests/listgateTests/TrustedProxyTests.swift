// Behind a reverse proxy, through the built binary: with `--trusted-proxy`, the client
// the proxy names gets its own per-IP limit and its own network in the consent record;
// without it, a forged X-Forwarded-For changes nothing.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

@Suite("Trusted proxies through the binary", .serialized)
struct TrustedProxyTests {
    func post(_ server: ServeProcess, email: String, forwardedFor: String) throws -> Int {
        let socket = try LoopbackSocket(port: server.port)
        defer { socket.close() }
        let body = "email=" + (email.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        socket.send("POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: \(forwardedFor)\r\n"
            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        return socket.receiveResponse()?.status ?? 0
    }

    func server(_ arguments: [String]) async throws -> (Workspace, ServeProcess) {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        let server = try await ServeProcess(
            workspace, arguments: arguments + ["--smtp-url", "file://\(workspace.url.path)/mail"],
            environment: ["LISTGATE_RATE_LIMITS": "ip=3/min"])
        return (workspace, server)
    }

    @Test("through a trusted proxy, each forwarded client has its own limit and consent network")
    func trusted() async throws {
        let (workspace, server) = try await server(["--trusted-proxy", "127.0.0.1"])
        defer { withExtendedLifetime(workspace) {} }
        for index in 0..<3 { #expect(try post(server, email: "a\(index)@example.net", forwardedFor: "192.0.2.10") == 200) }
        #expect(try post(server, email: "a9@example.net", forwardedFor: "192.0.2.10") == 429)
        #expect(try post(server, email: "b0@example.net", forwardedFor: "198.51.100.20") == 200, "another visitor")
        // A client's own X-Forwarded-For entry, left of the proxy's, is not believed.
        #expect(try post(server, email: "a8@example.net", forwardedFor: "203.0.113.5, 192.0.2.10") == 429)

        let networks = try await eventually(within: .seconds(10)) {
            try await networksRecorded(workspace).count == 4
        }
        #expect(networks)
        #expect(Set(try await networksRecorded(workspace)) == ["192.0.2.0/24", "198.51.100.0/24"])
    }

    @Test("without --trusted-proxy, a forged X-Forwarded-For changes neither the limit nor the record")
    func untrusted() async throws {
        let (workspace, server) = try await server([])
        defer { withExtendedLifetime(workspace) {} }
        for index in 0..<3 {
            #expect(try post(server, email: "c\(index)@example.net", forwardedFor: "192.0.2.\(index + 1)") == 200)
        }
        #expect(try post(server, email: "c9@example.net", forwardedFor: "192.0.2.99") == 429, "one client, one limit")
        #expect(try await eventually(within: .seconds(10)) { try await networksRecorded(workspace).count == 3 })
        #expect(Set(try await networksRecorded(workspace)) == ["127.0.0.0/24"])
    }

    @Test("an invalid --trusted-proxy is an error line and the server does not start")
    func invalid() throws {
        let workspace = try Workspace().migrated()
        let result = try workspace.listgate("serve", "--trusted-proxy", "10.0.0.0/40", "--port", "0")
        #expect(result.status != 0)
        #expect(result.stderr.contains("error: invalid trusted proxy '10.0.0.0/40'"), "\(result.stderr)")
    }

    func networksRecorded(_ workspace: Workspace) async throws -> [String] {
        try await DatabaseQueue(path: workspace.db).read { db in
            try String.fetchAll(db, sql: "SELECT json_extract(detail, '$.client_network') FROM events WHERE type = 'requested'")
        }
    }
}
