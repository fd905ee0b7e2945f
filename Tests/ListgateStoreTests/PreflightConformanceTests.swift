// Specification of what a preflight asks of every store (README, "Before you send"): the
// To's member row in one snapshot, by ids only; which addresses found in a message are the
// list's subscribers', in any status and across batches; the newest snapshot; and the
// ledger event, which keeps counts and codes and no address.
import Foundation
import ListgateCore
import Testing

@Suite("Preflight lookups, on every store")
struct PreflightConformanceTests {
    struct Prepared {
        let opened: StoreUnderTest
        let store: any PreflightStore & SnapshotStore
        let list: MailingList
    }

    func prepared(_ kind: StoreKind) async throws -> Prepared {
        let opened = try await StoreUnderTest.open(kind)
        let list = try await opened.as((any ListStore).self).createList(try .sample(), source: .cli)
        return Prepared(opened: opened, store: try opened.as((any PreflightStore & SnapshotStore).self), list: list)
    }

    @Test("the To's member of the snapshot is found by identity key and named by its recipient and subscription ids",
          arguments: StoreKind.underTest)
    func recipientFound(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let recipientID = try await prepared.opened.seedMember("reader@example.jp")
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        let found = try await prepared.store.snapshotRecipient(snapshotID: snapshot.id, identityKey: "reader@example.jp")
        let publicID = try #require(try await prepared.opened.value("SELECT public_id FROM subscriptions"))
        #expect(found == SnapshotRecipient(identityKey: "reader@example.jp", recipientID: recipientID, subscriptionID: publicID))
    }

    @Test("an address that is no member of that snapshot is not found, even when a later snapshot holds it",
          arguments: StoreKind.underTest)
    func recipientOnlyInItsSnapshot(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        try await prepared.opened.seedMember("early@example.jp")
        let first = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        try await prepared.opened.seedMember("late@example.jp")
        let second = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(try await prepared.store.snapshotRecipient(snapshotID: first.id, identityKey: "late@example.jp") == nil)
        #expect(try await prepared.store.snapshotRecipient(snapshotID: second.id, identityKey: "late@example.jp") != nil)
        #expect(try await prepared.store.snapshotRecipient(snapshotID: first.id, identityKey: "stranger@example.jp") == nil)
        #expect(try await prepared.store.snapshotRecipient(snapshotID: "no-such-snapshot", identityKey: "early@example.jp") == nil)
    }

    @Test("subscribed keys are found across batches: 12,001 members asked at once, among strangers",
          arguments: StoreKind.underTest)
    func subscribedKeysAcrossBatches(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        // Seeded with one statement each (a recursive count both dialects read alike): an
        // import of 12,001 rows would test the import, not this lookup.
        try await prepared.opened.behindTheBack("""
            INSERT INTO addresses (email, identity_key, address_hash, created_at)
            SELECT 'reader' || i || '@example.jp', 'reader' || i || '@example.jp',
                   substr('0000000000000000000000000000000000000000000000000000000000000000' || i, length(i || '') + 1),
                   '2026-01-01T00:00:00.000Z'
            FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12001) SELECT i FROM n) AS numbers
            """)
        try await prepared.opened.behindTheBack("""
            INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at)
            SELECT \(prepared.list.id), id, 'active', 'admin', created_at, created_at, created_at FROM addresses
            """)
        let members = (1...12_001).map { "reader\($0)@example.jp" }
        let strangers = (1...50).map { "stranger\($0)@example.jp" }
        let found = try await prepared.store.subscribedKeys(listID: prepared.list.id, among: strangers + members)
        #expect(found == Set(members))
    }

    @Test("a subscriber's key is found in every status, never another list's subscriber's or a forgotten person's",
          arguments: StoreKind.underTest)
    func subscribedKeysAnyStatusThisListOnly(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        _ = try await prepared.opened.as((any ListStore).self).createList(try .sample("other", name: "別のリスト"), source: .cli)
        for status in ["pending", "active", "unsubscribed", "bounced", "complained"] {
            try await prepared.opened.seedMember("\(status)@example.jp", status: status)
        }
        try await prepared.opened.seedMember("elsewhere@example.jp", list: "other")
        try await prepared.opened.seedMember("forgotten@example.jp")
        _ = try await prepared.opened.as((any MembershipStore).self).forget(
            try EmailAddress("forgotten@example.jp"), source: .cli, at: Date())
        let asked = ["pending", "active", "unsubscribed", "bounced", "complained", "elsewhere", "forgotten", "stranger"]
            .map { "\($0)@example.jp" }
        let found = try await prepared.store.subscribedKeys(listID: prepared.list.id, among: asked)
        #expect(found == Set(["pending", "active", "unsubscribed", "bounced", "complained"].map { "\($0)@example.jp" }))
        #expect(try await prepared.store.subscribedKeys(listID: prepared.list.id, among: []).isEmpty)
    }

    @Test("keys with quotes, backslashes, tabs and Japanese are asked and matched exactly",
          arguments: StoreKind.underTest)
    func subscribedKeysWrittenAnyWay(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let odd = [#""yamada\"taro"@example.jp"#, #"back\slash@example.jp"#, "tab\there@example.jp", "山田@例え.jp"]
        for key in odd { try await prepared.opened.seedMember(key) }
        let found = try await prepared.store.subscribedKeys(
            listID: prepared.list.id, among: odd + [#""yamada\"taro2"@example.jp"#, "山田2@例え.jp"])
        #expect(found == Set(odd))
    }

    @Test("the newest snapshot of the list is the one taken last; a list without one has none",
          arguments: StoreKind.underTest)
    func newestSnapshot(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        #expect(try await prepared.store.newestSnapshotID(listID: prepared.list.id) == nil)
        try await prepared.opened.seedMember("reader@example.jp")
        _ = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        let last = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(try await prepared.store.newestSnapshotID(listID: prepared.list.id) == last.id)
    }

    @Test("a preflight is recorded as preflight_checked with counts and problem codes, and no address or text",
          arguments: StoreKind.underTest)
    func preflightRecorded(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let record = PreflightRecord(
            listID: prepared.list.id, snapshotID: "snap-1", passed: false, problemCodes: ["foreign_addresses", "copy_header"],
            foreignAddresses: 300, subscriberAddresses: 299, octets: 48_213)
        try await prepared.store.recordPreflight(record, source: EventSource("api:tok-1"))
        #expect(try await prepared.opened.rows(
            "SELECT list_id, source, address_hash, detail FROM events WHERE type = 'preflight_checked'") == [[
                String(prepared.list.id), "api:tok-1", nil,
                #"{"foreign_addresses":"300","octets":"48213","problems":"foreign_addresses,copy_header","#
                    + #""snapshot_id":"snap-1","subscriber_addresses":"299","verdict":"fail"}"#,
            ]])
    }
}
