// Specification of group commit: requests that share a transaction still succeed or
// fail alone, and are answered only once their writes are on disk.
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite
import Testing

@Suite("Group commit")
struct GroupCommitTests {
    struct Refused: Error, Equatable { let number: Int }

    func pool(in directory: TemporaryDirectory) throws -> DatabasePool {
        let pool = try DatabasePool(path: directory.path("group.sqlite3"))
        try pool.write { db in try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY, tag TEXT NOT NULL)") }
        return pool
    }

    @Test("concurrent requests each get their own answer; one that fails leaves no row and the others keep theirs")
    func eachAlone() async throws {
        let directory = try TemporaryDirectory()
        let pool = try pool(in: directory)
        let commits = GroupCommit(pool: pool)
        let answers = await withTaskGroup(of: (Int, Result<String, Refused>).self) { group in
            for number in 1...200 {
                group.addTask {
                    do {
                        let answer = try await commits.write { db -> String in
                            try db.execute(sql: "INSERT INTO t (n, tag) VALUES (?, 'kept')", arguments: [number])
                            // Every seventh fails after writing: its savepoint must take its row away.
                            if number % 7 == 0 { throw Refused(number: number) }
                            return "row \(number)"
                        }
                        return (number, .success(answer))
                    } catch let error as Refused {
                        return (number, .failure(error))
                    } catch {
                        Issue.record("unexpected \(error)")
                        return (number, .failure(Refused(number: -1)))
                    }
                }
            }
            var answers: [Int: Result<String, Refused>] = [:]
            for await (number, answer) in group { answers[number] = answer }
            return answers
        }
        for number in 1...200 {
            let expected: Result<String, Refused> = number % 7 == 0 ? .failure(Refused(number: number)) : .success("row \(number)")
            #expect(answers[number] == expected, "request \(number)")
        }
        let stored = try await pool.read { db in try Int.fetchAll(db, sql: "SELECT n FROM t ORDER BY n") }
        #expect(stored == (1...200).filter { $0 % 7 != 0 })
    }

    @Test("a request is answered only after its write is committed: another connection already sees it")
    func answeredAfterCommit() async throws {
        let directory = try TemporaryDirectory()
        let pool = try pool(in: directory)
        let commits = GroupCommit(pool: pool)
        let other = try DatabaseQueue(path: directory.path("group.sqlite3"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 1...50 {
                group.addTask {
                    try await commits.write { db in
                        try db.execute(sql: "INSERT INTO t (n, tag) VALUES (?, 'seen')", arguments: [number])
                    }
                    let seen = try await other.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM t WHERE n = ?", arguments: [number]) }
                    #expect(seen == true, "request \(number) was answered before its commit")
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("a failed commit fails every request of its group")
    func failedCommit() async throws {
        let directory = try TemporaryDirectory()
        let pool = try pool(in: directory)
        // A deferred foreign key is checked only at COMMIT, so the request itself succeeds
        // and the transaction it is part of cannot commit.
        try await pool.write { db in
            try db.execute(sql: "CREATE TABLE child (parent INTEGER REFERENCES t(n) DEFERRABLE INITIALLY DEFERRED)")
        }
        let commits = GroupCommit(pool: pool)
        await #expect(throws: DatabaseError.self) {
            try await commits.write { db in try db.execute(sql: "INSERT INTO child (parent) VALUES (999)") }
        }
        #expect(try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM child") } == 0)
        // And the next group is written normally.
        try await commits.write { db in try db.execute(sql: "INSERT INTO t (n, tag) VALUES (1, 'after')") }
        #expect(try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") } == 1)
    }

    @Test("a group keeps its savepoint journal in memory, and the writer's other transactions are left as they were")
    func journalInMemory() async throws {
        let directory = try TemporaryDirectory()
        let pool = try pool(in: directory)
        let commits = GroupCommit(pool: pool)
        // PRAGMA temp_store: 0 is the default (a temporary file), 2 is memory.
        let inGroup = try await commits.write { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") }
        #expect(inGroup == 2)
        // A snapshot or a large sort on the same connection must not be held in memory.
        let afterwards = try await pool.write { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") }
        #expect(afterwards == 0)
    }
}
