// Specification of the sender's side of storage, on every store: API tokens (digests,
// scopes, revocation), snapshots (what is frozen, its count and checksum, the recipients
// stream in pages, pruning) and the departures feed.
import Foundation
import ListgateCore
import Testing

@Suite("Sender tokens, on every store")
struct SenderTokenConformanceTests {
    func prepared(_ kind: StoreKind) async throws -> (StoreUnderTest, any SenderTokenStore, MailingList) {
        let opened = try await StoreUnderTest.open(kind)
        let list = try await opened.as((any ListStore).self).createList(try .sample(), source: .cli)
        return (opened, try opened.as((any SenderTokenStore).self), list)
    }

    @Test("a created token is stored as its digest only, grants its scopes on its list, and is recorded",
          arguments: StoreKind.underTest)
    func createAndUse(_ kind: StoreKind) async throws {
        let (opened, store, list) = try await prepared(kind)
        let secret = SenderTokenSecret.generate()
        let id = try await store.createSenderToken(
            list: ListSlug("news"), name: "newsletter", scopes: [.feedbackWrite, .audienceRead], secret: secret, source: .cli)
        #expect(try await opened.rows("SELECT token_sha256, scopes FROM api_tokens")
                == [[SenderTokenSecret.digest(secret), "audience:read feedback:write"]])
        #expect(try await opened.rows("SELECT type, list_id, detail FROM events WHERE type = 'token_created'")
                == [["token_created", String(list.id), #"{"scopes":"audience:read feedback:write","token_id":"\#(id)"}"#]])
        let access = try #require(try await store.senderAccess(token: secret))
        #expect(access == SenderAccess(tokenID: id, listID: list.id, listSlug: "news", scopes: [.audienceRead, .feedbackWrite]))
        #expect(try await store.senderAccess(token: secret + "x") == nil)
        let listed = try await store.senderTokens()
        #expect(listed.map(\.id) == [id])
        #expect(listed.first?.name == "newsletter" && listed.first?.listSlug == "news" && listed.first?.revokedAt == nil)
        #expect(listed.first?.lastUsedAt != nil, "each use is recorded")
    }

    @Test("a token without scopes gets audience:read; a token for an unknown list is refused", arguments: StoreKind.underTest)
    func defaultsAndUnknownList(_ kind: StoreKind) async throws {
        let (_, store, _) = try await prepared(kind)
        let secret = SenderTokenSecret.generate()
        _ = try await store.createSenderToken(list: ListSlug("news"), name: nil, scopes: [], secret: secret, source: .cli)
        #expect(try await store.senderAccess(token: secret)?.scopes == [.audienceRead])
        await #expect(throws: DomainError.listNotFound("missing")) {
            try await store.createSenderToken(list: ListSlug("missing"), name: nil, secret: "x", source: .cli)
        }
    }

    @Test("a revoked token grants nothing from the next request on; revoking twice names the first time",
          arguments: StoreKind.underTest)
    func revoke(_ kind: StoreKind) async throws {
        let (opened, store, _) = try await prepared(kind)
        let secret = SenderTokenSecret.generate()
        let id = try await store.createSenderToken(list: ListSlug("news"), name: nil, secret: secret, source: .cli)
        #expect(try await store.senderAccess(token: secret) != nil)
        try await store.revokeSenderToken(id: id, source: .cli)
        #expect(try await store.senderAccess(token: secret) == nil)
        #expect(try await store.senderTokens().first?.revokedAt != nil)
        await #expect(throws: SenderTokenError.alreadyRevoked(id)) { try await store.revokeSenderToken(id: id, source: .cli) }
        await #expect(throws: SenderTokenError.unknown("nope")) { try await store.revokeSenderToken(id: "nope", source: .cli) }
        #expect(try await opened.count("events", where: "type = 'token_revoked'") == 1)
    }
}

@Suite("Snapshots and departures, on every store")
struct SnapshotConformanceTests {
    struct Prepared {
        let opened: StoreUnderTest
        let store: any SnapshotStore
        let list: MailingList
    }

    static let links = LinkBuilder(signer: TokenSigner(secret: "secret"), baseURL: "https://lists.example.org")

