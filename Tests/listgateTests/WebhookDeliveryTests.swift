// Outbound webhooks through the built binary: `listgate serve` delivers to a real HTTP
// receiver (Tests/Support/webhook_receiver.py) that checks every signature the Standard
// Webhooks way; mail goes to a real SMTP server.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

@Suite("Outbound webhooks through the binary", .serialized)
struct WebhookDeliveryTests {
    /// The webhook of list `news` in `workspace`, to `receiver`, which now knows its secret.
    @discardableResult
    func connect(_ receiver: WebhookReceiver, to workspace: Workspace, url: String? = nil, events: [String] = []) throws -> String {
        let (id, secret) = try workspace.addWebhook(url ?? receiver.url, events: events)
        try receiver.expect(secret: secret)
        return id
    }

    func deliveries(_ workspace: Workspace) throws -> [Row] {
        try workspace.rows("SELECT * FROM webhook_deliveries ORDER BY id")
    }

    /// The one link starting with `prefix` in the text part of a mail, as a path.
    func link(_ prefix: String, in message: ReceivedMessage, base: String) throws -> String {
        let text = try #require(try MailInspector.inspect(message.data).text)
        let link = try #require(text.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix(base + prefix) })
        return String(link.dropFirst(base.count))
    }

    @Test("subscribe and confirm on the form fires `subscribed` with the email, signed, as JSON")
    func subscribeFires() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        let receiver = try WebhookReceiver.start()
        let webhook = try connect(receiver, to: server.workspace)
        _ = try await server.request("POST", "/lists/news/subscribe", form: ["email": "taro@example.jp"])
        let mail = try #require(try await server.sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        #expect(try await server.request("POST", try link("/confirm/", in: mail, base: server.base)).status == 200)

