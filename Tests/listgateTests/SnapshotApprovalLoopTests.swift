// Snapshot approvals through the built binary on every store (README, "Before you send"):
// a list that requires two approvals streams nothing until two different people approved
// the exact count and sha256, one at the CLI and one with an audience:approve token.
import Foundation
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Snapshot approvals through the binary", .serialized)
struct SnapshotApprovalLoopTests {
    struct World {
        let server: RunningServer
        /// audience:read and audience:approve; it takes the snapshots.
        let creator: String
        /// audience:approve only.
        let approver: String

        var workspace: Workspace { server.workspace }

        func call(_ method: String, _ path: String, token: String, json: String? = nil) async throws -> APIAnswer {
            var request = URLRequest(url: URL(string: server.base + path)!)
            request.httpMethod = method
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            if let json {
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(json.utf8)
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            return APIAnswer(status: http.statusCode, headers: http.allHeaderFields, data: data)
        }
    }

    /// news with three members, requiring two approvals per snapshot.
    func world(_ kind: StoreKind) async throws -> World {
        let server = try await RunningServer(kind, baseURLFromPort: true)
        let workspace = server.workspace
        for email in ["a@example.net", "b@example.net", "c@example.net"] {
            try workspace.listgate("subscribers", "add", email, "--list", "news", "--confirmed")
        }
        let updated = try workspace.listgate("lists", "update", "news", "--snapshot-approvals", "2")
        #expect(updated.status == 0, "\(updated.stderr)")
        #expect(updated.stdout == "snapshot_approvals: 0 -> 2\n")
        func token(_ scopes: String...) throws -> String {
            try Binary.run(["tokens", "create", "--list", "news"] + scopes.flatMap { ["--scope", $0] } + ["--db", workspace.db],
                           in: workspace.url)
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return World(server: server, creator: try token("audience:read", "audience:approve"), approver: try token("audience:approve"))
    }

    @Test("two approvals: wrong values refused, alice once however often, a token, then the stream; listed, shown and recorded",
          arguments: StoreKind.underTest)
    func twoApprovalsOpenTheStream(_ kind: StoreKind) async throws {
        let world = try await world(kind)
        let taken = try await world.call("POST", "/api/v1/lists/news/snapshots", token: world.creator)
        #expect(taken.status == 201)
        let snapshot = try taken.object()
        let id = try #require(snapshot["id"] as? String), sha256 = try #require(snapshot["sha256"] as? String)
        #expect(snapshot["status"] as? String == "awaiting_approval" && snapshot["approvals_required"] as? Int == 2)
        #expect(try await world.call("GET", "/api/v1/snapshots/\(id)/recipients", token: world.creator).status == 409)

        let prefix = String(sha256.prefix(8))
        let wrongHash = sha256.hasPrefix("0") ? "11111111" : "00000000"
        for (count, hash) in [("4", prefix), ("3", wrongHash), ("3", "abc")] {
            let refused = try world.workspace.listgate(
                "snapshots", "approve", id, "--approver", "alice", "--count", count, "--sha256", hash)
            #expect(refused.status != 0, "--count \(count) --sha256 \(hash)")
            #expect(refused.stderr.hasPrefix("error: "))
        }
        #expect(try world.workspace.count("snapshot_approvals") == 0)

        let alice = try world.workspace.listgate("snapshots", "approve", id, "--approver", "alice", "--count", "3", "--sha256", prefix)
        #expect(alice.status == 0, "\(alice.stderr)")
        #expect(alice.stdout == "1 of 2; awaiting 1 more\n")
        let again = try world.workspace.listgate("snapshots", "approve", id, "--approver", "alice", "--count", "3", "--sha256", sha256)
        #expect(again.status == 0)
        #expect(again.stdout == "already approved by alice (counted once)\n1 of 2; awaiting 1 more\n")
        #expect(try await world.call("GET", "/api/v1/snapshots/\(id)/recipients", token: world.creator).status == 409)

        let byCreator = try await world.call(
            "POST", "/api/v1/snapshots/\(id)/approvals", token: world.creator, json: #"{"count": 3, "sha256": "\#(prefix)"}"#)
        #expect(byCreator.status == 403)
        let byToken = try await world.call(
            "POST", "/api/v1/snapshots/\(id)/approvals", token: world.approver, json: #"{"count": 3, "sha256": "\#(prefix)"}"#)
        #expect(byToken.status == 200)
        #expect(try byToken.object()["status"] as? String == "ready")

        let stream = try await world.call("GET", "/api/v1/snapshots/\(id)/recipients", token: world.creator)
        #expect(stream.status == 200)
        #expect(try stream.lines().count == 3)

        let listed = try world.workspace.listgate("snapshots", "list", "--list", "news", "--json")
        let snapshots = try #require(try jsonObject(listed.stdout)["snapshots"] as? [[String: Any]])
        #expect(snapshots.map { $0["id"] as? String } == [id])
        #expect(snapshots.first?["status"] as? String == "ready" && snapshots.first?["approvals"] as? Int == 2)
        let shown = try jsonObject(try world.workspace.listgate("snapshots", "show", id, "--json").stdout)
        let approvedBy = try #require(shown["approved_by"] as? [[String: Any]])
        #expect(Set(approvedBy.compactMap { $0["approver"] as? String }).count == 2)
        #expect(approvedBy.contains { $0["approver"] as? String == "admin:alice" })
        #expect(try world.workspace.count("events", where: "type = 'snapshot_approved'") == 2)
        #expect(try world.workspace.count("snapshots", where: "approved_at IS NOT NULL") == 1)
    }

    @Test("--snapshot-approvals out of 0 to 9 is an error and changes nothing")
    func approvalsOutOfRange() throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        let refused = try workspace.listgate("lists", "update", "news", "--snapshot-approvals", "10")
        #expect(refused.status != 0)
        #expect(refused.stderr == "error: --snapshot-approvals must be 0 to 9, not 10\n")
        let shown = try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)
        #expect(shown["snapshot_approvals"] as? Int == 0)
    }
}