    /// news with active members (imported with consent), a pending one and one who left.
    func prepared(_ kind: StoreKind, active: [String]) async throws -> Prepared {
        let opened = try await StoreUnderTest.open(kind)
        let list = try await opened.as((any ListStore).self).createList(try .sample(), source: .cli)
        let importer = try opened.as((any SubscriberDataStore).self)
        let rows = active.map { "\($0),,active,2024-04-01T09:30:00.250Z,\n" }.joined()
        try await importCSV(
            "email,name,status,subscribed_at,unsubscribed_at\n" + rows
                + "pending@example.org,,pending,,\nleft@example.org,,unsubscribed,,2025-01-02T00:00:00Z\n",
            note: "paper form", store: importer)
        return Prepared(opened: opened, store: try opened.as((any SnapshotStore).self), list: list)
    }

    @Test("a snapshot freezes the active members only, with their count and the SHA-256 of their sorted identity keys",
          arguments: StoreKind.underTest)
    func freezesActive(_ kind: StoreKind) async throws {
        let members = ["b@example.org", "A@example.org", "zed@example.org", "たろう@example.jp", "a+tag@example.org"]
        let prepared = try await prepared(kind, active: members)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        let keys = try members.map { try EmailAddress($0).identityKey }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        #expect(snapshot.count == 5)
        #expect(snapshot.sha256 == SenderTokenSecret.digest(keys.joined(separator: "\n")))
        #expect(snapshot.listSlug == "news" && snapshot.erased == 0 && !snapshot.expired)
        let read = try #require(try await prepared.store.snapshot(id: snapshot.id))
        #expect(read.id == snapshot.id && read.count == 5 && read.sha256 == snapshot.sha256 && read.listID == prepared.list.id)
        #expect(Timestamp.string(read.createdAt) == Timestamp.string(snapshot.createdAt), "read back as answered")
        #expect(try await prepared.opened.rows("SELECT detail FROM events WHERE type = 'snapshot_taken'")
                == [[#"{"count":"5","sha256":"\#(snapshot.sha256)","snapshot_id":"\#(snapshot.id)"}"#]])
        let again = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(again.count == 5 && again.sha256 == snapshot.sha256, "nothing changed, the same members")
    }

    @Test("an empty audience is a snapshot of count 0; a closed list takes none", arguments: StoreKind.underTest)
    func emptyAndClosed(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, active: [])
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        #expect(snapshot.count == 0 && snapshot.sha256 == SenderTokenSecret.digest(""))
        _ = try await prepared.opened.as((any ListStore).self).archiveList(try ListSlug("news"), source: .cli)
        await #expect(throws: DomainError.listArchived("news")) {
            try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        }
    }

