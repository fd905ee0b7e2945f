// Specification of admin membership storage, on every store (`subscribers …`,
// `suppressions …`): admins never cause mail, never bring back anyone who left or is
// suppressed, and `forget` erases every personal field while a hashed suppression keeps
// the person out.
import Foundation
@testable import ListgateCore
import Testing

@Suite("Membership, on every store")
struct MembershipConformanceTests {
    // MARK: add

    @Test("add without --confirmed stores a pending subscription and queues no mail", arguments: StoreKind.underTest)
    func addPendingQueuesNoMail(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        #expect(try await people.add("ada@example.org", name: "Ada", confirmed: false) == .added(.pending))
        #expect(try await people.opened.rows("""
            SELECT s.status, s.source, s.name, s.subscribed_at FROM subscriptions s
            """) == [["pending", "admin", "Ada", nil]])
        #expect(try await people.opened.count("outbox") == 0)
    }

    @Test("add --confirmed makes the subscription active now, source admin, with a subscriber_added event",
          arguments: StoreKind.underTest)
    func addConfirmedIsActive(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        #expect(try await people.add("ada@example.org", confirmed: true) == .added(.active))
        #expect(try await people.subscription("ada@example.org") == "active")
        #expect(try await people.subscription("ada@example.org", "source") == "admin")
        #expect(try await people.subscription("ada@example.org", "subscribed_at") == Timestamp.string(people.now))
        let last = try #require(try await people.ledger().last)
        #expect(last == People.Event(
            type: "subscriber_added", listID: people.news.id, addressHash: try await people.hash("ada@example.org"),
            source: "cli", detail: #"{"status":"active"}"#))
    }

    @Test("a pending subscription becomes active with --confirmed", arguments: StoreKind.underTest)
    func pendingThenConfirmed(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: false)
        #expect(try await people.add("ADA@example.org", confirmed: true) == .activated)
        #expect(try await people.subscription("ada@example.org") == "active")
    }

    @Test("adding an active subscriber again changes nothing and records nothing", arguments: StoreKind.underTest)
    func alreadyActiveIsUnchanged(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        let eventsBefore = try await people.opened.count("events")
        #expect(try await people.add("ada@example.org", confirmed: true) == .unchanged(.active))
        #expect(try await people.add("ada@example.org", confirmed: false) == .unchanged(.active))
        #expect(try await people.opened.count("events") == eventsBefore)
    }

    @Test("a per-list suppression beats add --confirmed, and nothing is stored", arguments: StoreKind.underTest)
    func listSuppressionBeatsConfirmedAdd(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        _ = try await people.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("news"), source: .cli, at: people.now)
        let eventsBefore = try await people.opened.count("events")
        await #expect(throws: MembershipError.suppressed(address: "ada@example.org", list: "news", reason: .admin)) {
            try await people.add("ada@example.org", confirmed: true)
        }
        #expect(try await people.opened.count("subscriptions") == 0)
        #expect(try await people.opened.count("addresses") == 0)
        #expect(try await people.opened.count("events") == eventsBefore)
    }

    @Test("a global suppression beats add on every list", arguments: StoreKind.underTest)
    func globalSuppressionBeatsAdd(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        _ = try await people.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: people.now)
        for list in ["news", "events"] {
            await #expect(throws: MembershipError.suppressed(address: "Ada@Example.org", list: nil, reason: .admin)) {
                try await people.add("Ada@Example.org", to: list, confirmed: false)
            }
        }
        #expect(try await people.opened.count("subscriptions") == 0)
    }

    @Test("a suppression of the mailbox beats add of a +tag spelling", arguments: StoreKind.underTest)
    func mailboxSuppressionBeatsTaggedAdd(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        _ = try await people.store.forget(try EmailAddress("ada+old@example.org"), source: .cli, at: people.now)
        await #expect(throws: MembershipError.suppressed(address: "ada+new@example.org", list: nil, reason: .forgotten)) {
            try await people.add("ada+new@example.org", confirmed: true)
        }
    }

    @Test("a suppression that only keeps admins out (unsubscribed) also beats add", arguments: StoreKind.underTest)
    func unsubscribedSuppressionBeatsAdd(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.removeSubscriber(try EmailAddress("ada@example.org"), from: ListSlug("news"), source: .cli, at: people.now)
        await #expect(throws: MembershipError.suppressed(address: "ada@example.org", list: "news", reason: .unsubscribed)) {
            try await people.add("ada@example.org", confirmed: true)
        }
        #expect(try await people.subscription("ada@example.org") == "unsubscribed")
    }

    @Test("a subscription that was left is not reactivated by add, even after its suppression is lifted",
          arguments: StoreKind.underTest)
    func leftSubscriptionIsNotReactivated(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let ada = try EmailAddress("ada@example.org")
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: people.now)
        _ = try await people.store.unsuppress(ada, list: ListSlug("news"), includingForgotten: false, source: .cli, at: people.now)
        let error = await #expect(throws: MembershipError.self) {
            try await people.add("ada@example.org", confirmed: true)
        }
        #expect(error == .cannotReactivate(address: "ada@example.org", list: "news", status: .unsubscribed))
        #expect(error?.description.contains("only the person's own double opt-in") == true)
        #expect(try await people.subscription("ada@example.org") == "unsubscribed")
    }

    @Test("bounced and complained subscriptions are not reactivated by add",
          arguments: StoreKind.underTest, ["bounced", "complained"])
    func bouncedIsNotReactivated(_ kind: StoreKind, _ status: String) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        try await people.opened.execute("UPDATE subscriptions SET status = '\(status)'")
        await #expect(throws: MembershipError.cannotReactivate(
            address: "ada@example.org", list: "news", status: SubscriptionStatus(rawValue: status)!)) {
            try await people.add("ada@example.org", confirmed: true)
        }
        #expect(try await people.subscription("ada@example.org") == status)
    }

    @Test("add to an unknown list fails closed, and to an archived list is refused; nothing is stored",
          arguments: StoreKind.underTest)
    func addToUnknownOrArchivedList(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        await #expect(throws: DomainError.listNotFound("nope")) {
            try await people.add("ada@example.org", to: "nope", confirmed: true)
        }
        _ = try await people.store.archiveList(ListSlug("events"), source: .cli)
        await #expect(throws: DomainError.listArchived("events")) {
            try await people.add("ada@example.org", to: "events", confirmed: true)
        }
        #expect(try await people.opened.count("addresses") == 0)
    }

    // MARK: remove

    @Test("remove unsubscribes, suppresses for that list and records both events with route admin",
          arguments: StoreKind.underTest)
    func removeUnsubscribesAndSuppresses(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        let before = try await people.opened.count("events")
        let previous = try await people.store.removeSubscriber(
            try EmailAddress("ADA@example.org"), from: ListSlug("news"), source: .cli, at: people.now)
        #expect(previous == .active)
        #expect(try await people.subscription("ada@example.org") == "unsubscribed")
        #expect(try await people.subscription("ada@example.org", "unsubscribed_at") == Timestamp.string(people.now))
        let hash = try await people.hash("ada@example.org")
        #expect(try await people.opened.count(
            "suppressions", where: "list_id = \(people.news.id) AND address_hash = '\(hash)' AND reason = 'unsubscribed'") == 1)
        let added = try await people.ledger().dropFirst(before)
        #expect(added.map(\.type) == ["unsubscribed", "suppressed"])
        #expect(added.first?.detail == #"{"route":"admin"}"#)
        #expect(added.allSatisfy { $0.addressHash == hash && $0.listID == people.news.id })
    }

    @Test("remove of an address not on the list is an error and changes nothing", arguments: StoreKind.underTest)
    func removeNotOnList(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", to: "events", confirmed: true)
        let before = try await people.opened.count("events")
        await #expect(throws: MembershipError.notOnList(address: "ada@example.org", list: "news", status: nil)) {
            _ = try await people.store.removeSubscriber(
                try EmailAddress("ada@example.org"), from: ListSlug("news"), source: .cli, at: people.now)
        }
        #expect(try await people.opened.count("events") == before)
        #expect(try await people.opened.count("suppressions") == 0)
    }

    @Test("remove of an already unsubscribed address is an error and adds nothing", arguments: StoreKind.underTest)
    func removeTwice(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let ada = try EmailAddress("ada@example.org")
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: people.now)
        let before = try await people.opened.count("events")
        await #expect(throws: MembershipError.notOnList(address: "ada@example.org", list: "news", status: .unsubscribed)) {
            _ = try await people.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: people.now)
        }
        #expect(try await people.opened.count("events") == before)
    }

    // MARK: find

    @Test("find matches by identity key: any case before the @, the domain in Unicode or xn-- form",
          arguments: StoreKind.underTest)
    func findByIdentityKey(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("Ada@例え.jp", to: "news", name: "エイダ", confirmed: true)
        try await people.add("ada@例え.jp", to: "events", confirmed: false)
        try await people.add("someone.else@例え.jp", confirmed: true)
        let ascii = try EmailAddress("x@例え.jp").asciiDomain
        #expect(ascii.hasPrefix("xn--"))
        let found = try await people.store.subscriptions(of: EmailAddress("ADA@\(ascii.uppercased())"))
        #expect(found.map(\.listSlug) == ["events", "news"])
        #expect(found.map(\.status) == [.pending, .active])
        #expect(found.allSatisfy { $0.email == "Ada@例え.jp" })
        #expect(found.map(\.name) == [nil, "エイダ"])
        #expect(found.allSatisfy { $0.updatedAt == people.now })
    }

    @Test("find of an unknown address is empty", arguments: StoreKind.underTest)
    func findUnknown(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        #expect(try await people.store.subscriptions(of: EmailAddress("nobody@example.org")).isEmpty)
    }

    // MARK: forget

    /// Ada on two lists, a pending form submission, two queued mails and a snapshot entry.
    func storeEverything(_ email: String, in people: People) async throws {
        let address = try EmailAddress(email)
        try await people.add(email, to: "news", name: "Ada Lovelace", confirmed: true)
        try await people.add(email, to: "events", confirmed: false)
        #expect(try await people.subscribe(email, on: people.events).outcome == .mailed)
        // The unsubscribe-by-address form's mail: the second message to her.
        #expect(try await people.store.requestUnsubscribeLink(
            list: people.news, address: address, at: people.now, policy: IntakePolicy(), formRequestID: nil,
            mail: { _, _ in
                NewOutboxMessage(
                    messageID: "<u1@listgate.test>", listID: people.news.id, kind: .unsubscribeLink, recipient: address,
                    raw: Array("To: \(email)\r\n\r\nleave \(email)\r\n".utf8))
            }))
        try await people.opened.execute("""
            INSERT INTO snapshots (public_id, list_id, count, sha256, created_at)
            VALUES ('snapshot-0000000001', \(people.news.id), 1, '\(String(repeating: "0", count: 64))', '2026-01-01T00:00:00.000Z')
            """)
        try await people.opened.execute("""
            INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, name, subscribed_at)
            VALUES ((SELECT id FROM snapshots WHERE public_id = 'snapshot-0000000001'), 1, '\(address.identityKey)', '\(email)',
                    'Ada Lovelace', '2026-01-01T00:00:00.000Z')
            """)
    }

    @Test("forget deletes the address from every table that holds it and reports the counts", arguments: StoreKind.underTest)
    func forgetErasesEveryTable(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await storeEverything("Ada@Example.org", in: people)
        try await people.add("bob@example.org", confirmed: true)
        let report = try await people.store.forget(try EmailAddress("ada@EXAMPLE.org"), source: .cli, at: people.now)
        #expect(report.addresses == 1)
        #expect(report.subscriptions == 2)
        #expect(report.submissions == 1)
        #expect(report.outboxMessages == 2)
        #expect(report.snapshotEntries == 1)
        #expect(report.suppression == .forgotten)
        let hash = try await people.hash("ada@example.org")
        #expect(try await people.opened.count("addresses", where: "identity_key = 'ada@example.org'") == 0)
        #expect(try await people.opened.count("submissions", where: "address_hash = '\(hash)'") == 0)
        #expect(try await people.opened.count("outbox", where: "address_hash = '\(hash)'") == 0)
        #expect(try await people.opened.count("snapshot_members") == 0)
        #expect(try await people.opened.value("SELECT erased FROM snapshots") == "1")
        // The sender learns which recipient ids to drop, without the address.
        #expect(try await people.opened.count("erasures") == 2)
        // Only Ada is gone.
        #expect(try await people.opened.count("subscriptions") == 1)
    }

    @Test("forget keeps a global hashed suppression (forgotten) and records a forgotten event", arguments: StoreKind.underTest)
    func forgetKeepsHashedSuppression(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: people.now)
        let hash = try await people.hash("ada@example.org")
        let suppression = try #require(try await people.store.suppressions().first { $0.listSlug == nil })
        #expect(suppression == SuppressionRecord(
            email: nil, addressHash: hash, listSlug: nil, reason: .forgotten, createdAt: people.now))
        let last = try #require(try await people.ledger().last)
        #expect(last.type == "forgotten")
        #expect(last.addressHash == hash)
        #expect(last.detail
            == #"{"addresses":"1","outbox":"0","snapshot_members":"0","submissions":"0","subscriptions":"1"}"#)
    }

    @Test("forget of a +tag spelling also suppresses its mailbox everywhere", arguments: StoreKind.underTest)
    func forgetSuppressesTheMailbox(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        _ = try await people.store.forget(try EmailAddress("ada+news@example.org"), source: .cli, at: people.now)
        let records = try await people.store.suppressions()
        #expect(Set(records.map(\.addressHash))
            == [try await people.hash("ada+news@example.org"), try await people.hash("ada@example.org")])
        #expect(records.allSatisfy { $0.listSlug == nil && $0.reason == .forgotten })
    }

    @Test("after forget, add of the same person in any spelling is refused", arguments: StoreKind.underTest)
    func forgetThenAddIsRefused(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: people.now)
        await #expect(throws: MembershipError.suppressed(address: "ADA@Example.ORG", list: nil, reason: .forgotten)) {
            try await people.add("ADA@Example.ORG", to: "events", confirmed: true)
        }
        #expect(try await people.opened.count("addresses") == 0)
    }

    @Test("after forget, the person's own double opt-in makes them active again", arguments: StoreKind.underTest)
    func forgottenThenOptedIn(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: people.now)
        let (outcome, publicID) = try await people.subscribe("ada@example.org")
        #expect(outcome == .mailed)
        _ = try await people.store.confirmSubmission(
            publicID: publicID, at: people.now.addingTimeInterval(60), origin: RequestOrigin(route: "confirm"))
        #expect(try await people.subscription("ada@example.org") == "active")
    }

    @Test("forget counts the person as erased in every snapshot that held them, once per spelling, and keeps count and sha256",
          arguments: StoreKind.underTest)
    func forgetCountsErasuresInSnapshots(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        // Three snapshots as `snapshots take` leaves them: news with ada, ada+news and bob;
        // events with bob and ada; events with bob alone.
        let members = [("a", people.news.id, ["ada@example.org", "ada+news@example.org", "bob@example.org"]),
                       ("b", people.events.id, ["bob@example.org", "ada@example.org"]),
                       ("c", people.events.id, ["bob@example.org"])]
        for (name, listID, emails) in members {
            try await people.opened.execute("""
                INSERT INTO snapshots (public_id, list_id, count, sha256, created_at)
                VALUES ('snapshot-000000000\(name)', \(listID), \(emails.count), '\(String(repeating: "0", count: 64))',
                        '2026-01-01T00:00:00.000Z')
                """)
            for (index, email) in emails.enumerated() {
                try await people.opened.execute("""
                    INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, subscribed_at)
                    VALUES ((SELECT id FROM snapshots WHERE public_id = 'snapshot-000000000\(name)'), \(index + 1), '\(email)',
                            '\(email)', '2026-01-01T00:00:00.000Z')
                    """)
            }
        }
        _ = try await people.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: people.now)
        #expect(try await people.opened.rows("SELECT public_id, count, sha256, erased FROM snapshots ORDER BY id") == [
            ["snapshot-000000000a", "3", String(repeating: "0", count: 64), "2"],
            ["snapshot-000000000b", "2", String(repeating: "0", count: 64), "1"],
            ["snapshot-000000000c", "1", String(repeating: "0", count: 64), "0"],
        ])
        #expect(try await people.opened.rows("SELECT identity_key FROM snapshot_members ORDER BY snapshot_id")
            == [["bob@example.org"], ["bob@example.org"], ["bob@example.org"]])
    }

    @Test("forget also erases the spellings an older listgate let in: quoted, escaped, commented, tagged",
          arguments: StoreKind.underTest)
    func forgetErasesLegacySpellings(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("victim@example.com", confirmed: true)
        let key = try #require(try await people.opened.value("SELECT value FROM settings WHERE key = 'address_hash_key'"))
        // Rows as listgate 0.x stored them, before the grammar refused quotes and comments.
        let legacy = [#""victim"@example.com"#, #""v\ictim"@example.com"#, "victim(old)@example.com", #""victim+x"@example.com"#,
                      #""victimized"@example.com"#]
        for (index, spelling) in legacy.enumerated() {
            let quoted = spelling.replacingOccurrences(of: "'", with: "''")
            try await people.opened.execute("""
                INSERT INTO addresses (email, identity_key, address_hash, created_at)
                VALUES ('\(quoted)', '\(quoted)', '\(AddressHasher.hash(identityKey: spelling, key: key))', '2026-01-01T00:00:00.000Z')
                """)
            // The last one is someone else, whose key only looks alike: not on the list.
            guard index < 4 else { continue }
            try await people.opened.execute("""
                INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at)
                VALUES (\(people.news.id), (SELECT id FROM addresses WHERE identity_key = '\(quoted)'), 'active', 'import',
                        '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-0\(index + 1)T00:00:00.000Z')
                """)
        }
        let report = try await people.store.forget(try EmailAddress("victim@example.com"), source: .cli, at: people.now)
        #expect(report.addresses == 5)
        #expect(try await people.opened.rows("SELECT email FROM addresses") == [[#""victimized"@example.com"#]])
        #expect(try await people.opened.count("events", where: "type = 'forgotten'") == 5, "one event per spelling erased")
    }

    @Test("forget of an unknown address stores nothing but still adds the suppression", arguments: StoreKind.underTest)
    func forgetUnknownAddress(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let report = try await people.store.forget(try EmailAddress("ghost@example.org"), source: .cli, at: people.now)
        #expect(!report.erasedAnything)
        #expect(report.suppression == .forgotten)
        #expect(try await people.store.suppressions().map(\.reason) == [.forgotten])
        #expect(try await people.opened.count("addresses") == 0)
    }

    @Test("forget keeps a stronger global suppression that was already there", arguments: StoreKind.underTest)
    func forgetKeepsAdminSuppression(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        _ = try await people.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: people.now)
        let report = try await people.store.forget(try EmailAddress("ada@example.org"), source: .cli, at: people.now)
        #expect(report.suppression == .admin)
        #expect(try await people.store.suppressions().map(\.reason) == [.admin])
    }

    // MARK: suppressions

    @Test("a global suppression ends the pending and active subscriptions on every list, route admin",
          arguments: StoreKind.underTest)
    func globalSuppressionEndsEverySubscription(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", to: "news", confirmed: true)
        try await people.add("ada@example.org", to: "events", confirmed: false)
        let result = try await people.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: people.now)
        #expect(result == SuppressResult(outcome: .added, unsubscribedFrom: ["events", "news"]))
        #expect(try await people.subscription("ada@example.org", list: "news") == "unsubscribed")
        #expect(try await people.subscription("ada@example.org", list: "events") == "unsubscribed")
        let routes = try await people.ledger().filter { $0.type == "unsubscribed" }.map(\.detail)
        #expect(routes == [#"{"route":"admin"}"#, #"{"route":"admin"}"#])
    }

    @Test("a per-list suppression ends only that list's subscription", arguments: StoreKind.underTest)
    func listSuppressionEndsOneSubscription(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", to: "news", confirmed: true)
        try await people.add("ada@example.org", to: "events", confirmed: true)
        let result = try await people.store.suppress(
            try EmailAddress("ada@example.org"), list: ListSlug("news"), source: .cli, at: people.now)
        #expect(result.unsubscribedFrom == ["news"])
        #expect(try await people.subscription("ada@example.org", list: "events") == "active")
    }

    @Test("suppressing an address that unsubscribed makes its suppression stop every mail (admin)",
          arguments: StoreKind.underTest)
    func suppressStrengthensUnsubscribed(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let ada = try EmailAddress("ada@example.org")
        try await people.add("ada@example.org", confirmed: true)
        _ = try await people.store.removeSubscriber(ada, from: ListSlug("news"), source: .cli, at: people.now)
        #expect(try await people.subscribe("ada@example.org").outcome == .mailed, "an unsubscribe does not stop the person's opt-in")
        let result = try await people.store.suppress(ada, list: ListSlug("news"), source: .cli, at: people.now)
        #expect(result.outcome == .strengthened(from: .unsubscribed))
        #expect(try await people.opened.rows("SELECT reason FROM suppressions") == [["admin"]])
        let last = try #require(try await people.ledger().last { $0.type == "suppressed" })
        #expect(last.detail == #"{"previous_reason":"unsubscribed","reason":"admin"}"#)
        #expect(try await people.subscribe("ada@example.org", at: people.now.addingTimeInterval(3600)).outcome == .suppressed)
    }

    @Test("suppressing discards the mail still queued for that address in that scope, and only that mail",
          arguments: StoreKind.underTest)
    func suppressDiscardsQueuedMail(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.subscribe("ada@example.org", on: people.news)
        try await people.subscribe("Ada@Example.org", on: people.events)
        try await people.subscribe("bob@example.org", on: people.news)
        func status(_ email: String, _ list: MailingList) async throws -> String? {
            try await people.opened.value(
                "SELECT status FROM outbox WHERE address_hash = '\(try await people.hash(email))' AND list_id = \(list.id)")
        }

        let onNews = try await people.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("news"), source: .cli, at: people.now)
        #expect(onNews.discardedMessages == 1)
        #expect(try await status("ada@example.org", people.news) == "discarded")
        #expect(try await status("ada@example.org", people.events) == "queued")

        let everywhere = try await people.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: people.now)
        #expect(everywhere.discardedMessages == 1)
        #expect(try await status("ada@example.org", people.events) == "discarded")
        #expect(try await status("bob@example.org", people.news) == "queued")
        let discarded = try await people.ledger().filter { $0.type == "message_discarded" }
        #expect(discarded.map(\.listID) == [people.news.id, people.events.id])
        #expect(discarded.allSatisfy { $0.detail.contains(#""reason":"suppressed""#) })
    }

    @Test("suppressing twice changes nothing the second time", arguments: StoreKind.underTest)
    func suppressTwice(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let ada = try EmailAddress("ada@example.org")
        _ = try await people.store.suppress(ada, list: nil, source: .cli, at: people.now)
        let before = try await people.opened.count("events")
        let again = try await people.store.suppress(ada, list: nil, source: .cli, at: people.now)
        #expect(again == SuppressResult(outcome: .alreadySuppressed(.admin), unsubscribedFrom: []))
        #expect(try await people.opened.count("events") == before)
    }

    @Test("unsuppress removes exactly the named scope and records unsuppressed with the reason", arguments: StoreKind.underTest)
    func unsuppressExactScope(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let ada = try EmailAddress("ada@example.org")
        _ = try await people.store.suppress(ada, list: nil, source: .cli, at: people.now)
        _ = try await people.store.suppress(ada, list: ListSlug("news"), source: .cli, at: people.now)
        let reason = try await people.store.unsuppress(ada, list: ListSlug("news"), includingForgotten: false, source: .cli, at: people.now)
        #expect(reason == .admin)
        #expect(try await people.store.suppressions().map(\.listSlug) == [nil])
        let last = try #require(try await people.ledger().last)
        #expect(last.type == "unsuppressed")
        #expect(last.listID == people.news.id)
        #expect(last.detail == #"{"reason":"admin"}"#)
    }

    @Test("unsuppress of an address that is not suppressed is an error", arguments: StoreKind.underTest)
    func unsuppressMissing(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        await #expect(throws: MembershipError.notSuppressed(address: "ada@example.org", list: nil)) {
            _ = try await people.store.unsuppress(
                try EmailAddress("ada@example.org"), list: nil, includingForgotten: false, source: .cli, at: people.now)
        }
    }

    @Test("the suppression left by forget is removed only when asked for explicitly", arguments: StoreKind.underTest)
    func forgottenSuppressionNeedsFlag(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let ada = try EmailAddress("ada@example.org")
        _ = try await people.store.forget(ada, source: .cli, at: people.now)
        await #expect(throws: MembershipError.forgottenNeedsConfirmation(address: "ada@example.org", list: nil)) {
            _ = try await people.store.unsuppress(ada, list: nil, includingForgotten: false, source: .cli, at: people.now)
        }
        #expect(try await people.store.suppressions().count == 1)
        #expect(try await people.store.unsuppress(ada, list: nil, includingForgotten: true, source: .cli, at: people.now) == .forgotten)
        #expect(try await people.store.suppressions().isEmpty)
    }

    @Test("suppressions name the address while it is stored, and the list (nil for every list)", arguments: StoreKind.underTest)
    func suppressionsList(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("Ada@Example.org", confirmed: false)
        _ = try await people.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("events"), source: .cli, at: people.now)
        _ = try await people.store.suppress(try EmailAddress("nobody@example.org"), list: nil, source: .cli, at: people.now)
        let records = try await people.store.suppressions()
        #expect(records.map(\.email) == ["Ada@Example.org", nil])
        #expect(records.map(\.listSlug) == ["events", nil])
        #expect(records.allSatisfy { $0.reason == .admin && $0.addressHash.count == 64 })
    }

    @Test("suppressing on an unknown list fails closed and stores nothing", arguments: StoreKind.underTest)
    func suppressUnknownList(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        await #expect(throws: DomainError.listNotFound("nope")) {
            _ = try await people.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("nope"), source: .cli, at: people.now)
        }
        #expect(try await people.store.suppressions().isEmpty)
    }

    @Test("admin changes to different people at the same moment all land, each with its events", arguments: StoreKind.underTest)
    func concurrentAdds(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask { try await people.add("p\(index)@example.org", confirmed: true) }
            }
            try await group.waitForAll()
        }
        #expect(try await people.opened.count("subscriptions", where: "status = 'active'") == 8)
        #expect(try await people.opened.count("events", where: "type = 'subscriber_added'") == 8)
    }
}
