// Specification of list storage, on every store: what `lists create`, `lists update` and
// `lists archive` persist and record.
import Foundation
import ListgateCore
import Testing

@Suite("Lists, on every store")
struct ListStoreConformanceTests {
    @Test("a created list reads back with every field", arguments: StoreKind.underTest)
    func roundTrip(_ kind: StoreKind) async throws {
        let store = try await StoreUnderTest.open(kind).as((any ListStore).self)
        let new = try NewList(
            slug: ListSlug("news-ja"), name: "  週刊お知らせ ", from: Mailbox("編集部 <news@example.org>"),
            replyTo: EmailAddress("support@example.org"), locale: .ja,
            allowedAddresses: [EmailAddress("help@example.org")])
        let created = try await store.createList(new, source: .cli)
        let read = try #require(try await store.list(ListSlug("news-ja")))
        #expect(read == created)
        #expect(read.name == "週刊お知らせ")
        #expect(read.from.displayName == "編集部")
        #expect(read.from.address.entered == "news@example.org")
        #expect(read.replyTo?.entered == "support@example.org")
        #expect(read.allowedAddresses.map(\.entered) == ["help@example.org"])
        #expect(try await store.list(id: created.id) == created)
        #expect(try await store.allLists() == [created])
    }

    @Test("creating a list records a list_created event in the same transaction", arguments: StoreKind.underTest)
    func recordsEvent(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let list = try await opened.as((any ListStore).self).createList(try .sample(), source: .cli)
        let rows = try await opened.rows("SELECT type, list_id, source, detail FROM events")
        #expect(rows == [["list_created", String(list.id), "cli", #"{"slug":"news"}"#]])
    }

    @Test("a duplicate slug is refused and changes nothing", arguments: StoreKind.underTest)
    func duplicateSlug(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any ListStore).self)
        _ = try await store.createList(try .sample(), source: .cli)
        await #expect(throws: DomainError.duplicateSlug(try ListSlug("news"))) {
            try await store.createList(try .sample(name: "other"), source: .cli)
        }
        #expect(try await opened.count("lists") == 1)
        #expect(try await opened.count("events") == 1)
    }

    @Test("two lists created at once both exist, each with its event", arguments: StoreKind.underTest)
    func concurrentCreates(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any ListStore).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slug in ["a", "b", "c", "d"] {
                group.addTask { _ = try await store.createList(try .sample(slug), source: .cli) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.allLists().map(\.slug.rawValue) == ["a", "b", "c", "d"])
        #expect(try await opened.count("events", where: "type = 'list_created'") == 4)
    }

    @Test("member counts are zero for a new list", arguments: StoreKind.underTest)
    func emptyCounts(_ kind: StoreKind) async throws {
        let store = try await StoreUnderTest.open(kind).as((any ListStore).self)
        let list = try await store.createList(try .sample(), source: .cli)
        #expect(try await store.memberCounts(listID: list.id) == MemberCounts())
    }

    @Test("a list's name may be 200 code points, counted as the schema counts them", arguments: StoreKind.underTest)
    func longestName(_ kind: StoreKind) async throws {
        let store = try await StoreUnderTest.open(kind).as((any ListStore).self)
        let name = String(repeating: "e\u{301}", count: 100)
        let list = try await store.createList(try .sample(name: name), source: .cli)
        #expect(list.name == name)
    }

    @Test("an update changes the list, the sets included, and returns each changed field with before and after",
          arguments: StoreKind.underTest)
    func updateList(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any ListStore).self)
        _ = try await store.createList(
            try NewList(slug: ListSlug("news"), name: "お知らせ", from: Mailbox("news@example.org"),
                        allowedAddresses: [EmailAddress("help@example.org")], allowedOrigins: ["https://a.example"]),
            source: .cli)
        var change = ListChange()
        change.allowAddresses = [try EmailAddress("desk@example.org")]
        change.disallowOrigins = ["https://a.example"]
        change.identity.contact = .some(try SenderContact("desk@example.org"))
        let (list, changed) = try await store.updateList(ListSlug("news"), change, source: .cli)
        #expect(list.allowedAddresses.map(\.entered) == ["desk@example.org", "help@example.org"])
        #expect(list.allowedOrigins.isEmpty)
        #expect(list.senderIdentity.contact == .address(try EmailAddress("desk@example.org")))
        #expect(changed == [
            ListFieldChange(field: "allowed_addresses", before: "help@example.org", after: "desk@example.org, help@example.org"),
            ListFieldChange(field: "allowed_origins", before: "https://a.example", after: nil),
            ListFieldChange(field: "contact", before: nil, after: "desk@example.org"),
        ])
        #expect(try await store.list(ListSlug("news")) == list, "what was returned is what is stored")
        #expect(try await opened.count("events", where: "type = 'list_updated'") == 1)
        let (_, again) = try await store.updateList(ListSlug("news"), change, source: .cli)
        #expect(again.isEmpty, "the same change again changes nothing")
        #expect(try await opened.count("events", where: "type = 'list_updated'") == 1, "and records nothing")
    }

    @Test("archiving sets archived_at and records list_archived; a second archive is refused and changes nothing",
          arguments: StoreKind.underTest)
    func archive(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any ListStore).self)
        _ = try await store.createList(try .sample(), source: .cli)
        let archived = try await store.archiveList(ListSlug("news"), source: .cli)
        #expect(archived.isArchived)
        await #expect(throws: DomainError.listArchived("news")) {
            try await store.archiveList(ListSlug("news"), source: .cli)
        }
        #expect(try await store.list(ListSlug("news"))?.archivedAt == archived.archivedAt)
        #expect(try await opened.rows("SELECT type FROM events ORDER BY id") == [["list_created"], ["list_archived"]])
    }

    @Test("an unknown list is nil, and changing it is refused", arguments: StoreKind.underTest)
    func unknownList(_ kind: StoreKind) async throws {
        let store = try await StoreUnderTest.open(kind).as((any ListStore).self)
        #expect(try await store.list(ListSlug("nope")) == nil)
        #expect(try await store.list(id: 42) == nil)
        await #expect(throws: DomainError.listNotFound("nope")) {
            try await store.archiveList(ListSlug("nope"), source: .cli)
        }
    }
}
