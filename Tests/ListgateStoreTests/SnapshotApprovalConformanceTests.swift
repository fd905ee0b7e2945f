// Specification of snapshot approvals on every store (README, "Before you send"): the
// required number is frozen into each snapshot, each approver counts once, only the exact
// audience can be approved and never by the token that took it, and concurrent last
// approvals make the snapshot ready exactly once.
import Foundation
import ListgateCore
import Testing

@Suite("Snapshot approvals, on every store")
struct SnapshotApprovalConformanceTests {
    struct Prepared {
        let opened: StoreUnderTest
        let store: any SnapshotStore
        let lists: any ListStore
        let list: MailingList
    }

    /// news with three active members, requiring `approvals` per snapshot.
    func prepared(_ kind: StoreKind, approvals: Int = 2) async throws -> Prepared {
        let base = try await SnapshotConformanceTests().prepared(kind, active: ["a@example.org", "b@example.org", "c@example.org"])
        let lists = try base.opened.as((any ListStore).self)
        var change = ListChange()
        change.snapshotApprovals = approvals
        let (list, _) = try await lists.updateList(ListSlug("news"), change, source: .cli)
        return Prepared(opened: base.opened, store: base.store, lists: lists, list: list)
    }

    func approve(_ prepared: Prepared, _ snapshot: AudienceSnapshot, by approver: Approver,
                 count: Int? = nil, sha256: String? = nil) async throws -> ApprovalTally {
        try await SnapshotApprovals(store: prepared.store).approve(
            snapshotID: snapshot.id, by: approver, count: count ?? snapshot.count,
            sha256Prefix: sha256 ?? String(snapshot.sha256.prefix(8)), source: .cli)
    }

