// Senders' feedback through the built binary on a real port, mail at a real SMTP server:
// what each kind of report does to the list, the answer's counts, the refusals, and what
// the sender and the person see afterwards (README, "Reporting bounces and complaints").
import Foundation
import GRDB
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A running server with `news` (four active members since 2025, one who left) and `tech`
/// (one active member), a reporting token for each (`feedback:write`, and `audience:read`
/// for `news`) and a reading-only token for `news`.
struct FeedbackWorld {
    let server: RunningServer
    let reporter: String
    let reporterID: String
    let reader: String
    let techReporter: String

    static let members = ["a@example.net", "b@example.net", "c@example.net", "d@example.net"]

    init() async throws {
        server = try await RunningServer(baseURLFromPort: true)
        let workspace = server.workspace
        try workspace.listgate("lists", "create", "tech", "--name", "Tech", "--from", "tech@example.org", "--locale", "en")
        // Members for a while: soft bounces from before a subscription began do not count.
        let file = workspace.url.appendingPathComponent("members.csv")
        try Data((["email,status,subscribed_at"] + (Self.members + ["gone@example.net"]).map { "\($0),active,2025-01-01T00:00:00Z" })
            .joined(separator: "\n").utf8).write(to: file)
        let imported = try workspace.listgate("import", file.path, "--list", "news", "--consent-note", "test members")
        #expect(imported.status == 0, "\(imported.stderr)")
        try workspace.listgate("subscribers", "remove", "gone@example.net", "--list", "news")
        try workspace.listgate("subscribers", "add", "t@example.net", "--list", "tech", "--confirmed")
        func token(_ arguments: String...) throws -> String {
            try Binary.run(["tokens", "create"] + arguments + ["--db", workspace.db]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        reporter = try token("--list", "news", "--scope", "feedback:write", "--scope", "audience:read")
        reader = try token("--list", "news")
        techReporter = try token("--list", "tech", "--scope", "feedback:write")
        let tokens = try #require(
            try JSONSerialization.jsonObject(with: Data(workspace.listgate("tokens", "list", "--json").stdout.utf8)) as? [[String: Any]])
        reporterID = try #require(tokens.first { ($0["scopes"] as? [String])?.count == 2 }?["id"] as? String)
    }

    /// POSTs a body to the feedback route of `list` (default `news`) with the reporting token.
    func report(_ body: String, ndjson: Bool = true, token: String? = nil, list: String = "news") async throws -> APIAnswer {
        var request = URLRequest(url: URL(string: server.base + "/api/v1/lists/\(list)/feedback")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token ?? reporter)", forHTTPHeaderField: "Authorization")
        request.setValue(ndjson ? "application/x-ndjson" : "application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return APIAnswer(status: http.statusCode, headers: http.allHeaderFields, data: data)
    }

    /// `{"accepted","duplicates","unknown","invalid"}` of a 200 answer.
    func counts(_ answer: APIAnswer) throws -> (accepted: Int, duplicates: Int, unknown: Int, invalid: [(Int, String)]) {
        #expect(answer.status == 200, "\(String(decoding: answer.data, as: UTF8.self))")
        let object = try answer.object()
        let invalid = (object["invalid"] as? [[String: Any]] ?? []).map { ($0["index"] as? Int ?? -1, $0["error"] as? String ?? "") }
        return (object["accepted"] as? Int ?? -1, object["duplicates"] as? Int ?? -1, object["unknown"] as? Int ?? -1, invalid)
    }

    func recipientID(_ email: String, list: String = "news") throws -> String {
        try #require(try server.workspace.rows("""
            SELECT s.recipient_id FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
            WHERE a.identity_key = ? AND l.slug = ?
            """, [email, list]).first?["recipient_id"] as String?)
    }

    func status(_ email: String, list: String = "news") throws -> String? {
        try server.workspace.rows("""
            SELECT s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
            WHERE a.identity_key = ? AND l.slug = ?
            """, [email, list]).first?["status"]
    }

    /// The reasons the address is suppressed for `news` (the test hashes nothing: it
    /// joins the address's own hash).
    func suppressions(_ email: String) throws -> [String] {
        try server.workspace.rows("""
            SELECT x.reason FROM suppressions x JOIN addresses a ON a.address_hash = x.address_hash
            WHERE a.identity_key = ? AND x.list_id = (SELECT id FROM lists WHERE slug = 'news')
            """, [email]).map { $0["reason"] }
    }

    /// The ledger's events about the address, oldest first.
    func events(_ email: String) throws -> [(type: String, source: String, detail: String)] {
        try server.workspace.rows("""
            SELECT e.type, e.source, e.detail FROM events e JOIN addresses a ON a.address_hash = e.address_hash
            WHERE a.identity_key = ? ORDER BY e.id
            """, [email]).map { ($0["type"], $0["source"], $0["detail"]) }
    }

    static func line(id: String, type: String, recipientID: String? = nil, email: String? = nil,
                     occurredAt: String = "2026-11-21T09:30:00Z", detail: String? = nil) -> String {
        var fields = [#""id":"\#(id)""#, #""type":"\#(type)""#]
        if let recipientID { fields.append(#""recipient_id":"\#(recipientID)""#) }
        if let email { fields.append(#""email":"\#(email)""#) }
        fields.append(#""occurred_at":"\#(occurredAt)""#)
        if let detail { fields.append(#""detail":\#(detail)"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func ago(days: Double) -> String {
        let format = ISO8601DateFormatter()
        return format.string(from: Date().addingTimeInterval(-days * 86_400))
    }

    static func now() -> String {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.string(from: Date())
    }
}

@Suite("Token scopes through the binary", .serialized)
struct TokenScopeTests {
    @Test("a token made without --scope has audience:read; tokens list shows every token's scopes, as text and JSON")
    func defaultScopeAndList() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        #expect(try workspace.listgate("tokens", "create", "--list", "news", "--name", "reader").status == 0)
        let made = try workspace.listgate(
            "tokens", "create", "--list", "news", "--name", "mta", "--scope", "feedback:write", "--scope", "audience:approve")
        #expect(made.status == 0, "\(made.stderr)")
        let tokens = try #require(
            try JSONSerialization.jsonObject(with: Data(workspace.listgate("tokens", "list", "--json").stdout.utf8)) as? [[String: Any]])
        let scopes = Dictionary(uniqueKeysWithValues: tokens.map { ($0["name"] as? String ?? "", $0["scopes"] as? [String] ?? []) })
        #expect(scopes == ["reader": ["audience:read"], "mta": ["feedback:write", "audience:approve"]])
        let table = try workspace.listgate("tokens", "list").stdout
        #expect(table.contains("SCOPES"))
        #expect(table.split(separator: "\n").contains { $0.contains("reader") && $0.contains("audience:read") })
        #expect(table.split(separator: "\n").contains { $0.contains("mta") && $0.contains("feedback:write audience:approve") })
    }

    @Test("an unknown scope is refused and stores no token")
    func unknownScope() throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let result = try workspace.listgate("tokens", "create", "--list", "news", "--scope", "feedback:read")
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: unknown scope 'feedback:read': use audience:read, feedback:write, audience:approve")
        #expect(result.stdout.isEmpty)
        #expect(try workspace.rows("SELECT * FROM api_tokens").isEmpty)
    }

    @Test("a valid token without the route's scope is 403 insufficient_scope, naming the scope")
    func insufficientScope() async throws {
        let world = try await FeedbackWorld()
        let readerReports = try await world.report(
            FeedbackWorld.line(id: "r1", type: "hard_bounce", email: "a@example.net"), token: world.reader)
        #expect(readerReports.status == 403)
        #expect((try readerReports.object()["error"] as? [String: Any])?["code"] as? String == "insufficient_scope")
        #expect(readerReports.header("WWW-Authenticate") == #"Bearer error="insufficient_scope", scope="feedback:write""#)
        #expect(try world.status("a@example.net") == "active", "refused before anything changed")

        for (method, path) in [("POST", "/api/v1/lists/tech/snapshots"), ("GET", "/api/v1/lists"),
                               ("GET", "/api/v1/lists/tech/unsubscribes?since=2026-01-01T00:00:00Z")] {
            var request = URLRequest(url: URL(string: world.server.base + path)!)
            request.httpMethod = method
            request.setValue("Bearer \(world.techReporter)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 403, "\(method) \(path)")
            #expect(String(decoding: data, as: UTF8.self).contains(#""code":"insufficient_scope""#), "\(method) \(path)")
            #expect(String(decoding: data, as: UTF8.self).contains("audience:read"), "\(method) \(path)")
        }
    }

    @Test("a feedback token of another list is 403 and changes nothing")
    func otherListsToken() async throws {
        let world = try await FeedbackWorld()
        let answer = try await world.report(
            FeedbackWorld.line(id: "x1", type: "hard_bounce", recipientID: world.recipientID("a@example.net")),
            token: world.techReporter)
        #expect(answer.status == 403)
        #expect((try answer.object()["error"] as? [String: Any])?["code"] as? String == "forbidden")
        #expect(try world.status("a@example.net") == "active")
        #expect(try await world.report("{}", list: "nosuch").status == 404)
    }
}

@Suite("Feedback through the binary", .serialized)
struct FeedbackLoopTests {
    @Test("a hard bounce by recipient_id: bounced, suppressed for the list, recorded with source api:TOKEN_ID and no address")
    func hardBounce() async throws {
        let world = try await FeedbackWorld()
        let answer = try await world.report(FeedbackWorld.line(
            id: "b-1", type: "hard_bounce", recipientID: try world.recipientID("a@example.net"),
            detail: #"{"smtp_status":"5.1.1","diagnostic":"550 5.1.1 <a@example.net>: user unknown"}"#))
        let counts = try world.counts(answer)
        #expect(counts.accepted == 1 && counts.duplicates == 0 && counts.unknown == 0 && counts.invalid.isEmpty)
        #expect(try world.status("a@example.net") == "bounced")
        #expect(try world.suppressions("a@example.net") == ["bounced"])
        let events = try world.events("a@example.net").filter { $0.source.hasPrefix("api:") }
        #expect(events.map(\.type) == ["bounced", "suppressed"])
        #expect(events.allSatisfy { $0.source == "api:\(world.reporterID)" })
        let detail = try #require(events.first?.detail)
        #expect(!detail.contains("@"), "no address in the ledger: \(detail)")
        #expect(detail.contains(#""detail.smtp_status":"5.1.1""#) && detail.contains("(address)"), "\(detail)")
        #expect(try world.status("b@example.net") == "active", "no one else changed")
    }

    @Test("a complaint by email: complained, suppressed for the list with reason complained")
    func complaint() async throws {
        let world = try await FeedbackWorld()
        let counts = try world.counts(try await world.report(
            #"{"events":["# + FeedbackWorld.line(id: "c-1", type: "complaint", email: "B@Example.NET") + "]}", ndjson: false))
        #expect(counts.accepted == 1)
        #expect(try world.status("b@example.net") == "complained")
        #expect(try world.suppressions("b@example.net") == ["complained"])
        #expect(try world.events("b@example.net").map(\.type).suffix(2) == ["complained", "suppressed"])
    }

    @Test("an unsubscribe report ends the subscription with route sender")
    func unsubscribe() async throws {
        let world = try await FeedbackWorld()
        let counts = try world.counts(try await world.report(
            FeedbackWorld.line(id: "u-1", type: "unsubscribe", recipientID: try world.recipientID("c@example.net"))))
        #expect(counts.accepted == 1)
        #expect(try world.status("c@example.net") == "unsubscribed")
        #expect(try world.suppressions("c@example.net") == ["unsubscribed"])
        let unsubscribed = try #require(try world.events("c@example.net").first { $0.type == "unsubscribed" })
        #expect(unsubscribed.detail.contains(#""route":"sender""#))
        #expect(unsubscribed.source == "api:\(world.reporterID)")
    }

    @Test("the third soft bounce within 15 days makes the subscription bounced; the first two are only counted")
    func softBouncesReachTheLimit() async throws {
        let world = try await FeedbackWorld()
        let id = try world.recipientID("a@example.net")
        for (number, days) in [(1, 10.0), (2, 5.0)] {
            let counts = try world.counts(try await world.report(
                FeedbackWorld.line(id: "s-\(number)", type: "soft_bounce", recipientID: id, occurredAt: FeedbackWorld.ago(days: days))))
            #expect(counts.accepted == 1)
            #expect(try world.status("a@example.net") == "active", "soft bounce \(number) only counts")
        }
        _ = try world.counts(try await world.report(
            FeedbackWorld.line(id: "s-3", type: "soft_bounce", recipientID: id, occurredAt: FeedbackWorld.ago(days: 0))))
        #expect(try world.status("a@example.net") == "bounced")
        #expect(try world.suppressions("a@example.net") == ["bounced"])
        #expect(try world.events("a@example.net").filter { $0.source.hasPrefix("api:") }.map(\.type)
            == ["soft_bounced", "soft_bounced", "soft_bounced", "bounced", "suppressed"])
    }

    @Test("three soft bounces spread over more than 15 days do not reach the limit")
    func softBouncesOutsideTheWindow() async throws {
        let world = try await FeedbackWorld()
        let id = try world.recipientID("a@example.net")
        let body = [40.0, 20.0, 0.0].enumerated().map { number, days in
            FeedbackWorld.line(id: "w-\(number)", type: "soft_bounce", recipientID: id, occurredAt: FeedbackWorld.ago(days: days))
        }.joined(separator: "\n")
        #expect(try world.counts(try await world.report(body)).accepted == 3)
        #expect(try world.status("a@example.net") == "active")
        #expect(try world.suppressions("a@example.net").isEmpty)
    }

    @Test("lists update sets the soft-bounce policy, lists show shows it, and the next reports follow it")
    func policyFromTheCLI() async throws {
        let world = try await FeedbackWorld()
        let workspace = world.server.workspace
        let shown = try jsonObject(workspace.listgate("lists", "show", "news", "--json").stdout)
        #expect(shown["soft_bounce_limit"] as? Int == 3 && shown["soft_bounce_days"] as? Int == 15, "the default")
        let updated = try workspace.listgate("lists", "update", "news", "--soft-bounce-limit", "2", "--soft-bounce-days", "30")
        #expect(updated.status == 0, "\(updated.stderr)")
        #expect(updated.stdout == "soft_bounce_limit: 3 -> 2\nsoft_bounce_days: 15 -> 30\n")
        #expect(try workspace.listgate("lists", "show", "news").stdout.contains("2 within 30 days make a subscription bounced"))
        let refused = try workspace.listgate("lists", "update", "news", "--soft-bounce-limit", "0")
        #expect(refused.lastErrorLine == "error: --soft-bounce-limit must be 1–100, not 0")
        // The server reads the policy in the transaction that applies the reports.
        let id = try world.recipientID("a@example.net")
        let body = [25.0, 1.0].enumerated().map { number, days in
            FeedbackWorld.line(id: "p-\(number)", type: "soft_bounce", recipientID: id, occurredAt: FeedbackWorld.ago(days: days))
        }.joined(separator: "\n")
        _ = try world.counts(try await world.report(body))
        #expect(try world.status("a@example.net") == "bounced", "2 within 30 days")
    }

    @Test("an event id the list has seen is a duplicate and changes nothing, in the same batch or a later one")
    func duplicates() async throws {
        let world = try await FeedbackWorld()
        let batch = [
            FeedbackWorld.line(id: "same", type: "hard_bounce", email: "a@example.net"),
            FeedbackWorld.line(id: "same", type: "hard_bounce", email: "b@example.net"),
        ].joined(separator: "\n")
        let first = try world.counts(try await world.report(batch))
        #expect(first.accepted == 1 && first.duplicates == 1)
        #expect(try world.status("a@example.net") == "bounced", "the first of a repeated id is the one applied")
        #expect(try world.status("b@example.net") == "active")
        let eventsBefore = try world.server.workspace.rows("SELECT count(*) AS n FROM events").first?["n"] as Int?
        let again = try world.counts(try await world.report(
            FeedbackWorld.line(id: "same", type: "complaint", email: "c@example.net")))
        #expect(again.accepted == 0 && again.duplicates == 1)
        #expect(try world.status("c@example.net") == "active")
        #expect(try world.server.workspace.rows("SELECT count(*) AS n FROM events").first?["n"] as Int? == eventsBefore)
    }

    @Test("reports naming nobody on the list are unknown; reports about people already gone are accepted and change nothing")
    func unknownAndGone() async throws {
        let world = try await FeedbackWorld()
        let body = [
            FeedbackWorld.line(id: "n-1", type: "hard_bounce", recipientID: String(repeating: "0", count: 32)),
            FeedbackWorld.line(id: "n-2", type: "hard_bounce", email: "stranger@example.net"),
            FeedbackWorld.line(id: "n-3", type: "hard_bounce", recipientID: try world.recipientID("t@example.net", list: "tech")),
            FeedbackWorld.line(id: "n-4", type: "complaint", recipientID: try world.recipientID("gone@example.net")),
            FeedbackWorld.line(id: "n-5", type: "soft_bounce", email: "gone@example.net"),
        ].joined(separator: "\n")
        let counts = try world.counts(try await world.report(body))
        #expect(counts.unknown == 3, "an unknown id, an address never on the list, another list's member")
        #expect(counts.accepted == 2)
        #expect(try world.status("gone@example.net") == "unsubscribed")
        #expect(try world.suppressions("gone@example.net") == ["unsubscribed"])
        #expect(try world.status("t@example.net", list: "tech") == "active")
        #expect(try world.server.workspace.rows("SELECT count(*) AS n FROM events WHERE source LIKE 'api:%'").first?["n"] as Int? == 0,
                "no change, no event")
    }

    @Test("a mixed NDJSON batch applies its valid events and reports the others by index")
    func mixedBatch() async throws {
        let world = try await FeedbackWorld()
        let lines = [
            FeedbackWorld.line(id: "m-0", type: "hard_bounce", email: "a@example.net"),
            "{not json",
            #"{"id":"m-2","recipient_id":"x","occurred_at":"2026-11-21T09:30:00Z"}"#,
            "",
            FeedbackWorld.line(id: "m-4", type: "complaint", recipientID: try world.recipientID("b@example.net")),
            FeedbackWorld.line(id: "m-5", type: "hard_bounce", recipientID: "x", email: "c@example.net"),
            FeedbackWorld.line(id: "m-6", type: "bounce", email: "c@example.net"),
            FeedbackWorld.line(id: "m-7", type: "hard_bounce", email: "c@example.net", occurredAt: "yesterday"),
            FeedbackWorld.line(id: "m-8", type: "hard_bounce", email: "not an address"),
            "[1, 2]",
        ]
        let counts = try world.counts(try await world.report(lines.joined(separator: "\r\n") + "\r\n"))
        #expect(counts.accepted == 2)
        #expect(counts.invalid.map(\.0) == [1, 2, 5, 6, 7, 8, 9])
        let errors = Dictionary(uniqueKeysWithValues: counts.invalid)
        #expect(errors[1]?.hasPrefix("not JSON") == true, "\(errors[1] ?? "")")
        #expect(errors[2] == "type is missing: use hard_bounce, soft_bounce, complaint, unsubscribe")
        #expect(errors[5] == "give recipient_id or email, not both")
        #expect(errors[6] == "type must be hard_bounce, soft_bounce, complaint, unsubscribe, not 'bounce'")
        #expect(errors[7] == "occurred_at must be an RFC 3339 time, e.g. 2026-11-21T09:30:00Z")
        #expect(errors[8] == "email is not a valid address")
        #expect(errors[9] == "not a JSON object")
        #expect(try world.status("a@example.net") == "bounced")
        #expect(try world.status("b@example.net") == "complained")
        #expect(try world.status("c@example.net") == "active")
    }

    @Test("a JSON body with a bad event reports it by its index in events and applies the rest")
    func jsonBatchWithAnInvalidEvent() async throws {
        let world = try await FeedbackWorld()
        let body = #"{"events":[{"id":"j-0","type":"hard_bounce"},"#
            + FeedbackWorld.line(id: "j-1", type: "hard_bounce", email: "d@example.net") + "]}"
        let counts = try world.counts(try await world.report(body, ndjson: false))
        #expect(counts.accepted == 1)
        #expect(counts.invalid.map(\.0) == [0])
        #expect(try world.status("d@example.net") == "bounced")
    }

    @Test("more than 1,000 JSON events or 100,000 NDJSON lines is 413 and changes nothing")
    func overTheLimits() async throws {
        let world = try await FeedbackWorld()
        let event = FeedbackWorld.line(id: "o", type: "hard_bounce", email: "a@example.net")
        let json = #"{"events":["# + Array(repeating: event, count: 1_001).joined(separator: ",") + "]}"
        let tooMany = try await world.report(json, ndjson: false)
        #expect(tooMany.status == 413)
        #expect((try tooMany.object()["error"] as? [String: Any])?["code"] as? String == "body_too_large")
        let ndjson = event + "\n" + String(repeating: "{}\n", count: 100_000)
        #expect(try await world.report(ndjson).status == 413)
        #expect(try world.status("a@example.net") == "active")
        #expect(try world.server.workspace.rows("SELECT * FROM feedback_reports").isEmpty)
    }

    @Test("a JSON body that is not JSON is 400; NDJSON in which no line is JSON is 400 naming line 1; another type is 415")
    func malformed() async throws {
        let world = try await FeedbackWorld()
        let json = try await world.report(#"{"events":[{"id":"#, ndjson: false)
        #expect(json.status == 400)
        let jsonError = try #require(try json.object()["error"] as? [String: Any])
        #expect(jsonError["code"] as? String == "malformed_body")
        #expect((jsonError["message"] as? String)?.hasPrefix("the body is not JSON") == true)
        let notEvents = try await world.report(#"{"evts":[]}"#, ndjson: false)
        #expect(notEvents.status == 400)
        let ndjson = try await world.report("hard_bounce a@example.net\nhard_bounce b@example.net\n")
        #expect(ndjson.status == 400)
        let message = (try ndjson.object()["error"] as? [String: Any])?["message"] as? String
        #expect(message?.hasPrefix("line 1 is not JSON") == true, "\(message ?? "")")
        var request = URLRequest(url: URL(string: world.server.base + "/api/v1/lists/news/feedback")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(world.reporter)", forHTTPHeaderField: "Authorization")
        request.setValue("text/csv", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data("a@example.net,hard_bounce\n".utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 415)
        #expect(try world.server.workspace.rows("SELECT * FROM feedback_reports").isEmpty)
    }

    @Test("the bounced person is absent from the next snapshot and in the unsubscribes feed with reason bounced")
    func senderSeesTheBounce() async throws {
        let world = try await FeedbackWorld()
        let since = FeedbackWorld.now()
        func call(_ method: String, _ path: String) async throws -> APIAnswer {
            var request = URLRequest(url: URL(string: world.server.base + path)!)
            request.httpMethod = method
            request.setValue("Bearer \(world.reader)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            return APIAnswer(status: http.statusCode, headers: http.allHeaderFields, data: data)
        }
        // The id the sender reports is the one its stream gave.
        let first = try #require(try await call("POST", "/api/v1/lists/news/snapshots").object()["id"] as? String)
        let lines = try await call("GET", "/api/v1/snapshots/\(first)/recipients").lines()
        let bouncing = try #require(lines.first { $0["email"] as? String == "a@example.net" }?["recipient_id"] as? String)
        let complaining = try #require(lines.first { $0["email"] as? String == "b@example.net" }?["recipient_id"] as? String)
        _ = try world.counts(try await world.report([
            FeedbackWorld.line(id: "f-1", type: "hard_bounce", recipientID: bouncing),
            FeedbackWorld.line(id: "f-2", type: "complaint", recipientID: complaining),
        ].joined(separator: "\n")))

        let next = try await call("POST", "/api/v1/lists/news/snapshots").object()
        #expect(next["count"] as? Int == FeedbackWorld.members.count - 2)
        let emails = try await call("GET", "/api/v1/snapshots/\(try #require(next["id"] as? String))/recipients").lines()
            .compactMap { $0["email"] as? String }
        #expect(Set(emails) == ["c@example.net", "d@example.net"])

        let feed = try await call("GET", "/api/v1/lists/news/unsubscribes?since=\(since)").lines()
        let reasons = Dictionary(uniqueKeysWithValues: feed.map { ($0["recipient_id"] as? String ?? "", $0["reason"] as? String ?? "") })
        #expect(reasons == [bouncing: "bounced", complaining: "complained"])
        let all = try await call("GET", "/api/v1/lists/news/unsubscribes?since=2000-01-01T00:00:00Z").lines()
        #expect(all.first { $0["email"] as? String == "gone@example.net" }?["reason"] as? String == "unsubscribed")
    }

    @Test("after a bounce or a complaint, neither an import nor an admin add makes the address active")
    func suppressionWins() async throws {
        let world = try await FeedbackWorld()
        _ = try world.counts(try await world.report([
            FeedbackWorld.line(id: "s-1", type: "hard_bounce", email: "a@example.net"),
            FeedbackWorld.line(id: "s-2", type: "complaint", email: "b@example.net"),
        ].joined(separator: "\n")))
        let workspace = world.server.workspace
        for email in ["a@example.net", "b@example.net"] {
            let add = try workspace.listgate("subscribers", "add", email, "--list", "news", "--confirmed")
            #expect(add.status != 0, "\(email)")
            #expect(add.lastErrorLine?.contains("suppressed") == true, "\(add.stderr)")
        }
        let file = workspace.url.appendingPathComponent("members.csv")
        try Data("email,status\na@example.net,active\nb@example.net,active\n".utf8).write(to: file)
        let imported = try workspace.listgate("import", file.path, "--list", "news", "--json")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try world.status("a@example.net") == "bounced")
        #expect(try world.status("b@example.net") == "complained")
    }

    @Test("a bounced person's own double opt-in brings them back and lifts the bounce")
    func optInAfterBounce() async throws {
        let world = try await FeedbackWorld()
        _ = try world.counts(try await world.report(FeedbackWorld.line(id: "o-1", type: "hard_bounce", email: "a@example.net")))
        #expect(try await world.server.request("POST", "/lists/news/subscribe", form: ["email": "a@example.net"]).status == 200)
        let mail = try #require(try await world.server.sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        #expect(mail.rcptTos == ["a@example.net"], "the confirmation is the delivery test")
        let text = try #require(try MailInspector.inspect(mail.data).text)
        let link = try #require(text.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix(world.server.base + "/confirm/") })
        #expect(try await world.server.request("POST", String(link), json: true).status == 200)
        #expect(try world.status("a@example.net") == "active")
        #expect(try world.suppressions("a@example.net").isEmpty)
    }

    @Test("a complaint stops even the confirmation mail, until an admin removes the suppression")
    func complaintStopsConfirmations() async throws {
        let world = try await FeedbackWorld()
        _ = try world.counts(try await world.report(FeedbackWorld.line(id: "k-1", type: "complaint", email: "a@example.net")))
        let workspace = world.server.workspace
        #expect(try await world.server.request("POST", "/lists/news/subscribe", form: ["email": "a@example.net"]).status == 200)
        // The desk decides the recorded post a moment after the answer.
        #expect(try await eventually(within: .seconds(10)) { try workspace.rows("SELECT * FROM form_requests").isEmpty })
        try await Task.sleep(for: .milliseconds(500))
        #expect(try world.server.sink.messageCount() == 0)
        #expect(try workspace.rows("SELECT * FROM outbox").isEmpty)

        let removed = try workspace.listgate("suppressions", "remove", "a@example.net", "--list", "news")
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try await world.server.request("POST", "/lists/news/subscribe", form: ["email": "a@example.net"]).status == 200)
        let mail = try await world.server.sink.waitForMessages(count: 1, timeout: .seconds(10))
        #expect(mail.first?.rcptTos == ["a@example.net"])
    }
}
