// The sender API through the built binary on a real port: what a newsletter sender sees
// is exactly the frozen, counted audience, and a one-click unsubscribe from a streamed
// link reaches the unsubscribes feed.
import Foundation
import GRDB
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A running server with `news` (three active members, one pending, one unsubscribed, one
/// suppressed) and an empty `tech`, and a sender token for each.
struct SenderAPIWorld {
    let server: RunningServer
    let newsToken: String
    let techToken: String

    static let active = ["b@example.net", "A.Reader@Example.NET", "山田@example.jp"]

    init(_ kind: StoreKind = .sqlite) async throws {
        server = try await RunningServer(kind, baseURLFromPort: true)
        let workspace = server.workspace
        try workspace.listgate("lists", "create", "tech", "--name", "Tech", "--from", "tech@example.org", "--locale", "en")
        for email in Self.active + ["gone@example.net", "blocked@example.net"] {
            try workspace.listgate("subscribers", "add", email, "--list", "news", "--confirmed")
        }
        try workspace.listgate("subscribers", "add", "pending@example.net", "--list", "news")
        try workspace.listgate("subscribers", "remove", "gone@example.net", "--list", "news")
        try workspace.listgate("suppressions", "add", "blocked@example.net")
        newsToken = try workspace.listgate("tokens", "create", "--list", "news").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        techToken = try workspace.listgate("tokens", "create", "--list", "tech").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func call(_ method: String, _ path: String, token: String?, body: String? = nil) async throws -> APIAnswer {
        var request = URLRequest(url: URL(string: path.hasPrefix("http") ? path : server.base + path)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return APIAnswer(status: http.statusCode, headers: http.allHeaderFields, data: data)
    }

    func snapshot(token: String? = nil) async throws -> [String: Any] {
        let answer = try await call("POST", "/api/v1/lists/news/snapshots", token: token ?? newsToken)
        #expect(answer.status == 201)
        return try answer.object()
    }

    func recipients(_ id: String) async throws -> (lines: [[String: Any]], answer: APIAnswer) {
        let answer = try await call("GET", "/api/v1/snapshots/\(id)/recipients", token: newsToken)
        #expect(answer.status == 200)
        return (try answer.lines(), answer)
    }
}

struct APIAnswer {
    let status: Int
    let headers: [AnyHashable: Any]
    let data: Data

    func header(_ name: String) -> String? {
        headers.first { ($0.key as? String)?.lowercased() == name.lowercased() }?.value as? String
    }

    func object() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// NDJSON: every line one JSON object, the body ending with a newline.
    func lines() throws -> [[String: Any]] {
        let text = String(decoding: data, as: UTF8.self)
        if text.isEmpty { return [] }
        #expect(text.hasSuffix("\n"))
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }
}

@Suite("Sender API through the binary", .serialized)
struct SenderAPILoopTests {
    @Test("401 without a valid token, 403 for another list's token, 404 for unknown lists and snapshots, 400 for a bad since", arguments: StoreKind.underTest)
    func failClosed(_ kind: StoreKind) async throws {
        let world = try await SenderAPIWorld(kind)
        let snapshotID = try #require(try await world.snapshot()["id"] as? String)
        let cases: [(String, String, String?, Int)] = [
            ("GET", "/api/v1/lists", nil, 401),
            ("GET", "/api/v1/lists", "lgt_forged", 401),
            ("POST", "/api/v1/lists/news/snapshots", nil, 401),
            ("GET", "/api/v1/snapshots/\(snapshotID)/recipients", nil, 401),
            ("GET", "/api/v1/snapshots/\(snapshotID)/recipients", "Bearer-less", 401),
            ("GET", "/api/v1/lists/news/unsubscribes?since=2026-01-01T00:00:00Z", nil, 401),
            ("POST", "/api/v1/lists/news/snapshots", world.techToken, 403),
            ("GET", "/api/v1/snapshots/\(snapshotID)", world.techToken, 403),
            ("GET", "/api/v1/snapshots/\(snapshotID)/recipients", world.techToken, 403),
            ("GET", "/api/v1/lists/news/unsubscribes?since=2026-01-01T00:00:00Z", world.techToken, 403),
            ("POST", "/api/v1/lists/nosuch/snapshots", world.newsToken, 404),
            ("GET", "/api/v1/snapshots/nosuchsnapshot0000", world.newsToken, 404),
            ("GET", "/api/v1/snapshots/nosuchsnapshot0000/recipients", world.newsToken, 404),
            ("GET", "/api/v1/lists/nosuch/unsubscribes?since=2026-01-01T00:00:00Z", world.newsToken, 404),
            ("GET", "/api/v1/lists/news/unsubscribes", world.newsToken, 400),
            ("GET", "/api/v1/lists/news/unsubscribes?since=", world.newsToken, 400),
            ("GET", "/api/v1/lists/news/unsubscribes?since=yesterday", world.newsToken, 400),
            ("GET", "/api/v1/lists/news/unsubscribes?since=2026-01-01", world.newsToken, 400),
            ("GET", "/api/v1/lists/news/unsubscribes?since=2026-13-01T00:00:00Z", world.newsToken, 400),
            ("GET", "/api/v1/lists/news/unsubscribes?since=2026-01-01T00:00:00", world.newsToken, 400),
        ]
        for (method, path, token, expected) in cases {
            let answer = try await world.call(method, path, token: token == "Bearer-less" ? nil : token)
            #expect(answer.status == expected, "\(method) \(path) with \(token ?? "no token")")
            let problem = try? answer.object()["error"] as? [String: Any]
            #expect(problem?["code"] is String, "errors are JSON problems: \(method) \(path)")
        }
        let ok = try await world.call("GET", "/api/v1/lists/news/unsubscribes?since=2026-01-01T09:00:00%2B09:00", token: world.newsToken)
        #expect(ok.status == 200, "an offset is RFC 3339 too")
    }

    @Test("the stream's count and sha256, recomputed independently, match the snapshot; only active, unsuppressed members appear", arguments: StoreKind.underTest)
    func streamMatchesSnapshot(_ kind: StoreKind) async throws {
        let world = try await SenderAPIWorld(kind)
        let snapshot = try await world.snapshot()
        let id = try #require(snapshot["id"] as? String)
        let (lines, answer) = try await world.recipients(id)
        #expect(answer.header("Content-Type")?.hasPrefix("application/x-ndjson") == true)

        let emails = lines.compactMap { $0["email"] as? String }
        #expect(Set(emails) == Set(SenderAPIWorld.active))
        #expect(lines.count == snapshot["count"] as? Int)
        #expect(answer.header("X-Listgate-Snapshot-Count") == String(lines.count))
        // Identity keys: the test addresses have ASCII domains, so lowercasing is the whole rule.
        let recomputed = try IndependentChecksum.sha256(sortedAndJoined: emails.map { $0.lowercased() })
        #expect(recomputed == snapshot["sha256"] as? String)
        #expect(answer.header("X-Listgate-Snapshot-SHA256") == recomputed)
        #expect(snapshot["erased"] as? Int == 0)
        #expect(answer.header("X-Listgate-Snapshot-Erased") == "0")
        for excluded in ["pending@example.net", "gone@example.net", "blocked@example.net"] {
            #expect(!emails.contains(excluded))
        }
        for line in lines {
            let url = try #require(line["unsubscribe_url"] as? String)
            #expect(url.hasPrefix(world.server.base + "/unsubscribe/"))
            #expect(line["list_unsubscribe"] as? String == "<\(url)>")
            #expect(line["list_unsubscribe_post"] as? String == "List-Unsubscribe=One-Click")
            #expect(line["subscribed_at"] is String)
            #expect(line.keys.contains("name"))
        }
        #expect(Set(lines.compactMap { $0["unsubscribe_url"] as? String }).count == lines.count, "one link per person")
        let recipientIDs = lines.compactMap { $0["recipient_id"] as? String }
        #expect(recipientIDs.count == lines.count && Set(recipientIDs).count == lines.count, "one opaque id per person")
        #expect(recipientIDs.allSatisfy { $0.count == 32 && !$0.contains("@") })
    }

    @Test("recipient ids are stable: the same person has the same id in every snapshot", arguments: StoreKind.underTest)
    func recipientIDsAreStable(_ kind: StoreKind) async throws {
        let world = try await SenderAPIWorld(kind)
        func ids() async throws -> [String: String] {
            let id = try #require(try await world.snapshot()["id"] as? String)
            return Dictionary(uniqueKeysWithValues: try await world.recipients(id).lines.map {
                ($0["email"] as? String ?? "", $0["recipient_id"] as? String ?? "")
            })
        }
        let first = try await ids()
        #expect(try await ids() == first)
    }

    @Test("after forget, the unsubscribes feed names the erased person's recipient_id, with reason erased and no address", arguments: StoreKind.underTest)
    func erasureReachesTheSender(_ kind: StoreKind) async throws {
        let world = try await SenderAPIWorld(kind)
        let stamp = ISO8601DateFormatter()
        stamp.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let before = stamp.string(from: Date())
        let id = try #require(try await world.snapshot()["id"] as? String)
        let line = try #require(try await world.recipients(id).lines.first { $0["email"] as? String == "b@example.net" })
        let recipientID = try #require(line["recipient_id"] as? String)

        let forget = try world.server.workspace.listgate("subscribers", "forget", "b@example.net")
        #expect(forget.status == 0, "\(forget.stderr)")
        let feed = try await world.call("GET", "/api/v1/lists/news/unsubscribes?since=\(before)", token: world.newsToken)
        let departures = try feed.lines()
        #expect(departures.count == 1)
        let erased = try #require(departures.first)
        #expect(erased["recipient_id"] as? String == recipientID)
        #expect(erased["reason"] as? String == "erased")
        #expect(erased["unsubscribed_at"] is String)
        #expect(erased["email"] == nil)
        #expect(!String(decoding: feed.data, as: UTF8.self).contains("example.net"), "no address, of anyone, in an erasure")
    }

    @Test("after forget, a snapshot keeps its count and sha256, says erased 1 in its metadata and headers, and streams count - erased lines", arguments: StoreKind.underTest)
    func erasureCountedOnSnapshot(_ kind: StoreKind) async throws {
        let world = try await SenderAPIWorld(kind)
        for email in ["c@example.net", "d@example.net", "e@example.net"] {
            try world.server.workspace.listgate("subscribers", "add", email, "--list", "news", "--confirmed")
        }
        let taken = try await world.snapshot()
        let id = try #require(taken["id"] as? String)
        let sha256 = try #require(taken["sha256"] as? String)
        #expect(taken["count"] as? Int == 6)

        let forget = try world.server.workspace.listgate("subscribers", "forget", "b@example.net")
        #expect(forget.status == 0, "\(forget.stderr)")

        let metadata = try await world.call("GET", "/api/v1/snapshots/\(id)", token: world.newsToken).object()
        #expect(metadata["count"] as? Int == 6)
        #expect(metadata["erased"] as? Int == 1)
        #expect(metadata["sha256"] as? String == sha256)
        let (lines, answer) = try await world.recipients(id)
        #expect(answer.header("X-Listgate-Snapshot-Count") == "6")
        #expect(answer.header("X-Listgate-Snapshot-Erased") == "1")
        #expect(answer.header("X-Listgate-Snapshot-SHA256") == sha256)
        #expect(lines.count == 5)
        #expect(!lines.contains { $0["email"] as? String == "b@example.net" })
    }

    @Test("someone who confirms after the snapshot is not in it", arguments: StoreKind.underTest)
    func frozen(_ kind: StoreKind) async throws {
        let world = try await SenderAPIWorld(kind)
        let id = try #require(try await world.snapshot()["id"] as? String)
        try world.server.workspace.listgate("subscribers", "add", "late@example.net", "--list", "news", "--confirmed")
        let emails = try await world.recipients(id).lines.compactMap { $0["email"] as? String }
        #expect(!emails.contains("late@example.net"))
        #expect(emails.count == SenderAPIWorld.active.count)
        let next = try #require(try await world.snapshot()["id"] as? String)
        #expect(try await world.recipients(next).lines.contains { $0["email"] as? String == "late@example.net" })
    }

    @Test("a one-click POST to a streamed unsubscribe_url shows up in the unsubscribes feed", arguments: StoreKind.underTest)
    func oneClickReachesFeed(_ kind: StoreKind) async throws {
        let world = try await SenderAPIWorld(kind)
        let stamp = ISO8601DateFormatter()
        stamp.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let before = stamp.string(from: Date())
        let id = try #require(try await world.snapshot()["id"] as? String)
        let line = try #require(try await world.recipients(id).lines.first { $0["email"] as? String == "b@example.net" })
        let url = try #require(line["unsubscribe_url"] as? String)

        let feedBefore = try await world.call("GET", "/api/v1/lists/news/unsubscribes?since=\(before)", token: world.newsToken)
        #expect(try feedBefore.lines().isEmpty, "the removal made while arranging is older than `before`")

        let click = try await world.call("POST", url, token: nil, body: "List-Unsubscribe=One-Click")
        #expect(click.status == 200)
        let feed = try await world.call("GET", "/api/v1/lists/news/unsubscribes?since=\(before)", token: world.newsToken)
        #expect(feed.status == 200)
        #expect(feed.header("Content-Type")?.hasPrefix("application/x-ndjson") == true)
        let departures = try feed.lines()
        #expect(departures.map { $0["email"] as? String } == ["b@example.net"])
        let at = try #require(departures.first?["unsubscribed_at"] as? String)
        #expect(at >= before)

        let later = stamp.string(from: Date().addingTimeInterval(5))
        #expect(try await world.call("GET", "/api/v1/lists/news/unsubscribes?since=\(later)", token: world.newsToken).lines().isEmpty)
        let all = try await world.call("GET", "/api/v1/lists/news/unsubscribes?since=2000-01-01T00:00:00Z", token: world.newsToken).lines()
        #expect(Set(all.compactMap { $0["email"] as? String }) == ["b@example.net", "gone@example.net", "blocked@example.net"],
                "since the beginning of time: every way of leaving, each person once")
    }
}