        let received = try #require(try await receiver.waitFor(count: 1, timeout: .seconds(10)).first)
        #expect(received.signatureValid, "the Standard Webhooks check passes")
        #expect(received.contentType == "application/json")
        let payload = received.payload
        #expect(payload["id"] as? String == received.id)
        #expect(payload["type"] as? String == "subscribed")
        #expect(payload["list"] as? String == "news")
        #expect(payload["email"] as? String == "taro@example.jp")
        #expect((payload["occurred_at"] as? String)?.hasSuffix("Z") == true)
        #expect(payload["detail"] is [String: Any])
        #expect(try await eventually(within: .seconds(5)) { try deliveries(server.workspace).first?["status"] == "delivered" })
        #expect(try server.workspace.listgate("webhooks", "list").stdout.contains(webhook))
    }

    @Test("one-click unsubscribe fires `unsubscribed` with the email")
    func unsubscribeFires() async throws {
        let server = try await RunningServer(baseURLFromPort: true)
        let receiver = try WebhookReceiver.start()
        try connect(receiver, to: server.workspace, events: ["unsubscribed"])
        #expect(try server.workspace.listgate("subscribers", "add", "taro@example.jp", "--list", "news", "--confirmed").status == 0)
        _ = try await server.request("POST", "/lists/news/unsubscribe", form: ["email": "taro@example.jp"])
        let mail = try #require(try await server.sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        let unsubscribe = try link("/unsubscribe/", in: mail, base: server.base)
        #expect(try await server.request("POST", unsubscribe, body: "List-Unsubscribe=One-Click").status == 200)

        let received = try await receiver.waitFor(count: 1, timeout: .seconds(10))
        #expect(received.map { $0.payload["type"] as? String } == ["unsubscribed"], "only the kind asked for")
        #expect(received.first?.payload["email"] as? String == "taro@example.jp")
        #expect(received.first?.signatureValid == true)
    }

    @Test("a forgotten person's deliveries carry no address: `forgotten` has the hash, earlier ones lose the email")
    func forgottenCarriesNoAddress() async throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let receiver = try WebhookReceiver.start()
        try connect(receiver, to: workspace)
        #expect(try workspace.listgate("subscribers", "add", "taro@example.jp", "--list", "news", "--confirmed").status == 0)
        #expect(try workspace.listgate("subscribers", "forget", "taro@example.jp").status == 0)
        #expect(try workspace.rows("SELECT * FROM webhook_deliveries WHERE email IS NOT NULL").isEmpty)
        let server = try await ServeProcess(workspace, arguments: [])
        let received = try await receiver.waitFor(count: 2, timeout: .seconds(10))
        #expect(received.map { $0.payload["type"] as? String } .sorted { ($0 ?? "") < ($1 ?? "") } == ["forgotten", "subscribed"])
        let forgotten = try #require(received.first { $0.payload["type"] as? String == "forgotten" })
        #expect(!forgotten.payload.keys.contains("email"))
        #expect((forgotten.payload["address_hash"] as? String)?.count == 64)
        let subscribed = try #require(received.first { $0.payload["type"] as? String == "subscribed" })
        #expect(subscribed.payload["email"] is NSNull, "erased before it was sent")
        #expect(received.allSatisfy { !$0.body.contains("taro") && $0.signatureValid })
        _ = server
    }

    @Test("a sender's hard bounce and complaint fire `bounced` and `complained`, each with the person's email")
    func feedbackFires() async throws {
        let world = try await FeedbackWorld()
        let receiver = try WebhookReceiver.start()
        try connect(receiver, to: world.server.workspace, events: ["bounced", "complained"])
        let lines = [
            FeedbackWorld.line(id: "b-1", type: "hard_bounce", email: "a@example.net"),
            FeedbackWorld.line(id: "c-1", type: "complaint", email: "b@example.net"),
        ]
        #expect(try world.counts(try await world.report(lines.joined(separator: "\n"))).accepted == 2)

        let received = try await receiver.waitFor(count: 2, timeout: .seconds(10))
        let byType = Dictionary(uniqueKeysWithValues: received.map { ($0.payload["type"] as? String ?? "", $0) })
        #expect(byType["bounced"]?.payload["email"] as? String == "a@example.net")
        #expect(byType["complained"]?.payload["email"] as? String == "b@example.net")
        #expect(received.allSatisfy { $0.signatureValid && $0.payload["list"] as? String == "news" })
    }

    @Test("a 500 is retried with backoff under the same webhook-id, then delivered")
    func retriedAfterFailure() async throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let receiver = try WebhookReceiver.start(options: ["--fail-first", "1"])
        try connect(receiver, to: workspace)
        #expect(try workspace.listgate("subscribers", "add", "taro@example.jp", "--list", "news", "--confirmed").status == 0)
        let server = try await ServeProcess(workspace, arguments: [], environment: ["LISTGATE_WEBHOOK_RETRY_BASE": "0.2"])
        let received = try await receiver.waitFor(count: 2, timeout: .seconds(10))
        #expect(received.map(\.answered) == [500, 200])
        #expect(Set(received.map(\.id)).count == 1, "one delivery, one id")
        #expect(received.allSatisfy { $0.signatureValid })
        #expect(try await eventually(within: .seconds(5)) {
            try deliveries(workspace).first.map { $0["status"] == "delivered" && $0["attempts"] == 2 } ?? false
        })
        _ = server
    }

    @Test("kill -9 with deliveries pending: after the restart each is delivered, under its own stable id")
    func survivesKill() async throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let receiver = try WebhookReceiver.start(options: ["--delay", "0.15"])
        try connect(receiver, to: workspace)
        for index in 0..<24 {
            #expect(try workspace.listgate("subscribers", "add", "reader\(index)@example.net", "--list", "news", "--confirmed").status == 0)
        }
        let queued = Set(try deliveries(workspace).map { $0["public_id"] as String })
        #expect(queued.count == 24)
        let environment = ["LISTGATE_WEBHOOK_CONCURRENCY": "1"]
        let first = try await ServeProcess(workspace, arguments: [], environment: environment)
        _ = try await receiver.waitFor(count: 3, timeout: .seconds(10))
        first.kill()
        let before = try receiver.received().count
        #expect(before < 24, "killed with deliveries pending")
        let second = try await ServeProcess(workspace, arguments: [], environment: environment)
        #expect(try await eventually(within: .seconds(30)) { Set(try receiver.received().map(\.id)) == queued })
        #expect(try await eventually(within: .seconds(5)) {
            try deliveries(workspace).allSatisfy { $0["status"] == "delivered" }
        })
        #expect(try receiver.received().allSatisfy { $0.signatureValid && $0.payload["id"] as? String == $0.id })
        _ = second
    }

    @Test("a receiver that never answers delays neither the mail nor another receiver")
    func deadReceiverIsolated() async throws {
        let server = try await RunningServer(environment: ["LISTGATE_WEBHOOK_TIMEOUT": "60"], baseURLFromPort: true)
        let dead = try WebhookReceiver.start(options: ["--silent"])
        let alive = try WebhookReceiver.start()
        try connect(dead, to: server.workspace)
        try connect(alive, to: server.workspace)
        for index in 0..<10 {
            #expect(try server.workspace.listgate(
                "subscribers", "add", "reader\(index)@example.net", "--list", "news", "--confirmed").status == 0)
        }
        // The dead receiver's lanes are all stuck now.
        #expect(try await alive.waitFor(count: 10, timeout: .seconds(10)).count == 10)
        let start = ContinuousClock.now
        _ = try await server.request("POST", "/lists/news/subscribe", form: ["email": "taro@example.jp"])
        let mail = try await server.sink.waitForMessages(count: 1, timeout: .seconds(10))
        #expect(mail.count == 1)
        #expect(ContinuousClock.now - start < .seconds(5), "the confirmation went out promptly")
        #expect(try server.workspace.listgate("subscribers", "add", "late@example.net", "--list", "news", "--confirmed").status == 0)
        let late = try await alive.waitFor(count: 11, timeout: .seconds(5))
        #expect(late.count == 11, "the live receiver still gets new deliveries at once")
        #expect(try dead.received().isEmpty)
    }

    @Test("a receiver's redirect is not followed: the attempt fails with the 3xx and is retried")
    func redirectNotFollowed() async throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let elsewhere = try WebhookReceiver.start()
        let redirecting = try WebhookReceiver.start(options: ["--redirect-to", elsewhere.url])
        try connect(redirecting, to: workspace)
        #expect(try workspace.listgate("subscribers", "add", "taro@example.jp", "--list", "news", "--confirmed").status == 0)
        let server = try await ServeProcess(workspace, arguments: [])
        #expect(try await redirecting.waitFor(count: 1, timeout: .seconds(10)).first?.answered == 302)
        #expect(try await eventually(within: .seconds(5)) { try deliveries(workspace).first?["last_status"] == 302 })
        let row = try #require(try deliveries(workspace).first)
        #expect(row["status"] == "pending")
        #expect((row["last_error"] as String?)?.contains("redirects are not followed") == true)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try elsewhere.received().isEmpty)
        _ = server
    }

    @Test("retries exhausted: `webhooks deliveries --failed` shows it; `webhooks retry` sends it again")
    func failedThenRetried() async throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let receiver = try WebhookReceiver.start()
        try receiver.answer(503)
        try connect(receiver, to: workspace)
        #expect(try workspace.listgate("subscribers", "add", "taro@example.jp", "--list", "news", "--confirmed").status == 0)
        let server = try await ServeProcess(workspace, arguments: [], environment: [
            "LISTGATE_WEBHOOK_RETRY_BASE": "0.1", "LISTGATE_WEBHOOK_RETRY_CAP": "0.2", "LISTGATE_WEBHOOK_RETRY_FOR": "1",
        ])
        var failed: [[String: Any]] = []
        #expect(try await eventually(within: .seconds(10)) {
            let listed = try workspace.listgate("webhooks", "deliveries", "--failed", "--json")
            failed = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]) ?? []
            return failed.count == 1
        })
        #expect(failed.first?["last_status"] as? Int == 503)
        #expect((failed.first?["last_error"] as? String)?.hasPrefix("gave up after") == true)
        let attempts = try receiver.received().count
        #expect(attempts >= 2)

        try receiver.answer(200)
        let id = try #require(failed.first?["id"] as? String)
        let retried = try workspace.listgate("webhooks", "retry", id)
        #expect(retried.status == 0, "\(retried.stderr)")
        let received = try await receiver.waitFor(count: attempts + 1, timeout: .seconds(5))
        #expect(received.last?.answered == 200 && received.last?.id == id)
        #expect(try await eventually(within: .seconds(5)) { try deliveries(workspace).first?["status"] == "delivered" })
        _ = server
    }

    @Test("a graceful stop with a dead receiver waits only for the POSTs under way; the rest stay queued, unattempted")
    func stopsPromptly() async throws {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        let dead = try WebhookReceiver.start(options: ["--silent"])
        try connect(dead, to: workspace)
        for index in 0..<12 {
            #expect(try workspace.listgate("subscribers", "add", "reader\(index)@example.net", "--list", "news", "--confirmed").status == 0)
        }
        let server = try await ServeProcess(workspace, arguments: [], environment: ["LISTGATE_WEBHOOK_TIMEOUT": "3"])
        try await Task.sleep(for: .milliseconds(800))  // the four lanes are waiting for answers
        let stop = ContinuousClock.now
        server.process.terminate()
        #expect(await eventually(within: .seconds(8)) { !server.process.isRunning })
        #expect(ContinuousClock.now - stop < .seconds(6), "not 12 timeouts one after another")
        let rows = try deliveries(workspace)
        #expect(rows.allSatisfy { $0["status"] == "pending" && $0["leased"] == 0 })
        #expect(rows.filter { $0["attempts"] == 0 }.count >= 8, "the unattempted ones cost no attempt")
    }

    @Test("serve refuses a webhook retention that is not a number of days from 1")
    func badRetention() throws {
        let workspace = try Workspace().migrated()
        for value in ["0", "x", "36501"] {
            let result = try Binary.run(["serve", "--db", workspace.db, "--port", "0"], environment: ["LISTGATE_WEBHOOK_RETENTION": value])
            #expect(result.status != 0)
            #expect(result.lastErrorLine == "error: invalid webhook retention '\(value)': use a number from 1 to 36500")
        }
    }
}
