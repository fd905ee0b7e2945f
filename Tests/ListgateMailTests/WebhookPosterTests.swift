// The webhook poster (one thread per receiver driving its lanes through libcurl's multi
// interface) against real local receivers (Tests/Support/webhook_receiver.py).
import Foundation
@testable import ListgateMail
import ListgateTestSupport
import Testing

@Suite("Webhook poster: lanes over libcurl's multi interface", .serialized)
struct WebhookPosterTests {
    func poster(lanes: Int = 4, timeout: Duration = .seconds(10)) throws -> CurlWebhookPoster {
        try CurlWebhookPoster(lanes: lanes, timeout: timeout, connectTimeout: .seconds(5))
    }

    /// Request `index` to `url`: its body names the index, so the receiver's records say which arrived.
    func requests(to url: String) -> @Sendable (Int, inout WebhookRequest) -> Void {
        { index, request in
            request.reset(headerCount: 2)
            request.url = url
            request.headers[0].append(contentsOf: "Content-Type: application/json".utf8)
            request.headers[1].append(contentsOf: "webhook-id: msg_\(index)".utf8)
            request.body.append(contentsOf: #"{"index":\#(index)}"#.utf8)
        }
    }

    @Test("every POST is answered, in the requests' order, over at most as many connections as lanes")
    func keptAlive() async throws {
        let receiver = try WebhookReceiver.start()
        let poster = try poster(lanes: 4)
        let answers = await poster.post(count: 40, prepare: requests(to: receiver.url))
        #expect(answers == Array(repeating: .status(200), count: 40))
        let received = try await receiver.waitFor(count: 40, timeout: .seconds(10))
        #expect(Set(received.map(\.id)) == Set((0..<40).map { "msg_\($0)" }))
        #expect(received.allSatisfy { $0.body == #"{"index":\#($0.id.dropFirst(4))}"# && $0.contentType == "application/json" })
        #expect(Set(received.map(\.peerPort)).count <= 4, "the lanes' connections are reused")
        // A second batch reuses them too.
        _ = await poster.post(count: 8, prepare: requests(to: receiver.url))
        #expect(Set(try await receiver.waitFor(count: 48, timeout: .seconds(10)).map(\.peerPort)).count <= 4)
    }

    @Test("a receiver's answers come back as they were: 500s, a redirect unfollowed, a refused connection")
    func answers() async throws {
        let failing = try WebhookReceiver.start(options: ["--fail-first", "100"])
        #expect(try await poster().post(count: 3, prepare: requests(to: failing.url)) == Array(repeating: .status(500), count: 3))
        let elsewhere = try WebhookReceiver.start()
        let redirecting = try WebhookReceiver.start(options: ["--redirect-to", elsewhere.url])
        #expect(try await poster().post(count: 2, prepare: requests(to: redirecting.url)) == [.status(302), .status(302)])
        #expect(try elsewhere.received().isEmpty)
        let closed = try WebhookReceiver.start()
        let url = closed.url
        closed.stop()
        let refused = try await poster().post(count: 2, prepare: requests(to: url))
        #expect(refused.allSatisfy { if case .noAnswer = $0 { true } else { false } }, "\(refused)")
    }

    @Test("many receivers, one dead: the others' POSTs are all answered while the dead one's lanes still wait")
    func deadReceiverHoldsOnlyItself() async throws {
        let dead = try WebhookReceiver.start(options: ["--silent"])
        let deadPoster = try poster(lanes: 2, timeout: .seconds(30))
        let stuck = Task { await deadPoster.post(count: 6, prepare: requests(to: dead.url)) }
        let live = try (0..<3).map { _ in try WebhookReceiver.start() }
        let posters = try live.map { _ in try poster(lanes: 2) }
        await withTaskGroup(of: [WebhookAnswer].self) { group in
            for (receiver, poster) in zip(live, posters) {
                group.addTask { await poster.post(count: 25, prepare: self.requests(to: receiver.url)) }
            }
            for await answers in group {
                #expect(answers == Array(repeating: .status(200), count: 25))
            }
        }
        for receiver in live {
            #expect(try receiver.received().count == 25)
        }
        // Still waiting on the dead receiver; stopping it leaves the unsent ones unattempted.
        stuck.cancel()
        dead.stop()
        let answers = await stuck.value
        #expect(answers.filter { $0 == .notAttempted }.count >= 4, "only the two lanes' POSTs were under way: \(answers)")
        #expect(!answers.contains(.status(200)))
    }

    @Test("a POST cancelled before it starts sends nothing")
    func cancelledBeforeStart() async throws {
        let receiver = try WebhookReceiver.start()
        let poster = try poster()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await poster.post(count: 5, prepare: requests(to: receiver.url))
        }
        #expect(await task.value == Array(repeating: .notAttempted, count: 5))
        #expect(try receiver.received().isEmpty)
    }
}
