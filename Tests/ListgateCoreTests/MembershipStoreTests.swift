// Specification of admin membership storage (`subscribers …`, `suppressions …`): admins
// never cause mail, never bring back anyone who left or is suppressed, and `forget`
// erases every personal field while a hashed suppression keeps the person out.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Membership store")
struct MembershipStoreTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    /// A migrated database with the lists `news` and `events`.
    func prepared() async throws -> (MigratedDatabase, news: MailingList, events: MailingList) {
        let database = try await MigratedDatabase.make()
        let news = try await database.store.createList(try .sample("news"), source: .cli)
        let events = try await database.store.createList(try .sample("events", name: "催し"), source: .cli)
        return (database, news, events)
    }

    func add(_ email: String, to list: String = "news", name: String? = nil, confirmed: Bool,
             in database: MigratedDatabase) async throws -> AddSubscriberOutcome {
        try await database.store.addSubscriber(
            NewSubscriber(address: EmailAddress(email), list: ListSlug(list), name: name, confirmed: confirmed),
            source: .cli, at: now)
    }

    func subscriptionRow(_ email: String, list: String = "news", in database: MigratedDatabase) throws -> Row? {
        try database.store.pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT s.* FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                WHERE a.identity_key = ? AND l.slug = ?
                """, arguments: [try EmailAddress(email).identityKey, list])
        }
    }

    func count(_ sql: String, _ arguments: StatementArguments = [], in database: MigratedDatabase) async throws -> Int {
        try await database.store.pool.read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? -1 }
    }

    func events(in database: MigratedDatabase) throws -> [Row] {
        try database.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT type, list_id, address_hash, source, detail FROM events ORDER BY id")
        }
    }

    func hash(_ email: String, in database: MigratedDatabase) async throws -> String {
        try await database.store.pool.read { db in try AddressHasher.hash(try EmailAddress(email), in: db) }
    }

    // MARK: add

    @Test("add without --confirmed stores a pending subscription and queues no mail")
    func addPendingQueuesNoMail() async throws {
        let (database, _, _) = try await prepared()
        #expect(try await add("ada@example.org", name: "Ada", confirmed: false, in: database) == .added(.pending))
        let row = try #require(try subscriptionRow("ada@example.org", in: database))
        #expect(row["status"] == "pending")
        #expect(row["source"] == "admin")
        #expect(row["name"] == "Ada")
        #expect(row["subscribed_at"] == nil as String?)
        #expect(try await count("SELECT count(*) FROM outbox", in: database) == 0)
    }

    @Test("add --confirmed makes the subscription active now, source admin, with a subscriber_added event")
    func addConfirmedIsActive() async throws {
        let (database, news, _) = try await prepared()
        #expect(try await add("ada@example.org", confirmed: true, in: database) == .added(.active))
        let row = try #require(try subscriptionRow("ada@example.org", in: database))
        #expect(row["status"] == "active")
        #expect(row["source"] == "admin")
        #expect(row["subscribed_at"] == Timestamp.string(now))
        let last = try #require(try events(in: database).last)
        #expect(last["type"] == "subscriber_added")
        #expect(last["list_id"] == news.id)
        #expect(last["address_hash"] == (try await hash("ada@example.org", in: database)))
        #expect(last["detail"] == #"{"status":"active"}"#)
    }

    @Test("a pending subscription becomes active with --confirmed")
    func pendingThenConfirmed() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: false, in: database)
        #expect(try await add("ADA@example.org", confirmed: true, in: database) == .activated)
        #expect(try subscriptionRow("ada@example.org", in: database)?["status"] == "active")
    }

    @Test("adding an active subscriber again changes nothing and records nothing")
    func alreadyActiveIsUnchanged() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        let eventsBefore = try events(in: database).count
        #expect(try await add("ada@example.org", confirmed: true, in: database) == .unchanged(.active))
        #expect(try await add("ada@example.org", confirmed: false, in: database) == .unchanged(.active))
        #expect(try events(in: database).count == eventsBefore)
    }

    @Test("a per-list suppression beats add --confirmed, and nothing is stored")
    func listSuppressionBeatsConfirmedAdd() async throws {
        let (database, _, _) = try await prepared()
        _ = try await database.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("news"), source: .cli, at: now)
        let eventsBefore = try events(in: database).count
        await #expect(throws: MembershipError.suppressed(address: "ada@example.org", list: "news", reason: .admin)) {
            _ = try await add("ada@example.org", confirmed: true, in: database)
        }
        #expect(try await count("SELECT count(*) FROM subscriptions", in: database) == 0)
        #expect(try await count("SELECT count(*) FROM addresses", in: database) == 0)
        #expect(try events(in: database).count == eventsBefore)
    }

    @Test("a global suppression beats add on every list")
    func globalSuppressionBeatsAdd() async throws {
        let (database, _, _) = try await prepared()
        _ = try await database.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: now)
        for list in ["news", "events"] {
            await #expect(throws: MembershipError.suppressed(address: "Ada@Example.org", list: nil, reason: .admin)) {
                _ = try await add("Ada@Example.org", to: list, confirmed: false, in: database)
            }
        }
        #expect(try await count("SELECT count(*) FROM subscriptions", in: database) == 0)
    }

    @Test("a suppression that only keeps admins out (unsubscribed) also beats add")
    func unsubscribedSuppressionBeatsAdd() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.removeSubscriber(try EmailAddress("ada@example.org"), from: ListSlug("news"), source: .cli, at: now)
        await #expect(throws: MembershipError.suppressed(address: "ada@example.org", list: "news", reason: .unsubscribed)) {
            _ = try await add("ada@example.org", confirmed: true, in: database)
        }
        #expect(try subscriptionRow("ada@example.org", in: database)?["status"] == "unsubscribed")
    }

    @Test("a subscription that was left is not reactivated by add, even after its suppression is lifted")
    func leftSubscriptionIsNotReactivated() async throws {
        let (database, _, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: now)
        _ = try await database.store.unsuppress(ada, list: ListSlug("news"), includingForgotten: false, source: .cli, at: now)
        let error = await #expect(throws: MembershipError.self) {
            _ = try await add("ada@example.org", confirmed: true, in: database)
        }
        #expect(error == .cannotReactivate(address: "ada@example.org", list: "news", status: .unsubscribed))
        #expect(error?.description.contains("only the person's own double opt-in") == true)
        #expect(try subscriptionRow("ada@example.org", in: database)?["status"] == "unsubscribed")
    }

    @Test("bounced and complained subscriptions are not reactivated by add", arguments: ["bounced", "complained"])
    func bouncedIsNotReactivated(_ status: String) async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        try await database.store.pool.write { db in
            try db.execute(sql: "UPDATE subscriptions SET status = ?", arguments: [status])
        }
        await #expect(throws: MembershipError.cannotReactivate(
            address: "ada@example.org", list: "news", status: SubscriptionStatus(rawValue: status)!)) {
            _ = try await add("ada@example.org", confirmed: true, in: database)
        }
        #expect(try subscriptionRow("ada@example.org", in: database)?["status"] == status)
    }

    @Test("add to an unknown list fails closed and stores nothing")
    func addToUnknownList() async throws {
        let (database, _, _) = try await prepared()
        await #expect(throws: DomainError.listNotFound("nope")) {
            _ = try await add("ada@example.org", to: "nope", confirmed: true, in: database)
        }
        #expect(try await count("SELECT count(*) FROM addresses", in: database) == 0)
    }

    @Test("a name with a line break is refused before anything is stored")
    func badName() throws {
        #expect(throws: DomainError.self) {
            try NewSubscriber(address: EmailAddress("a@example.org"), list: ListSlug("news"), name: "A\nBcc: x", confirmed: true)
        }
    }

    // MARK: remove

    @Test("remove unsubscribes, suppresses for that list and records both events with route admin")
    func removeUnsubscribesAndSuppresses() async throws {
        let (database, news, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        let before = try events(in: database).count
        let previous = try await database.store.removeSubscriber(
            try EmailAddress("ADA@example.org"), from: ListSlug("news"), source: .cli, at: now)
        #expect(previous == .active)
        let row = try #require(try subscriptionRow("ada@example.org", in: database))
        #expect(row["status"] == "unsubscribed")
        #expect(row["unsubscribed_at"] == Timestamp.string(now))
        let hash = try await hash("ada@example.org", in: database)
        #expect(try await count(
            "SELECT count(*) FROM suppressions WHERE list_id = ? AND address_hash = ? AND reason = 'unsubscribed'",
            [news.id, hash], in: database) == 1)
        let added = try events(in: database).dropFirst(before)
        #expect(added.map { $0["type"] as String } == ["unsubscribed", "suppressed"])
        #expect(added.first?["detail"] == #"{"route":"admin"}"#)
        #expect(added.allSatisfy { $0["address_hash"] == hash && $0["list_id"] == news.id })
    }

    @Test("remove of an address not on the list is an error and changes nothing")
    func removeNotOnList() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", to: "events", confirmed: true, in: database)
        let before = try events(in: database).count
        await #expect(throws: MembershipError.notOnList(address: "ada@example.org", list: "news", status: nil)) {
            _ = try await database.store.removeSubscriber(try EmailAddress("ada@example.org"), from: ListSlug("news"), source: .cli, at: now)
        }
        #expect(try events(in: database).count == before)
        #expect(try await count("SELECT count(*) FROM suppressions", in: database) == 0)
    }

    @Test("remove of an already unsubscribed address is an error and adds nothing")
    func removeTwice() async throws {
        let (database, _, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: now)
        let before = try events(in: database).count
        await #expect(throws: MembershipError.notOnList(address: "ada@example.org", list: "news", status: .unsubscribed)) {
            _ = try await database.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: now)
        }
        #expect(try events(in: database).count == before)
    }

    // MARK: find

    @Test("find matches by identity key: any case before the @, the domain in Unicode or xn-- form")
    func findByIdentityKey() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("Ada@例え.jp", to: "news", name: "エイダ", confirmed: true, in: database)
        _ = try await add("ada@例え.jp", to: "events", confirmed: false, in: database)
        _ = try await add("someone.else@例え.jp", confirmed: true, in: database)
        let ascii = try EmailAddress("x@例え.jp").asciiDomain
        #expect(ascii.hasPrefix("xn--"))
        let found = try await database.store.subscriptions(of: EmailAddress("ADA@\(ascii.uppercased())"))
        #expect(found.map(\.listSlug) == ["events", "news"])
        #expect(found.map(\.status) == [.pending, .active])
        #expect(found.allSatisfy { $0.email == "Ada@例え.jp" })
        #expect(found.map(\.name) == [nil, "エイダ"])
    }

    @Test("find of an unknown address is empty")
    func findUnknown() async throws {
        let (database, _, _) = try await prepared()
        #expect(try await database.store.subscriptions(of: EmailAddress("nobody@example.org")).isEmpty)
    }

    // MARK: forget

    /// Ada on two lists, a pending form submission, a queued mail and a snapshot entry.
    func storeEverything(_ email: String, in database: MigratedDatabase, news: MailingList, events: MailingList) async throws {
        let address = try EmailAddress(email)
        _ = try await add(email, to: "news", name: "Ada Lovelace", confirmed: true, in: database)
        _ = try await add(email, to: "events", confirmed: false, in: database)
        let outcome = try await database.store.recordSubscribeRequest(
            NewSubmission(
                publicID: TokenSigner.newID(), list: events, address: address, name: "Ada Lovelace",
                origin: RequestOrigin(route: "form:/lists/events/subscribe", clientIP: "192.0.2.7", userAgent: "test"),
                consentVersion: "v1", requestedAt: now, expiresAt: now.addingTimeInterval(3600)),
            mail: NewOutboxMessage(
                messageID: "<c1@listgate.test>", listID: events.id, kind: .confirmation, recipient: address,
                raw: Array("To: \(email)\r\nSubject: confirm\r\n\r\nConfirm \(email)\r\n".utf8)),
            policy: IntakePolicy())
        #expect(outcome == .mailed)
        _ = try await database.store.enqueue(NewOutboxMessage(
            messageID: "<r1@listgate.test>", listID: news.id, kind: .receipt, recipient: address,
            raw: Array("To: \(email)\r\n\r\nbye \(email)\r\n".utf8)))
        try await database.store.pool.write { db in
            try db.execute(sql: """
                INSERT INTO snapshots (public_id, list_id, count, sha256, created_at)
                VALUES ('snapshot-0000000001', ?, 1, ?, '2026-01-01T00:00:00.000Z')
                """, arguments: [news.id, String(repeating: "0", count: 64)])
            try db.execute(sql: """
                INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, name, subscribed_at)
                VALUES (last_insert_rowid(), 1, ?, ?, 'Ada Lovelace', '2026-01-01T00:00:00.000Z')
                """, arguments: [address.identityKey, email])
        }
    }

    @Test("forget deletes the address from every table that holds it and reports the counts")
    func forgetErasesEveryTable() async throws {
        let (database, news, events) = try await prepared()
        try await storeEverything("Ada@Example.org", in: database, news: news, events: events)
        _ = try await add("bob@example.org", confirmed: true, in: database)
        let report = try await database.store.forget(try EmailAddress("ada@EXAMPLE.org"), source: .cli, at: now)
        #expect(report == ForgetReport(
            addresses: 1, subscriptions: 2, submissions: 1, outboxMessages: 2, snapshotEntries: 1,
            suppression: .forgotten, walTruncated: true))
        let hash = try await hash("ada@example.org", in: database)
        #expect(try await count("SELECT count(*) FROM addresses WHERE identity_key = 'ada@example.org'", in: database) == 0)
        #expect(try await count("SELECT count(*) FROM submissions WHERE address_hash = ?", [hash], in: database) == 0)
        #expect(try await count("SELECT count(*) FROM outbox WHERE address_hash = ?", [hash], in: database) == 0)
        #expect(try await count("SELECT count(*) FROM snapshot_members", in: database) == 0)
        // Only Ada is gone.
        #expect(try await count("SELECT count(*) FROM subscriptions", in: database) == 1)
    }

    @Test("forget keeps a global hashed suppression (forgotten) and records a forgotten event")
    func forgetKeepsHashedSuppression() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: now)
        let hash = try await hash("ada@example.org", in: database)
        let suppression = try #require(try await database.store.suppressions().first { $0.listSlug == nil })
        #expect(suppression == SuppressionRecord(
            email: nil, addressHash: hash, listSlug: nil, reason: .forgotten, createdAt: now))
        let last = try #require(try events(in: database).last)
        #expect(last["type"] == "forgotten")
        #expect(last["address_hash"] == hash)
    }

    @Test("after forget, add of the same person in any spelling is refused")
    func forgetThenAddIsRefused() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: now)
        await #expect(throws: MembershipError.suppressed(address: "ADA@Example.ORG", list: nil, reason: .forgotten)) {
            _ = try await add("ADA@Example.ORG", to: "events", confirmed: true, in: database)
        }
        #expect(try await count("SELECT count(*) FROM addresses", in: database) == 0)
    }

    @Test("after forget, the person's own double opt-in puts them in the next snapshot; an admin suppression still keeps them out")
    func forgottenThenOptedIn() async throws {
        let (database, news, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.forget(ada, source: .cli, at: now)
        // Her own new request and confirmation, as the form and the link make them.
        let submission = NewSubmission(
            publicID: TokenSigner.newID(), list: news, address: ada, name: nil,
            origin: RequestOrigin(route: "form:/lists/news/subscribe"), consentVersion: "v1",
            requestedAt: now, expiresAt: now.addingTimeInterval(3600))
        let mail = NewOutboxMessage(
            messageID: "<c2@listgate.test>", listID: news.id, kind: .confirmation, recipient: ada,
            raw: Array("To: ada@example.org\r\n\r\nconfirm\r\n".utf8))
        #expect(try await database.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()) == .mailed)
        _ = try await database.store.confirmSubmission(
            publicID: submission.publicID, at: now.addingTimeInterval(60), origin: RequestOrigin(route: "confirm"))
        #expect(try subscriptionRow("ada@example.org", in: database)?["status"] == "active")
        #expect(try await database.store.takeSnapshot(listID: news.id, tokenID: nil, source: .cli).count == 1)
        // The feed names only the erased subscription (by recipient id, without an address):
        // the person who came back is not a leaver.
        let departures = try await database.store.departures(
            listID: news.id, since: Timestamp.string(now.addingTimeInterval(-30)), after: nil, limit: 10)
        #expect(departures.map(\.reason) == ["erased"])
        #expect(departures.allSatisfy { $0.email == nil })

        _ = try await database.store.suppress(ada, list: nil, source: .cli, at: now.addingTimeInterval(120))
        #expect(try await database.store.takeSnapshot(listID: news.id, tokenID: nil, source: .cli).count == 0)
    }

    @Test("forget counts the person as erased in every snapshot that held them, once per spelling, and keeps count and sha256")
    func forgetCountsErasuresInSnapshots() async throws {
        let (database, news, events) = try await prepared()
        for email in ["ada@example.org", "ada+news@example.org", "bob@example.org"] {
            _ = try await add(email, confirmed: true, in: database)
        }
        _ = try await add("bob@example.org", to: "events", confirmed: true, in: database)
        let withoutAda = try await database.store.takeSnapshot(listID: events.id, tokenID: nil, source: .cli)
        _ = try await add("ada@example.org", to: "events", confirmed: true, in: database)
        let withAda = try await database.store.takeSnapshot(listID: events.id, tokenID: nil, source: .cli)
        let frozen = try await database.store.takeSnapshot(listID: news.id, tokenID: nil, source: .cli)

        _ = try await database.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: now)

        let after = try #require(try await database.store.snapshot(id: frozen.id))
        #expect(after.count == 3)
        #expect(after.sha256 == frozen.sha256)
        #expect(after.erased == 2, "ada@ and ada+news@ were both members")
        let remaining = try await count(
            "SELECT count(*) FROM snapshot_members WHERE snapshot_id = (SELECT id FROM snapshots WHERE public_id = ?)",
            [frozen.id], in: database)
        #expect(remaining == after.count - after.erased)
        #expect(try await database.store.snapshot(id: withAda.id)?.erased == 1)
        #expect(try await database.store.snapshot(id: withoutAda.id)?.erased == 0)
    }

    @Test("forget also erases the spellings an older listgate let in: quoted, escaped, commented, tagged")
    func forgetErasesLegacySpellings() async throws {
        let (database, news, _) = try await prepared()
        _ = try await add("victim@example.com", confirmed: true, in: database)
        // Rows as listgate 0.x stored them, before the grammar refused quotes and comments.
        let legacy = [#""victim"@example.com"#, #""v\ictim"@example.com"#, "victim(old)@example.com", #""victim+x"@example.com"#]
        try await database.store.pool.write { db in
            let key = try AddressHasher.key(in: db)
            for (index, spelling) in legacy.enumerated() {
                try db.execute(sql: """
                    INSERT INTO addresses (email, identity_key, address_hash, created_at) VALUES (?, ?, ?, '2026-01-01T00:00:00.000Z')
                    """, arguments: [spelling, spelling, AddressHasher.hash(identityKey: spelling, key: key)])
                try db.execute(sql: """
                    INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at)
                    VALUES (?, ?, 'active', 'import', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-0\(index + 1)T00:00:00.000Z')
                    """, arguments: [news.id, db.lastInsertedRowID])
            }
            // Someone else, whose key only looks alike.
            try db.execute(sql: """
                INSERT INTO addresses (email, identity_key, address_hash, created_at)
                VALUES ('"victimized"@example.com', '"victimized"@example.com', ?, '2026-01-01T00:00:00.000Z')
                """, arguments: [AddressHasher.hash(identityKey: "\"victimized\"@example.com", key: key)])
        }
        let report = try await database.store.forget(try EmailAddress("victim@example.com"), source: .cli, at: now)
        #expect(report.addresses == 5)
        let left = try await database.store.pool.read { db in try String.fetchAll(db, sql: "SELECT email FROM addresses") }
        #expect(left == [#""victimized"@example.com"#])
        let forgotten = try await database.store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE type = 'forgotten'") ?? 0
        }
        #expect(forgotten == 5, "one event per spelling erased")
    }

    @Test("a \"not me\" block from a +tag's mail stops mail to every tag of that mailbox")
    func blockCoversTheMailbox() async throws {
        let (database, news, _) = try await prepared()
        func request(_ email: String, at date: Date) async throws -> (SubscribeOutcome, String) {
            let address = try EmailAddress(email)
            let submission = NewSubmission(
                publicID: TokenSigner.newID(), list: news, address: address, name: nil,
                origin: RequestOrigin(route: "form:/lists/news/subscribe"), consentVersion: "v1",
                requestedAt: date, expiresAt: date.addingTimeInterval(3600))
            let mail = NewOutboxMessage(
                messageID: "<\(submission.publicID)@listgate.test>", listID: news.id, kind: .confirmation, recipient: address,
                raw: Array("To: \(email)\r\n\r\nconfirm\r\n".utf8))
            return (try await database.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy()), submission.publicID)
        }
        let (first, publicID) = try await request("victim+1@example.com", at: now)
        #expect(first == .mailed)
        _ = try await database.store.blockSubmission(publicID: publicID, at: now, origin: RequestOrigin(route: "block"))
        // An hour later, past the cooldown: still nothing, under any tag or none.
        for spelling in ["victim+2@example.com", "victim@example.com", "victim+1@example.com"] {
            #expect(try await request(spelling, at: now.addingTimeInterval(3600)).0 == .suppressed, "\(spelling)")
        }
    }

    @Test("forget of an unknown address stores nothing but still adds the suppression")
    func forgetUnknownAddress() async throws {
        let (database, _, _) = try await prepared()
        let report = try await database.store.forget(try EmailAddress("ghost@example.org"), source: .cli, at: now)
        #expect(!report.erasedAnything)
        #expect(report.suppression == .forgotten)
        #expect(try await database.store.suppressions().map(\.reason) == [.forgotten])
        #expect(try await count("SELECT count(*) FROM addresses", in: database) == 0)
    }

    @Test("forget keeps a stronger global suppression that was already there")
    func forgetKeepsAdminSuppression() async throws {
        let (database, _, _) = try await prepared()
        _ = try await database.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: now)
        let report = try await database.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: now)
        #expect(report.suppression == .admin)
        #expect(try await database.store.suppressions().map(\.reason) == [.admin])
    }

    @Test("forget empties the write-ahead log")
    func forgetTruncatesWAL() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", confirmed: true, in: database)
        let wal = database.path + "-wal"
        #expect(try Self.fileSize(wal) > 0)
        _ = try await database.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: now)
        #expect(try Self.fileSize(wal) == 0)
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }

    // MARK: suppressions

    @Test("a global suppression ends the pending and active subscriptions on every list, route admin")
    func globalSuppressionEndsEverySubscription() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", to: "news", confirmed: true, in: database)
        _ = try await add("ada@example.org", to: "events", confirmed: false, in: database)
        let result = try await database.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: now)
        #expect(result == SuppressResult(outcome: .added, unsubscribedFrom: ["events", "news"]))
        #expect(try subscriptionRow("ada@example.org", list: "news", in: database)?["status"] == "unsubscribed")
        #expect(try subscriptionRow("ada@example.org", list: "events", in: database)?["status"] == "unsubscribed")
        let routes = try events(in: database).filter { $0["type"] == "unsubscribed" }.map { $0["detail"] as String }
        #expect(routes == [#"{"route":"admin"}"#, #"{"route":"admin"}"#])
    }

    @Test("a per-list suppression ends only that list's subscription")
    func listSuppressionEndsOneSubscription() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("ada@example.org", to: "news", confirmed: true, in: database)
        _ = try await add("ada@example.org", to: "events", confirmed: true, in: database)
        let result = try await database.store.suppress(
            try EmailAddress("ada@example.org"), list: ListSlug("news"), source: .cli, at: now)
        #expect(result.unsubscribedFrom == ["news"])
        #expect(try subscriptionRow("ada@example.org", list: "events", in: database)?["status"] == "active")
    }

    @Test("suppressing an address that unsubscribed makes its suppression stop every mail (admin)")
    func suppressStrengthensUnsubscribed() async throws {
        let (database, news, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await add("ada@example.org", confirmed: true, in: database)
        _ = try await database.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: now)
        let result = try await database.store.suppress(ada, list: ListSlug("news"), source: .cli, at: now)
        #expect(result.outcome == .strengthened(from: .unsubscribed))
        let hash = try await hash("ada@example.org", in: database)
        let stops = try await database.store.pool.read { db in try SQLiteStore.isSuppressed([hash], listID: news.id, in: db) }
        #expect(stops)
    }

    @Test("suppressing discards the mail still queued for that address in that scope, and only that mail")
    func suppressDiscardsQueuedMail() async throws {
        let (database, news, eventsList) = try await prepared()
        func queue(_ email: String, on list: MailingList) async throws -> Int64 {
            try await database.store.enqueue(NewOutboxMessage(
                messageID: "<\(TokenSigner.newID())@listgate.test>", listID: list.id, kind: .confirmation,
                recipient: try EmailAddress(email), raw: Array("To: \(email)\r\n\r\nconfirm\r\n".utf8)))
        }
        let adaNews = try await queue("ada@example.org", on: news)
        let adaEvents = try await queue("Ada@Example.org", on: eventsList)
        let bob = try await queue("bob@example.org", on: news)
        func status(_ id: Int64) async throws -> String? {
            try await database.store.pool.read { db in try String.fetchOne(db, sql: "SELECT status FROM outbox WHERE id = ?", arguments: [id]) }
        }

        let onNews = try await database.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("news"), source: .cli, at: now)
        #expect(onNews.discardedMessages == 1)
        #expect(try await status(adaNews) == "discarded")
        #expect(try await status(adaEvents) == "queued")

        let everywhere = try await database.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: now)
        #expect(everywhere.discardedMessages == 1)
        #expect(try await status(adaEvents) == "discarded")
        #expect(try await status(bob) == "queued")
        let discardedEvents = try events(in: database).filter { $0["type"] == "message_discarded" }
        #expect(discardedEvents.count == 2)
    }

    @Test("suppressing twice changes nothing the second time")
    func suppressTwice() async throws {
        let (database, _, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await database.store.suppress(ada, list: nil, source: .cli, at: now)
        let before = try events(in: database).count
        let again = try await database.store.suppress(ada, list: nil, source: .cli, at: now)
        #expect(again == SuppressResult(outcome: .alreadySuppressed(.admin), unsubscribedFrom: []))
        #expect(try events(in: database).count == before)
    }

    @Test("unsuppress removes exactly the named scope and records unsuppressed with the reason")
    func unsuppressExactScope() async throws {
        let (database, news, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await database.store.suppress(ada, list: nil, source: .cli, at: now)
        _ = try await database.store.suppress(ada, list: ListSlug("news"), source: .cli, at: now)
        let reason = try await database.store.unsuppress(ada, list: ListSlug("news"), includingForgotten: false, source: .cli, at: now)
        #expect(reason == .admin)
        #expect(try await database.store.suppressions().map(\.listSlug) == [nil])
        let last = try #require(try events(in: database).last)
        #expect(last["type"] == "unsuppressed")
        #expect(last["list_id"] == news.id)
        #expect(last["detail"] == #"{"reason":"admin"}"#)
    }

    @Test("unsuppress of an address that is not suppressed is an error")
    func unsuppressMissing() async throws {
        let (database, _, _) = try await prepared()
        await #expect(throws: MembershipError.notSuppressed(address: "ada@example.org", list: nil)) {
            _ = try await database.store.unsuppress(
                try EmailAddress("ada@example.org"), list: nil, includingForgotten: false, source: .cli, at: now)
        }
    }

    @Test("the suppression left by forget is removed only when asked for explicitly")
    func forgottenSuppressionNeedsFlag() async throws {
        let (database, _, _) = try await prepared()
        let ada = try EmailAddress("ada@example.org")
        _ = try await database.store.forget(ada, source: .cli, at: now)
        await #expect(throws: MembershipError.forgottenNeedsConfirmation(address: "ada@example.org", list: nil)) {
            _ = try await database.store.unsuppress(ada, list: nil, includingForgotten: false, source: .cli, at: now)
        }
        #expect(try await database.store.suppressions().count == 1)
        #expect(try await database.store.unsuppress(ada, list: nil, includingForgotten: true, source: .cli, at: now) == .forgotten)
        #expect(try await database.store.suppressions().isEmpty)
    }

    @Test("suppressions name the address while it is stored, and the list (nil for every list)")
    func suppressionsList() async throws {
        let (database, _, _) = try await prepared()
        _ = try await add("Ada@Example.org", confirmed: false, in: database)
        _ = try await database.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("events"), source: .cli, at: now)
        _ = try await database.store.suppress(try EmailAddress("nobody@example.org"), list: nil, source: .cli, at: now)
        let records = try await database.store.suppressions()
        #expect(records.map(\.email) == ["Ada@Example.org", nil])
        #expect(records.map(\.listSlug) == ["events", nil])
        #expect(records.allSatisfy { $0.reason == .admin && $0.addressHash.count == 64 })
    }

    @Test("suppressing on an unknown list fails closed and stores nothing")
    func suppressUnknownList() async throws {
        let (database, _, _) = try await prepared()
        await #expect(throws: DomainError.listNotFound("nope")) {
            _ = try await database.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("nope"), source: .cli, at: now)
        }
        #expect(try await database.store.suppressions().isEmpty)
    }
}
