// Specification of the IntakeDesk's order: posts for different mailboxes are decided
// side by side (their writes share group commits), posts for one mailbox one after
// another, oldest first, so the later one sees the earlier one's cooldown.
import Foundation
@testable import ListgateCore
import ListgateServer
import Testing

@Suite("Intake desk")
struct IntakeDeskTests {
    static func post(_ fixture: ServerFixture, _ email: String, name: String? = nil) async throws {
        let list = try await fixture.intake().list("news")
        try await fixture.store.recordFormRequest(
            kind: .subscribe, list: list, address: EmailAddress(email), name: name, origin: RequestOrigin(route: "form"),
            at: Date())
    }

    @Test("a mailbox's second post, waiting behind others in one pass, is decided after its first")
    func oneMailboxOldestFirst() async throws {
        let fixture = try await ServerFixture()
        try await Self.post(fixture, "reader+first@example.net", name: "最初")
        for index in 0..<10 { try await Self.post(fixture, "other\(index)@example.net") }
        try await Self.post(fixture, "reader+second@example.net", name: "二番目")
        let intake = fixture.intake()
        let desk = IntakeDesk(
            intake: intake, unsubscribes: Unsubscribes(store: fixture.store, renderer: fixture.composer, links: fixture.links))
        let pass = try await desk.decidePending()
        #expect(pass == IntakeDesk.Pass(decided: 12))
        // One confirmation per mailbox: the first post's; the second met its cooldown.
        #expect(try await fixture.count("outbox") == 11)
        #expect(try await fixture.count("submissions", where: "email = 'reader+first@example.net' AND name = '最初'") == 1)
        #expect(try await fixture.count("submissions", where: "email = 'reader+second@example.net'") == 0)
    }

    @Test("rounds keep the posts' order and never hold one mailbox twice")
    func rounds() throws {
        let emails = ["a@example.net", "b@example.net", "a+x@example.net", "c@example.net", "b+y@example.net", "a@example.net"]
        let requests = emails.enumerated().map { index, email in
            FormRequest(
                id: Int64(index + 1), kind: .subscribe, listSlug: "news", email: email, name: nil,
                origin: RequestOrigin(route: "form"), receivedAt: Date())
        }
        let rounds = IntakeDesk.rounds(requests)
        #expect(rounds.map { $0.map(\.id) } == [[1, 2], [3, 4, 5], [6]])
    }
}
