// "A down SMTP server loses nothing", through the built binary: subscribes are answered
// while nothing listens on the SMTP port; the server comes back, first refusing some
// recipients with 4xx; in the end every address has exactly one confirmation mail.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

@Suite("Outage survival through the binary", .serialized)
struct OutageSurvivalTests {
    @Test("SMTP down, then back with 4xx for some: every queued mail is delivered, exactly once")
    func outageThenTemporaryRefusals() async throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        let smtpPort = try freeLoopbackPort()
        // Retries after 0.1 s doubling to 0.8 s instead of 30 s to an hour: the backoff's
        // shape on a test's clock, however long the outage lasts on a loaded machine.
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", "smtp://127.0.0.1:\(smtpPort)", "--retry-base", "0.1", "--retry-cap", "0.8"],
            environment: ["LISTGATE_RATE_LIMITS": "off"])

        // "flaky…" recipients are refused with 451 twice by the sink, then accepted.
        let addresses = (1...24).map { "reader\($0)@example.net" } + (1...6).map { "flaky\($0)@example.net" }
        let poster = FormPoster()
        for address in addresses {
            let status = await poster.post("\(server.base)/lists/news/subscribe", ["email": address])
            #expect(status == 200, "\(address): \(String(describing: status))")
        }

        func outbox() async throws -> [(recipient: String, status: String, attempts: Int)] {
            try await DatabaseQueue(path: workspace.db).read { db in
                try Row.fetchAll(db, sql: "SELECT recipient, status, attempts FROM outbox ORDER BY id")
                    .map { ($0["recipient"], $0["status"], $0["attempts"]) }
            }
        }
        // The outage, seen by the worker: every message tried and deferred, none given up.
        let triedTwice = try await eventually(within: .seconds(30)) {
            try await outbox().allSatisfy { $0.status == "queued" && $0.attempts >= 2 }
        }
        let afterOutage = try await outbox()
        try #require(triedTwice, "\(afterOutage)\n\(server.log)")
        #expect(try await outbox().count == addresses.count)

        // Back, but the first three recipients after the outage get 451 too.
        let sink = try SMTPSink.start(port: smtpPort, options: ["--fail-next", "3", "--flaky-failures", "2"])
        let delivered = try await eventually(within: .seconds(60)) {
            try await outbox().allSatisfy { $0.status == "sent" }
        }
        let undelivered = try await outbox().filter { $0.status != "sent" }
        try #require(delivered, "not delivered: \(undelivered)\n\(server.log)")

        let received = try sink.messages()
        #expect(received.count == addresses.count, "each address once, nothing more")
        #expect(received.flatMap(\.rcptTos).sorted() == addresses.sorted())
        #expect(Set(received.compactMap { messageID(of: $0.data) }).count == addresses.count)
        for row in try await outbox() where row.recipient.hasPrefix("flaky") {
            #expect(row.attempts >= 2 + 2 + 1, "\(row.recipient): the outage, two 451s, then the delivery")
        }
    }

    @Test("serve refuses a retry base out of range or a cap shorter than the base", arguments: [
        ["--retry-base", "0"], ["--retry-base", "nan"], ["--retry-cap", "100000"], ["--retry-base", "10", "--retry-cap", "1"],
    ])
    func retryOptions(_ options: [String]) throws {
        // A database that does not exist: if the options were taken, serve would stop there instead.
        let workspace = try Workspace()
        let result = try Binary.run(["serve", "--port", "0", "--db", workspace.db] + options, in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: ") == true)
        #expect(result.lastErrorLine?.contains("retry") == true, "\(result.stderr)")
    }
}
