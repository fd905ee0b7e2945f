// "Acknowledged means durable" under SIGKILL: subscribe posts fired concurrently at the
// built binary, the process killed mid-load (HTTP intake and outbox both busy), started
// again on the same database; then every acknowledged address is stored and received
// its confirmation mail from the real SMTP server. (Until the person confirms, a
// subscribe request is a pending row in `submissions`, not yet a subscription.)
//
// Exactly-once delivery over SMTP cannot survive every SIGKILL (RFC 1047): once the
// final "." of DATA has left, the server may accept the message while the sender dies
// before it learns so. Such a message is in `sending` at the restart and goes out again,
// with the same Message-ID. (The worker notes each acceptance in a journal the instant
// libcurl reports it, so only the time until then is left; see DeliveryJournal.) The test takes
// the candidates at the moment of the kill (delivered at the sink, yet `sending` in the
// database) and holds the code to them: a second copy of anything else fails the test; a
// second copy of a candidate is reported as a known issue, visible in every run it occurs.
import Foundation
import ListgateTestSupport
import Testing

@Suite("Crash survival through the binary", .serialized)
struct CrashSurvivalTests {
    @Test("SIGKILL mid-load: every acknowledged subscribe is stored and gets one confirmation mail",
          arguments: StoreKind.underTest)
    func killMidLoad(_ kind: StoreKind) async throws {
        let workspace = try Workspace(kind).migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        // Each delivery stays in flight for 50 ms at the sink, so "the worker is delivering
        // right now" lasts long enough to be seen, however fast or slow this machine is.
        let sink = try SMTPSink.start(options: ["--data-delay", "0.05"])
        let arguments = ["--smtp-url", sink.url, "--mail-ceiling", "100000"]
        // On PostgreSQL the restarted server is another instance: it takes over the killed
        // one's claims when their lease runs out (60 s by default; 2 s here).
        let environment = ["LISTGATE_RATE_LIMITS": "off", "LISTGATE_OUTBOX_LEASE_SECONDS": "2"]
        var server: ServeProcess? = try await ServeProcess(workspace, arguments: arguments, environment: environment)
        let base = try #require(server?.base)

        // The load runs until the server stops answering: 16 posters, each taking the next
        // address, so the kill always lands mid-load rather than after a load that was
        // over too soon. The limit only ends a run whose kill condition is never met.
        let limit = 20_000
        let posted = Shared(0)
        let acknowledged = Shared<Set<String>>([])
        let poster = FormPoster(connections: 16)
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        while true {
                            let number = posted.withLock { count -> Int? in
                                guard count < limit else { return nil }
                                count += 1
                                return count
                            }
                            guard let number else { return }
                            let address = "crash\(number)@example.net"
                            guard let status = await poster.post("\(base)/lists/news/subscribe", ["email": address]) else { return }
                            if (200..<400).contains(status) { _ = acknowledged.withLock { $0.insert(address) } }
                        }
                    }
                }
            }
        }

        // Kill once the intake has acknowledged 200, the worker has delivered some and is
        // delivering more (messages claimed, `sending`, in the database) right now.
        var seen = (acknowledged: 0, delivered: 0, sending: 0)
        let busy = try await eventually(within: .seconds(60)) {
            seen.acknowledged = acknowledged.current.count
            seen.delivered = try sink.messageCount()
            guard seen.acknowledged >= 200, seen.delivered >= 20 else { return false }
            seen.sending = try workspace.count("outbox", where: "status = 'sending'")
            return seen.sending > 0
        }
        try #require(busy, "the load never got going (last seen: \(seen)):\n\(server?.log ?? "")")
        server?.kill()
        server = nil
        await load.value
        let acked = acknowledged.withLock { $0 }
        #expect(posted.current < limit, "the load ran out before the kill: it proves nothing")

        // The window, measured: delivered at the sink, still `sending` in the database.
        // A final "." that reached the sink just before the kill is still being recorded
        // there: give it a moment, or its copy would look like one from after the restart.
        try await Task.sleep(for: .milliseconds(300))
        let deliveredBeforeKill = Set(try sink.messages().compactMap { messageID(of: $0.data) })
        let inFlight = Set(try workspace.texts("SELECT message_id FROM outbox WHERE status = 'sending'").compactMap { $0[0] })
        let window = deliveredBeforeKill.intersection(inFlight)

        let restarted = try await ServeProcess(workspace, arguments: arguments, environment: environment)
        let drained = try await eventually(within: .seconds(60)) {
            try workspace.count("outbox", where: "status IN ('queued', 'sending')") == 0
        }
        try #require(drained, "the outbox did not drain after the restart:\n\(restarted.log)")

        let stored = try workspace.texts("""
            SELECT s.email, s.status, o.message_id, o.status AS mail_status
            FROM submissions s LEFT JOIN outbox o ON o.recipient = s.email
            WHERE s.kind = 'subscribe'
            """).map { row -> (email: String, status: String, messageID: String?, mailStatus: String?) in
                (row[0] ?? "", row[1] ?? "", row[2], row[3])
            }
        let byAddress = Dictionary(grouping: stored, by: \.email)
        let received = try sink.messages()
        let copiesByMessageID = Dictionary(grouping: received.compactMap { messageID(of: $0.data) }, by: { $0 }).mapValues(\.count)
        let messagesByRecipient = Dictionary(grouping: received, by: { $0.rcptTos.joined(separator: ",") })

        for address in acked.sorted() {
            let rows = byAddress[address] ?? []
            #expect(rows.count == 1 && rows.first?.status == "pending", "\(address) was acknowledged but is not stored")
            #expect(rows.first?.mailStatus == "sent", "\(address): its confirmation is \(rows.first?.mailStatus ?? "missing")")
            #expect((messagesByRecipient[address]?.count ?? 0) >= 1, "\(address) was acknowledged but got no mail")
        }
        // Stored but not acknowledged (the answer was cut by the kill) is fine; it must
        // still get its mail, like any other.
        for (address, rows) in byAddress {
            #expect(rows.count == 1 && rows.first?.mailStatus == "sent", "\(address): \(rows)")
        }
        for message in received {
            #expect(message.rcptTos.count == 1)
            let id = try #require(messageID(of: message.data))
            let owner = stored.first { $0.messageID == id }
            #expect(owner?.email == message.rcptTos.first, "a message the database does not know about: \(id)")
        }
        // Every message, one copy. A second copy is possible only for a message caught in
        // the window (delivered, yet not recorded), and then only one, same Message-ID.
        let duplicated = Set(copiesByMessageID.filter { $0.value > 1 }.keys)
        #expect(duplicated.isSubset(of: window), "delivered twice outside the window: \(duplicated.subtracting(window))")
        #expect(copiesByMessageID.values.allSatisfy { $0 <= 2 })
        for (recipient, messages) in messagesByRecipient {
            let ids = Set(messages.compactMap { messageID(of: $0.data) })
            #expect(ids.count == 1, "\(recipient) got \(ids.count) different confirmation mails")
        }
        withKnownIssue(
            "RFC 1047: a message the SMTP server accepted just before SIGKILL, before the worker read its answer, is sent again",
            isIntermittent: true
        ) {
            #expect(duplicated.isEmpty, "\(duplicated.count) message(s) delivered but unrecorded at the kill were sent again")
        }
        print("crash survival: \(posted.current) posted, \(acked.count) acknowledged, \(stored.count) stored, "
            + "\(received.count) delivered, \(duplicated.count) twice; at the kill \(inFlight.count) sending, "
            + "\(window.count) of them already delivered; the poll before the kill saw \(seen.sending) sending")
    }
}
