// The Channel Talk incident (README, "Why listgate exists") replayed through the built binary on every
// store: a sender meant to mail one person, took a snapshot of the whole list, and mailed
// 300. With the expected audience said up front (`{"max_count": 1}`), the snapshot is
// refused with the real count, and nothing exists that could be streamed.
import Foundation
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Channel Talk replayed: the expected audience through the binary", .serialized)
struct ChannelTalkReplayLoopTests {
    /// A running server whose `news` has 300 active members (imported with consent), and
    /// its sender token.
    func world(_ kind: StoreKind) async throws -> (RunningServer, String) {
        let server = try await RunningServer(kind, baseURLFromPort: true)
        let workspace = server.workspace
        let rows = (0..<300).map { "customer\($0)@example.jp" }.joined(separator: "\n")
        let file = workspace.url.appendingPathComponent("customers.csv").path
        try ("email\n" + rows + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let imported = try workspace.listgate("import", file, "--list", "news", "--consent-note", "signed up at the 2020 fair")
        #expect(imported.status == 0, "\(imported.stderr)")
        let token = try workspace.listgate("tokens", "create", "--list", "news").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (server, token)
    }

    func takeSnapshot(_ server: RunningServer, token: String, json: String) async throws -> APIAnswer {
        var request = URLRequest(url: URL(string: server.base + "/api/v1/lists/news/snapshots")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return APIAnswer(status: http.statusCode, headers: http.allHeaderFields, data: data)
    }

    @Test("300 members with max_count 1: 409 audience_mismatch with count 300, no snapshot kept, no address answered",
          arguments: StoreKind.underTest)
    func maxCountStopsTheWholeList(_ kind: StoreKind) async throws {
        let (server, token) = try await world(kind)
        let answer = try await takeSnapshot(server, token: token, json: #"{"max_count": 1}"#)
        #expect(answer.status == 409)
        let error = try #require(try answer.object()["error"] as? [String: Any])
        #expect(error["code"] as? String == "audience_mismatch")
        #expect(error["count"] as? Int == 300)
        let body = try answer.object()
        #expect(error["id"] == nil && body["id"] == nil, "no snapshot id to stream from")
        #expect(!String(decoding: answer.data, as: UTF8.self).contains("@"), "no address in the refusal")
        #expect(try server.workspace.count("snapshots") == 0)
        #expect(try server.workspace.count("snapshot_members") == 0)
        #expect(try server.workspace.count("events", where: "type = 'snapshot_taken'") == 0)
    }

    @Test("a misspelt expected_count is 400, not a snapshot of all 300 taken unchecked", arguments: StoreKind.underTest)
    func misspeltKeyIsRefused(_ kind: StoreKind) async throws {
        let (server, token) = try await world(kind)
        let answer = try await takeSnapshot(server, token: token, json: #"{"expected_count": 1}"#)
        #expect(answer.status == 400)
        #expect((try answer.object()["error"] as? [String: Any])?["code"] as? String == "invalid_expectation")
        #expect(try server.workspace.count("snapshots") == 0)
    }

    @Test("the same 300 with expect_count 300 are frozen and stream 300 lines", arguments: StoreKind.underTest)
    func rightCountStreams(_ kind: StoreKind) async throws {
        let (server, token) = try await world(kind)
        let answer = try await takeSnapshot(server, token: token, json: #"{"expect_count": 300}"#)
        #expect(answer.status == 201)
        let id = try #require(try answer.object()["id"] as? String)
        var request = URLRequest(url: URL(string: server.base + "/api/v1/snapshots/\(id)/recipients")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: data, as: UTF8.self).split(separator: "\n").count == 300)
    }
}
