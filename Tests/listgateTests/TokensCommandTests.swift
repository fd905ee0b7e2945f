// Sender tokens through the built binary, and what the API makes of them.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import Testing

@Suite("listgate tokens")
struct TokensCommandTests {
    func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "お知らせ", "--from", "news@example.org")
        return workspace
    }

    @Test("create prints the token alone on stdout; only its SHA-256 is stored")
    func createPrintsOnce() async throws {
        let workspace = try workspace()
        let result = try workspace.listgate("tokens", "create", "--list", "news", "--name", "sender-1")
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let token = String(try #require(lines.first))
        #expect(token.hasPrefix("lgt_") && token.count > 40)
        let stored = try await DatabaseQueue(path: workspace.db).read { db in
            try String.fetchAll(db, sql: "SELECT token_sha256 FROM api_tokens")
        }
        #expect(stored.count == 1 && stored[0].count == 64 && !stored[0].contains(token))
        let file = try Data(contentsOf: URL(fileURLWithPath: workspace.db))
        #expect(file.range(of: Data(token.utf8)) == nil, "the token itself is nowhere in the database file")
    }

    @Test("list shows ids and lists but never secrets; revoke records an event; revoking twice is an error")
    func listAndRevoke() async throws {
        let workspace = try workspace()
        let token = try workspace.listgate("tokens", "create", "--list", "news").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let listed = try workspace.listgate("tokens", "list", "--json")
        #expect(!listed.stdout.contains(token))
        let tokens = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        let id = try #require(tokens.first?["id"] as? String)
        #expect(tokens.first?["list"] as? String == "news")

        #expect(try workspace.listgate("tokens", "revoke", id).status == 0)
        let again = try workspace.listgate("tokens", "revoke", id)
        #expect(again.status != 0)
        #expect(again.lastErrorLine == "error: sender token '\(id)' is already revoked")
        let events = try await DatabaseQueue(path: workspace.db).read { db in
            try String.fetchAll(db, sql: "SELECT type FROM events WHERE type LIKE 'token_%' ORDER BY id")
        }
        #expect(events == ["token_created", "token_revoked"])
    }

    @Test("creating a token for an unknown list is an error and stores nothing", arguments: [["--list", "nope"], ["--list", "NOPE"], []])
    func badCreate(_ arguments: [String]) async throws {
        let workspace = try workspace()
        let result = try Binary.run(["tokens", "create"] + arguments + ["--db", workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: ") == true)
        #expect(result.stdout.isEmpty, "no token printed")
        #expect(try await DatabaseQueue(path: workspace.db).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM api_tokens") } == 0)
    }
}

@Suite("Sender API authentication", .serialized)
struct SenderAPIAuthTests {
    @Test("no, malformed, unknown or revoked tokens get 401; a valid one sees exactly its list")
    func authentication() async throws {
        let server = try await RunningServer()
        try server.workspace.listgate("lists", "create", "other", "--name", "Other", "--from", "o@example.org")
        let token = try server.workspace.listgate("tokens", "create", "--list", "news").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let revoked = try server.workspace.listgate("tokens", "create", "--list", "other").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let revokedID = try #require(
            (try JSONSerialization.jsonObject(with: Data(server.workspace.listgate("tokens", "list", "--json").stdout.utf8)) as? [[String: Any]])?
                .first { $0["list"] as? String == "other" }?["id"] as? String)
        try server.workspace.listgate("tokens", "revoke", revokedID)

        for authorization in [nil, "Bearer", "Basic Zm9vOmJhcg==", "Bearer lgt_wrong", "Bearer \(revoked)", "Bearer \(token)x"] as [String?] {
            let response = try await server.api("/api/v1/lists", authorization: authorization)
            #expect(response.status == 401, "Authorization: \(authorization ?? "(none)")")
            #expect(response.body.contains(#""code":"unauthorized""#))
        }
        let granted = try await server.api("/api/v1/lists", authorization: "Bearer \(token)")
        #expect(granted.status == 200)
        let lists = try #require((try JSONSerialization.jsonObject(with: Data(granted.body.utf8)) as? [String: Any])?["lists"] as? [[String: Any]])
        #expect(lists.map { $0["slug"] as? String } == ["news"], "a token reads exactly one list")
        #expect(try await server.api("/api/v1/lists", authorization: "bearer \(token)").status == 200, "the scheme is case-insensitive")
    }
}

extension RunningServer {
    func api(_ path: String, authorization: String?) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: base + path)!)
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