    @Test("lists update records snapshot_approvals in list_updated and the list reads it back", arguments: StoreKind.underTest)
    func listUpdatedRecordsApprovals(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 2)
        #expect(prepared.list.snapshotApprovals == 2)
        #expect(try await prepared.lists.list(ListSlug("news"))?.snapshotApprovals == 2)
        #expect(try await prepared.opened.rows("SELECT detail FROM events WHERE type = 'list_updated'")
                == [[#"{"snapshot_approvals.after":"2","snapshot_approvals.before":"0"}"#]])
    }

    @Test("a snapshot freezes the list's required approvals: a later change of the list does not change it",
          arguments: StoreKind.underTest)
    func requirementIsFrozen(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 2)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(snapshot.approvalsRequired == 2 && snapshot.approvals == 0 && snapshot.status == .awaitingApproval)
        var change = ListChange()
        change.snapshotApprovals = 0
        _ = try await prepared.lists.updateList(ListSlug("news"), change, source: .cli)
        let read = try #require(try await prepared.store.snapshot(id: snapshot.id))
        #expect(read.approvalsRequired == 2 && read.status == .awaitingApproval)
        #expect(try await prepared.opened.rows("SELECT detail FROM events WHERE type = 'snapshot_taken'") == [[
            #"{"approvals_required":"2","count":"3","sha256":"\#(snapshot.sha256)","snapshot_id":"\#(snapshot.id)"}"#,
        ]])
    }

    @Test("distinct approvers are counted once each; the required number makes the snapshot ready, with approved_at",
          arguments: StoreKind.underTest)
    func distinctApproversMakeItReady(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 2)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(try await approve(prepared, snapshot, by: .admin("alice")) == ApprovalTally(approvals: 1, required: 2, counted: true))
        #expect(try await approve(prepared, snapshot, by: .admin("alice"), sha256: snapshot.sha256)
                == ApprovalTally(approvals: 1, required: 2, counted: false))
        #expect(try await prepared.store.snapshot(id: snapshot.id)?.status == .awaitingApproval)
        #expect(try await prepared.opened.count("snapshots", where: "approved_at IS NOT NULL") == 0)
        #expect(try await approve(prepared, snapshot, by: .admin("bob")) == ApprovalTally(approvals: 2, required: 2, counted: true))
        let read = try #require(try await prepared.store.snapshot(id: snapshot.id))
        #expect(read.status == .ready && read.approvals == 2)
        #expect(try await prepared.opened.count("snapshots", where: "approved_at IS NOT NULL") == 1)
        #expect(try await prepared.store.approvals(snapshotID: snapshot.id).map(\.approver) == [.admin("alice"), .admin("bob")])
        #expect(try await prepared.opened.rows("SELECT detail FROM events WHERE type = 'snapshot_approved' ORDER BY id") == [
            [#"{"approvals":"1","approvals_required":"2","approver":"admin:alice","snapshot_id":"\#(snapshot.id)"}"#],
            [#"{"approvals":"2","approvals_required":"2","approver":"admin:bob","snapshot_id":"\#(snapshot.id)"}"#],
        ])
    }

    @Test("a wrong count or sha256 is refused and nothing is recorded", arguments: StoreKind.underTest)
    func mismatchRecordsNothing(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 1)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        let wrongHash = snapshot.sha256.hasPrefix("0") ? "11111111" : "00000000"
        await #expect(throws: SnapshotApprovalError.mismatch) { try await approve(prepared, snapshot, by: .admin("a"), count: 4) }
        await #expect(throws: SnapshotApprovalError.mismatch) {
            try await approve(prepared, snapshot, by: .admin("a"), sha256: wrongHash)
        }
        await #expect(throws: SnapshotApprovalError.invalidPrefix) {
            try await approve(prepared, snapshot, by: .admin("a"), sha256: String(snapshot.sha256.prefix(7)))
        }
        #expect(try await prepared.opened.count("snapshot_approvals") == 0)
        #expect(try await prepared.opened.count("events", where: "type = 'snapshot_approved'") == 0)
    }

    @Test("the token that took a snapshot cannot approve it; another token can", arguments: StoreKind.underTest)
    func creatorCannotApprove(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 1)
        let tokens = try prepared.opened.as((any SenderTokenStore).self)
        let creator = try await tokens.createSenderToken(
            list: ListSlug("news"), name: nil, secret: SenderTokenSecret.generate(), source: .cli)
        let other = try await tokens.createSenderToken(
            list: ListSlug("news"), name: nil, scopes: [.audienceApprove], secret: SenderTokenSecret.generate(), source: .cli)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: creator, source: .cli)
        #expect(snapshot.creatorTokenID == creator)
        await #expect(throws: SnapshotApprovalError.byCreator) { try await approve(prepared, snapshot, by: .token(creator)) }
        #expect(try await prepared.opened.count("snapshot_approvals") == 0)
        #expect(try await approve(prepared, snapshot, by: .token(other)).status == .ready)
        #expect(try await prepared.opened.count("snapshot_approvals", where: "token_id IS NOT NULL") == 1)
    }

    @Test("a snapshot of a list that required no approvals is ready and cannot be approved", arguments: StoreKind.underTest)
    func noneRequired(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 0)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(snapshot.status == .ready)
        await #expect(throws: SnapshotApprovalError.notRequired) { try await approve(prepared, snapshot, by: .admin("a")) }
    }

    @Test("two last approvals at once: both counted, the snapshot ready, approved_at set once, the second event says 2 of 2",
          arguments: StoreKind.underTest)
    func concurrentLastApprovals(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 2)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        async let first = approve(prepared, snapshot, by: .admin("alice"))
        async let second = approve(prepared, snapshot, by: .admin("bob"))
        let tallies = try await [first, second]
        #expect(tallies.map(\.approvals).sorted() == [1, 2], "one of them saw the other's approval")
        #expect(try await prepared.store.snapshot(id: snapshot.id)?.status == .ready)
        #expect(try await prepared.opened.count("snapshots", where: "approved_at IS NOT NULL") == 1)
        #expect(try await prepared.opened.rows("SELECT detail FROM events WHERE type = 'snapshot_approved' ORDER BY id")
                    .compactMap { $0.first ?? nil }.filter { $0.contains(#""approvals":"2""#) }.count == 1)
    }

    @Test("snapshots are listed newest first, of one list or of all", arguments: StoreKind.underTest)
    func listingOrder(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, approvals: 0)
        let other = try await prepared.lists.createList(try .sample("other"), source: .cli)
        let first = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        try await Task.sleep(for: .milliseconds(5))
        let second = try await prepared.store.takeSnapshot(listID: other.id, tokenID: nil, source: .cli)
        try await Task.sleep(for: .milliseconds(5))
        let third = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(try await prepared.store.snapshots(listID: nil, limit: 10).map(\.id) == [third.id, second.id, first.id])
        #expect(try await prepared.store.snapshots(listID: prepared.list.id, limit: 10).map(\.id) == [third.id, first.id])
        #expect(try await prepared.store.snapshots(listID: nil, limit: 1).map(\.id) == [third.id])
    }
}
