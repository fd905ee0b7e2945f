// Several `listgate serve` processes on one PostgreSQL database and one real SMTP server
// (README, "Running on PostgreSQL"): load spread across them is mailed exactly once; one
// killed mid-load has its claimed mail delivered by the other after the lease; an operator's
// pause, a revoked token and a new list reach every instance within a second; and the ledger
// they write together verifies, and fails naming an event edited behind its triggers.
import Foundation
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Many instances on one PostgreSQL database", .serialized, .enabled(if: StoreKind.underTest.contains(.postgres)))
struct ManyInstancesTests {
    /// A migrated PostgreSQL database with `news`, an SMTP sink, and two servers on both.
    struct Pair {
        let workspace: Workspace
        let sink: SMTPSink
        let servers: [ServeProcess]
        let arguments: [String]
        let environment: [String: String]

        init(sinkOptions: [String] = [], environment extra: [String: String] = [:]) async throws {
            workspace = try Workspace(.postgres).migrated()
            try workspace.createNews()
            sink = try SMTPSink.start(options: sinkOptions)
            arguments = ["--smtp-url", sink.url, "--mail-ceiling", "100000"]
            environment = ["LISTGATE_RATE_LIMITS": "off", "LISTGATE_OUTBOX_LEASE_SECONDS": "2"].merging(extra) { $1 }
            var started: [ServeProcess] = []
            for _ in 0..<2 {
                started.append(try await ServeProcess(workspace, arguments: arguments, environment: environment))
            }
            servers = started
        }

        func post(_ server: Int, _ email: String) async -> Int? {
            await Self.poster.post("\(servers[server].base)/lists/news/subscribe", ["email": email])
        }

        static let poster = FormPoster(connections: 16)
    }