    @Test("the recipients stream in pages, in identity-key byte order, each line as the sender API writes it",
          arguments: StoreKind.underTest)
    func recipientsInPages(_ kind: StoreKind) async throws {
        let members = (0..<7).map { "Reader\($0)@example.net" } + ["たろう@example.jp"]
        let prepared = try await prepared(kind, active: members)
        let snapshot = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        var after: String?
        var lines: [[String: Any]] = []
        var pages = 0
        while true {
            let end = try await prepared.store.snapshotPageEnd(snapshotID: snapshot.id, after: after, limit: 3)
            let page = try await prepared.store.snapshotRecipients(snapshotID: snapshot.id, after: after, limit: 3, links: Self.links)
            pages += 1
            for line in String(decoding: page.ndjson, as: UTF8.self).split(separator: "\n") {
                lines.append(try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]))
            }
            #expect(page.count == min(3, members.count - (pages - 1) * 3))
            guard let end else { break }
            after = end
        }
        #expect(pages == 3)
        let emails = lines.map { $0["email"] as? String ?? "" }
        #expect(emails == (0..<7).map { "Reader\($0)@example.net" } + ["たろう@example.jp"])
        let stored = try await prepared.opened.rows("""
            SELECT s.recipient_id, s.public_id FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            WHERE a.email = 'Reader0@example.net'
            """)
        let first = lines[0]
        #expect(first["recipient_id"] as? String == stored.first?[0])
        #expect(first["subscribed_at"] as? String == "2024-04-01T09:30:00.250Z")
        #expect(first["name"] is NSNull)
        let url = Self.links.unsubscribe(subscription: try #require(stored.first?[1] ?? nil))
        #expect(first["unsubscribe_url"] as? String == url)
        #expect(first["list_unsubscribe"] as? String == "<\(url)>")
        #expect(first["list_unsubscribe_post"] as? String == "List-Unsubscribe=One-Click")
        let missing = try await prepared.store.snapshotRecipients(snapshotID: "missing", after: nil, limit: 3, links: Self.links)
        #expect(missing.count == 0)
    }

    @Test("pruning deletes the members of snapshots taken before the cutoff only, in batches, and keeps their metadata",
          arguments: StoreKind.underTest)
    func pruneOldOnly(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, active: ["a@example.org", "b@example.org", "c@example.org"])
        let old = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        try await Task.sleep(for: .milliseconds(20))
        let cutoff = Date()
        try await Task.sleep(for: .milliseconds(20))
        let recent = try await prepared.store.takeSnapshot(listID: prepared.list.id, tokenID: nil, source: .cli)
        let pruning = try await prepared.store.pruneSnapshots(takenBefore: cutoff, batch: 2)
        #expect(pruning == SnapshotPruning(snapshots: 1, rows: 3))
        #expect(try await prepared.opened.count(
            "snapshot_members m JOIN snapshots s ON s.id = m.snapshot_id", where: "s.public_id = '\(recent.id)'") == 3)
        let kept = try #require(try await prepared.store.snapshot(id: old.id))
        #expect(kept.expired)
        #expect(kept.count == 3 && kept.sha256 == old.sha256, "count and checksum stay what was frozen")
        #expect(try await prepared.store.snapshotRecipients(snapshotID: old.id, after: nil, limit: 10, links: Self.links).count == 0)
        #expect(try await prepared.store.pruneSnapshots(takenBefore: cutoff, batch: 2) == SnapshotPruning())
    }

    @Test("departures come oldest first from a time on, each person once, paged by (time, key)", arguments: StoreKind.underTest)
    func departures(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind, active: ["stay@example.org"])
        let importer = try prepared.opened.as((any SubscriberDataStore).self)
        try await importCSV("""
            email,status,unsubscribed_at
            b@example.org,unsubscribed,2025-02-01T00:00:00Z
            a@example.org,unsubscribed,2025-02-01T00:00:00Z
            c@example.org,unsubscribed,2025-03-01T00:00:00.5Z
            """, store: importer)
        let all = try await prepared.store.departures(
            listID: prepared.list.id, since: "2025-01-01T00:00:00.000Z", after: nil, limit: 10)
        #expect(all.map(\.email) == ["left@example.org", "a@example.org", "b@example.org", "c@example.org"])
        #expect(all.map(\.unsubscribedAt) == [
            "2025-01-02T00:00:00.000Z", "2025-02-01T00:00:00.000Z", "2025-02-01T00:00:00.000Z", "2025-03-01T00:00:00.500Z",
        ])
        #expect(all.allSatisfy { $0.reason == "unsubscribed" && $0.recipientID.count == 32 })
        let page = try await prepared.store.departures(
            listID: prepared.list.id, since: "2025-01-01T00:00:00.000Z", after: (all[1].unsubscribedAt, all[1].sortKey), limit: 1)
        #expect(page.map(\.email) == ["b@example.org"])
        // Walked one at a time, the feed gives the same people, none twice, none skipped.
        var walked: [Departure] = []
        while true {
            let next = try await prepared.store.departures(
                listID: prepared.list.id, since: "2025-01-01T00:00:00.000Z",
                after: walked.last.map { ($0.unsubscribedAt, $0.sortKey) }, limit: 1)
            guard let one = next.first, walked.count < 20 else { break }
            walked.append(one)
        }
        #expect(walked == all)
        // From a later time on: c's unsubscribe, then the suppressions the imports left for
        // the others (written when they were imported), each person once.
        let later = try await prepared.store.departures(
            listID: prepared.list.id, since: "2025-02-15T00:00:00.000Z", after: nil, limit: 10)
        #expect(later.first?.email == "c@example.org")
        #expect(later.first?.unsubscribedAt == "2025-03-01T00:00:00.500Z")
        #expect(later.count == 4 && Set(later.map(\.email)).count == 4)
    }
}
