// Specification of the expected audience on every store (README, "Before you send"): a
// snapshot whose audience is not what the sender said it expects is refused inside the
// store's transaction, and nothing of it is kept.
import Foundation
import ListgateCore
import Testing

extension SnapshotConformanceTests {
    static let three = ["a@example.org", "b@example.org", "c@example.org"]

    @Test("an audience other than the expected count is refused with its count, and no snapshot, member or event is kept",
          arguments: StoreKind.underTest)
    func expectCountMismatchKeepsNothing(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, active: Self.three)
        let expectation = try #require(try AudienceExpectation(expectCount: 1, maxCount: nil))
        await #expect(throws: DomainError.audienceMismatch(count: 3, expectation: expectation)) {
            try await prepared.store.takeSnapshot(
                listID: prepared.list.id, tokenID: nil, expecting: expectation, source: .cli)
        }
        #expect(try await prepared.opened.count("snapshots") == 0)
        #expect(try await prepared.opened.count("snapshot_members") == 0)
        #expect(try await prepared.opened.count("events", where: "type = 'snapshot_taken'") == 0)
    }

    @Test("an audience over the maximum is refused, and no snapshot, member or event is kept", arguments: StoreKind.underTest)
    func maxCountExceededKeepsNothing(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, active: Self.three)
        let expectation = try #require(try AudienceExpectation(expectCount: nil, maxCount: 2))
        await #expect(throws: DomainError.audienceMismatch(count: 3, expectation: expectation)) {
            try await prepared.store.takeSnapshot(
                listID: prepared.list.id, tokenID: nil, expecting: expectation, source: .cli)
        }
        #expect(try await prepared.opened.count("snapshots") == 0)
        #expect(try await prepared.opened.count("snapshot_members") == 0)
        #expect(try await prepared.opened.count("events", where: "type = 'snapshot_taken'") == 0)
    }

    @Test("an audience that meets the expectation is frozen, and the event records what was expected",
          arguments: StoreKind.underTest)
    func metExpectationIsRecorded(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, active: Self.three)
        let expectation = try AudienceExpectation(expectCount: 3, maxCount: 3)
        let snapshot = try await prepared.store.takeSnapshot(
            listID: prepared.list.id, tokenID: nil, expecting: expectation, source: .cli)
        #expect(snapshot.count == 3)
        #expect(try await prepared.opened.count("snapshot_members") == 3)
        #expect(try await prepared.opened.rows("SELECT detail FROM events WHERE type = 'snapshot_taken'") == [[
            #"{"count":"3","expect_count":"3","max_count":"3","sha256":"\#(snapshot.sha256)","snapshot_id":"\#(snapshot.id)"}"#,
        ]])
    }
}