    @Test("posts spread across two instances are each stored and mailed exactly once; confirmations work on either")
    func loadSpreadAcrossTwo() async throws {
        let pair = try await Pair()
        let addresses = (0..<200).map { "spread\($0)@example.net" }
        let statuses = await withTaskGroup(of: Int?.self) { group in
            for (index, address) in addresses.enumerated() { group.addTask { await pair.post(index % 2, address) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "every post acknowledged")
        let received = try await pair.sink.waitForMessages(count: 200, timeout: .seconds(60))
        try await Task.sleep(for: .seconds(2))
        let all = try pair.sink.messages()
        #expect(all.count == 200, "one mail per post, not one per instance")
        #expect(Set(all.map(\.rcptTos)) == Set(addresses.map { [$0] }))
        let ids = all.compactMap { messageID(of: $0.data) }
        #expect(Set(ids).count == ids.count, "no Message-ID delivered twice")
        #expect(try pair.workspace.count("outbox", where: "status = 'sent'") == 200)
        // Both instances did some of the sending.
        let senders = try pair.workspace.texts("SELECT DISTINCT claimed_by FROM outbox WHERE claimed_by IS NOT NULL")
        #expect(senders.count == 2, "the two instances shared the outbox: \(senders)")
        // A confirmation link mailed by one instance works on the other.
        for (index, message) in received.prefix(20).enumerated() {
            let text = try #require(try MailInspector.inspect(message.data).text)
            let link = try #require(text.split(whereSeparator: \.isWhitespace).first { $0.contains("/confirm/") })
            let path = String(link[link.range(of: "/confirm/")!.lowerBound...])
            let answer = try await httpPost("\(pair.servers[(index + 1) % 2].base)\(path)")
            #expect(answer == 200)
        }
        #expect(try pair.workspace.count("subscriptions", where: "status = 'active'") == 20)
    }

    @Test("one instance killed mid-load: the other delivers what it had claimed once the lease runs out")
    func killOneMidLoad() async throws {
        // Each delivery stays in flight for 50 ms, so the killed instance surely holds claims.
        let pair = try await Pair(sinkOptions: ["--data-delay", "0.05"])
        let acknowledged = Shared<Set<String>>([])
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        for number in 0..<60 {
                            let address = "killed\(lane)-\(number)@example.net"
                            if await pair.post(0, address) == 200 { _ = acknowledged.withLock { $0.insert(address) } }
                        }
                    }
                }
            }
        }
        let busy = try await eventually(within: .seconds(60)) {
            try pair.workspace.count("outbox", where: "status = 'sending'") > 0 && acknowledged.current.count >= 100
        }
        try #require(busy, "the load never got going")
        let victim = try #require(try pair.workspace.texts(
            "SELECT claimed_by FROM outbox WHERE status = 'sending' LIMIT 1").first?.first ?? nil)
        pair.servers[0].kill()
        await load.value
        let claimedAtKill = try pair.workspace.count("outbox", where: "status = 'sending' AND claimed_by = '\(victim)'")
        let drained = try await eventually(within: .seconds(60)) {
            try pair.workspace.count("outbox", where: "status IN ('queued', 'sending')") == 0
        }
        try #require(drained, "the survivor did not drain the outbox:\n\(pair.servers[1].log)")
        let received = try pair.sink.messages()
        let recipients = Set(received.flatMap(\.rcptTos))
        for address in acknowledged.current { #expect(recipients.contains(address), "\(address) got no mail") }
        let copies = Dictionary(grouping: received.compactMap { messageID(of: $0.data) }, by: { $0 }).mapValues(\.count)
        // A message the killed instance had handed to the SMTP server but not recorded is
        // sent again by the survivor (RFC 1047); nothing else twice, and nothing thrice.
        #expect(copies.values.allSatisfy { $0 <= 2 })
        #expect(copies.values.filter { $0 == 2 }.count <= claimedAtKill)
        print("many instances: \(acknowledged.current.count) acknowledged, \(claimedAtKill) claimed by the killed instance, "
            + "\(copies.values.filter { $0 == 2 }.count) sent twice")
    }

    @Test("a pause, a revoked token and a new list reach both instances within a second")
    func operatorChangesReachEveryInstance() async throws {
        let pair = try await Pair()
        let token = try pair.workspace.listgate("tokens", "create", "--list", "news").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for server in pair.servers {
            #expect(try await httpGet("\(server.base)/api/v1/lists", bearer: token) == 200)
        }

        #expect(try pair.workspace.listgate("outbox", "pause", "--reason", "checking").status == 0)
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(await pair.post(0, "paused0@example.net") == 200)
        #expect(await pair.post(1, "paused1@example.net") == 200)
        try await Task.sleep(for: .seconds(2))
        #expect(try pair.sink.messageCount() == 0, "neither instance sends while paused")
        #expect(try pair.workspace.listgate("outbox", "resume").status == 0)
        _ = try await pair.sink.waitForMessages(count: 2, timeout: .seconds(10))

        let id = try #require(try pair.workspace.texts("SELECT public_id FROM api_tokens LIMIT 1").first?.first ?? nil)
        #expect(try pair.workspace.listgate("tokens", "revoke", id).status == 0)
        try await Task.sleep(for: .milliseconds(1_500))
        for server in pair.servers {
            #expect(try await httpGet("\(server.base)/api/v1/lists", bearer: token) == 401, "revoked on every instance")
        }

        try pair.workspace.listgate("lists", "create", "late", "--name", "後から", "--from", "late@example.org")
        try await Task.sleep(for: .milliseconds(1_500))
        for server in pair.servers {
            #expect(await httpGet("\(server.base)/lists/late/subscribe")?.0 == 200, "the new list is served by every instance")
        }
    }

    @Test("the ledger two instances wrote verifies; an event edited behind its triggers fails verify, named")
    func ledgerAfterConcurrentLoad() async throws {
        let pair = try await Pair()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<100 { group.addTask { _ = await pair.post(index % 2, "ledger\(index)@example.net") } }
        }
        _ = try await pair.sink.waitForMessages(count: 100, timeout: .seconds(60))
        let sealed = try await eventually(within: .seconds(20)) {
            let verify = try pair.workspace.listgate("events", "verify", "--json")
            let report = try jsonObject(verify.stdout)
            return verify.status == 0 && (report["unsealed"] as? Int) == 0
        }
        #expect(sealed, "the two instances' events are sealed and verify")
        let edited = try #require(try pair.workspace.texts(
            "SELECT id FROM events WHERE type = 'requested' ORDER BY id LIMIT 1 OFFSET 50").first?.first ?? nil)
        _ = try PostgresTestServer.rows(url: pair.workspace.db, """
            ALTER TABLE events DISABLE TRIGGER USER;
            UPDATE events SET source = 'form:forged' WHERE id = \(edited);
            ALTER TABLE events ENABLE TRIGGER USER;
            """)
        let verify = try pair.workspace.listgate("events", "verify", "--json")
        #expect(verify.status != 0)
        let problem = try #require(try jsonObject(verify.stdout)["problem"] as? String)
        #expect(problem.contains(edited), "verify names event \(edited): \(problem)")
    }
}

/// GET with a bearer token: the status.
func httpGet(_ url: String, bearer: String) async throws -> Int {
    var request = URLRequest(url: URL(string: url)!)
    request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
    let (_, response) = try await URLSession.shared.data(for: request)
    return (response as? HTTPURLResponse)?.statusCode ?? 0
}

/// POST with no body: the status.
func httpPost(_ url: String) async throws -> Int {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = "POST"
    let (_, response) = try await URLSession.shared.data(for: request)
    return (response as? HTTPURLResponse)?.statusCode ?? 0
}
