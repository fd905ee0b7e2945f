// Specification of one person, whole, on every store (`subscribers find | history |
// export`, `export events --email`): what is held on one address, found by its identity
// key or its keyed hash, and nothing on anyone else.
import Foundation
@testable import ListgateCore
import Testing

@Suite("One person, on every store")
struct PersonConformanceTests {
    @Test("standing shows each subscription, each request with its mail, and the suppressions of the address and its mailbox",
          arguments: StoreKind.underTest)
    func standing(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("Ada+news@Example.org", to: "news", name: "Ada", confirmed: true)
        try await people.subscribe("ada+news@example.org", on: people.events)
        _ = try await people.store.suppress(try EmailAddress("ada@example.org"), list: nil, source: .cli, at: people.now)
        try await people.add("bob@example.org", confirmed: true)

        let standing = try await people.store.standing(of: try EmailAddress("ada+news@example.org"))
        #expect(standing.subscriptions == [PersonSubscription(
            listSlug: "news", email: "Ada+news@Example.org", name: "Ada", status: .active, source: "admin",
            createdAt: people.now, updatedAt: people.now, subscribedAt: people.now, unsubscribedAt: nil)])
        let request = try #require(standing.requests.first)
        #expect(standing.requests.count == 1)
        #expect(request.listSlug == "events")
        #expect(request.status == "pending")
        #expect(request.consentVersion == "v1")
        #expect(request.clientNetwork == "192.0.2.0/24")
        // Suppressing the mailbox discards what is queued under its own hash, not this spelling's.
        #expect(request.mail == .queued)
        #expect(request.messageID?.hasPrefix("<") == true)
        #expect(standing.suppressions == [PersonSuppression(listSlug: nil, reason: .admin, since: people.now, ofMailbox: true)])
    }

    @Test("history is the address's events, oldest first, and its mailbox's suppressions only", arguments: StoreKind.underTest)
    func history(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada+news@example.org", confirmed: true)
        try await people.add("ada@example.org", to: "events", confirmed: true)
        _ = try await people.store.suppress(try EmailAddress("ada@example.org"), list: ListSlug("events"), source: .cli, at: people.now)
        let history = try await people.store.history(of: try EmailAddress("ada+news@example.org"))
        #expect(history.map(\.type) == ["subscriber_added", "suppressed"])
        #expect(history.map(\.listSlug) == ["news", "events"])
        #expect(history[0].detail == ["status": "active"])
        #expect(history.allSatisfy { $0.source == "cli" && $0.occurredAt == people.now })
        #expect(history.map(\.id) == history.map(\.id).sorted())
    }

    @Test("the events export of an address writes its history's rows", arguments: StoreKind.underTest)
    func exportEvents(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        try await people.add("ada@example.org", confirmed: true)
        try await people.add("bob@example.org", confirmed: true)
        let directory = try TemporaryDirectory()
        let path = directory.path("events.ndjson")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        let rows = try await people.store.exportEvents(
            of: try EmailAddress("ada@example.org"), format: .ndjson,
            to: ExportDestination(descriptor: descriptor, name: path), progress: { _ in })
        close(descriptor)
        #expect(rows == 1)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let hash = try await people.hash("ada@example.org")
        let id = try #require(try await people.opened.value("SELECT id FROM events WHERE type = 'subscriber_added' AND address_hash = '\(hash)'"))
        #expect(text == """
            {"id":\(id),"occurred_at":"\(Timestamp.string(people.now))","type":"subscriber_added","list":"news",\
            "address_hash":"\(hash)","source":"cli","consent_version":null,"detail":{"status":"active"},\
            "prev_hash":null,"hash":null}

            """)
    }

    @Test("exporting a person's data records data_exported first, and gathers requests, mail and wordings",
          arguments: StoreKind.underTest)
    func exportPersonalData(_ kind: StoreKind) async throws {
        let people = try await People.open(kind)
        let wording = ConsentWording(locale: .en, parts: [.init(name: "page", text: "By subscribing you agree")])
        var (submission, mail) = try people.request("ada@example.org", consentVersion: wording.version)
        submission.wording = wording
        _ = try await people.store.recordSubscribeRequest(submission, mail: mail, policy: IntakePolicy())
        let data = try await people.store.exportPersonalData(of: try EmailAddress("ada@example.org"), source: .cli, at: people.now)
        #expect(data.addressHash == (try await people.hash("ada@example.org")))
        #expect(data.events.map(\.type) == ["requested", "data_exported"])
        #expect(data.events.last?.id == data.exportEventID)
        #expect(data.wordings.map(\.version) == [wording.version])
        #expect(data.versionsWithoutWording.isEmpty)
        #expect(data.mail.map(\.kind) == [.confirmation])
        #expect(data.mail.first?.consentVersion == wording.version)
        #expect(data.mail.first?.state == .queued)
        #expect(data.standing.requests.map(\.mail) == [.queued])
        #expect(data.snapshotEntries.isEmpty)
    }
}
