// `listgate snapshots prune` and `serve --snapshot-retention`, through the built binary
// beside a running server.
import Foundation
import Testing

@Suite("listgate snapshots prune", .serialized)
struct SnapshotsCommandTests {
    /// A running server whose list has one member, and a snapshot of it.
    func serverWithSnapshot() async throws -> (RunningServer, token: String, snapshot: String) {
        let server = try await RunningServer(baseURLFromPort: true)
        try server.workspace.listgate("subscribers", "add", "reader@example.net", "--list", "news", "--confirmed")
        let token = try server.workspace.listgate("tokens", "create", "--list", "news").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try await server.request("POST", "/api/v1/lists/news/snapshots", bearer: token)
        #expect(created.status == 201)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])
        return (server, token, try #require(body["id"] as? String))
    }

    @Test("prune keeps a snapshot younger than the retention, and --older-than 0 frees its members: its stream is then 410")
    func pruneNow() async throws {
        let (server, token, snapshot) = try await serverWithSnapshot()
        defer { withExtendedLifetime(server) {} }
        let kept = try server.workspace.listgate("snapshots", "prune")
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(kept.stdout.hasPrefix("no snapshot taken before "))
        #expect(try await server.request("GET", "/api/v1/snapshots/\(snapshot)/recipients", bearer: token).status == 200)

        let pruned = try server.workspace.listgate("snapshots", "prune", "--older-than", "0")
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("pruned 1 snapshot(s)"))
        #expect(pruned.stdout.contains(": 1 member rows freed"))
        let stream = try await server.request("GET", "/api/v1/snapshots/\(snapshot)/recipients", bearer: token)
        #expect(stream.status == 410)
        #expect(stream.body.contains("snapshot_expired"))
    }

    @Test("a bad number of days is an error and prunes nothing", arguments: ["-1", "36501", "ten"])
    func badDays(_ days: String) async throws {
        let (server, token, snapshot) = try await serverWithSnapshot()
        defer { withExtendedLifetime(server) {} }
        let result = try Binary.run(["snapshots", "prune", "--older-than", days, "--db", server.workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: ") == true, "\(result.stderr)")
        #expect(try await server.request("GET", "/api/v1/snapshots/\(snapshot)/recipients", bearer: token).status == 200)
    }

    @Test("serve refuses a snapshot retention that is not a number of days from 1")
    func badRetention() throws {
        let workspace = try Workspace().migrated()
        for value in ["0", "x"] {
            let result = try Binary.run(["serve", "--db", workspace.db, "--port", "0"], environment: ["LISTGATE_SNAPSHOT_RETENTION": value])
            #expect(result.status != 0)
            #expect(result.lastErrorLine == "error: invalid snapshot retention '\(value)': use a number from 1 to 36500")
        }
    }
}
