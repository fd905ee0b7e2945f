// Specification of importing into the SQLite store where it needs the SQLite sealer: its
// events in the hash chain. The import's merge rules on every store are in
// Tests/ListgateStoreTests/DataTransferConformanceTests.swift.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Subscriber import (store)")
struct SubscriberImportStoreTests {
    func prepared() async throws -> MigratedDatabase {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        _ = try await database.store.createList(try .sample("other", name: "他"), source: .cli)
        return database
    }

    @discardableResult
    func importCSV(
        _ text: String, into list: String = "news", note: String? = nil, batchSize: Int = 10_000, in database: MigratedDatabase
    ) async throws -> (ImportSummary, [ImportProblem]) {
        let reader = try SubscriberFileReader(source: InMemoryByteSource(text), format: .csv, name: "test")
        var problems: [ImportProblem] = []
        let summary = try await database.store.importSubscribers(
            from: reader, options: ImportOptions(list: ListSlug(list), rules: ImportRules(consentNote: note), batchSize: batchSize),
            problem: { problems.append($0) }, progress: { _ in })
        return (summary, problems)
    }

    @Test("an import's events, consent and suppressions alike, seal into an intact hash chain")
    func eventsSealIntoChain() async throws {
        let database = try await prepared()
        try await importCSV(
            "email,subscribed_at\na@example.org,2024-04-01T09:30:00+09:00\nb@example.org,\n", note: "signed up at the fair", in: database)
        try await importCSV("email,status\na@example.org,unsubscribed\n", in: database)
        #expect(try await database.seal() == 6)  // two lists created, two imported, one left and its suppression
        let verification = try await database.store.verifyLedger(against: nil) { _ in }
        #expect(verification.isIntact)
        #expect(verification.sealed == 6)
    }
}
