// `listgate backup` through the built binary: a copy taken while a running server takes
// subscribe posts is one consistent moment that opens, migrates as it is and verifies;
// an existing file is kept unless --force; PostgreSQL is pg_dump's job.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

@Suite("listgate backup", .serialized)
struct BackupCommandTests {
    func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        return workspace
    }

    func submissionCount(in path: String) throws -> Int {
        try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM submissions") ?? 0 }
    }

    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("a backup taken under subscribe load opens, migrates as it is, verifies, and holds each post whole")
    func backupUnderLoad() async throws {
        let workspace = try workspace()
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", "file://\(workspace.url.path)/mail"], environment: ["LISTGATE_RATE_LIMITS": "off"])
        let poster = FormPoster(connections: 8)
        let posting = Shared(true)
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var n = 0
                        while posting.current {
                            _ = await poster.post("\(server.base)/lists/news/subscribe", ["email": "b\(worker)-\(n)@example.net"])
                            n += 1
                        }
                    }
                }
            }
        }
        defer { posting.withLock { $0 = false } }
        let started = try await eventually(within: .seconds(30)) { try submissionCount(in: workspace.db) >= 100 }
        try #require(started, "the load never got going:\n\(server.log)")
        let copy = workspace.url.appendingPathComponent("backup.sqlite3").path
        let backup = try workspace.listgate("backup", "--output", copy)
        try #require(backup.status == 0, "\(backup.stderr)")
        let postsAfter = try await eventually(within: .seconds(10)) { try submissionCount(in: workspace.db) > submissionCount(in: copy) }
        posting.withLock { $0 = false }
        await load.value
        #expect(backup.stdout.hasPrefix("copied \(workspace.db) to \(copy) ("))
        #expect(postsAfter, "the load went on while the copy was taken")
        #expect(try mode(copy) == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace.url.path).filter { $0.contains(".partial") }
        #expect(leftovers.isEmpty, "\(leftovers)")

        // One moment: each post's request, its event and its mail, or none of them.
        let counts = try DatabaseQueue(path: copy).read { db in
            try Row.fetchOne(db, sql: """
                SELECT (SELECT count(*) FROM submissions) AS submissions,
                       (SELECT count(*) FROM events WHERE type = 'requested') AS requested,
                       (SELECT count(*) FROM outbox) AS mail
                """)
        }
        let submissions: Int = try #require(counts?["submissions"])
        #expect(submissions >= 100)
        #expect(counts?["requested"] == submissions && counts?["mail"] == submissions)

        let migrated = try Binary.run(["migrate", "--db", copy])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.hasPrefix("database is up to date"), "\(migrated.stdout)")
        let verified = try Binary.run(["events", "verify", "--json", "--db", copy])
        #expect(verified.status == 0, "\(verified.stderr)")
        let document = try jsonObject(verified.stdout)
        #expect(document["ok"] as? Bool == true)
        let sealed = try #require(document["sealed"] as? Int)
        let unsealed = try #require(document["unsealed"] as? Int)
        #expect(sealed + unsealed == 1 + submissions)

        // The copy's chain is the live chain up to the moment of the copy.
        let head = try #require(document["head"] as? [String: Any])
        let live: String? = try workspace.rows("SELECT hash FROM event_chain WHERE position = ?", [sealed]).first?["hash"]
        #expect(live == head["hash"] as? String)
        // And it is a database listgate uses as it is: the tail seals onto that chain.
        let listed = try Binary.run(["lists", "list", "--db", copy])
        #expect(listed.status == 0 && listed.stdout.contains("news"))
        let after = try jsonObject(try Binary.run(["events", "verify", "--json", "--db", copy]).stdout)
        #expect(after["sealed"] as? Int == 1 + submissions && after["unsealed"] as? Int == 0)
    }

    @Test("an existing file is refused without --force and left as it was; --force replaces it")
    func existingOutput() throws {
        let workspace = try workspace()
        let path = workspace.url.appendingPathComponent("kept.sqlite3").path
        try "not a database\n".write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try workspace.listgate("backup", "--output", path)
        #expect(refused.status != 0)
        #expect(refused.lastErrorLine == "error: \(path) already exists; choose another file or give --force to replace it")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "not a database\n")

        let forced = try workspace.listgate("backup", "--output", path, "--force")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try mode(path) == 0o600)
        let verified = try Binary.run(["events", "verify", "--db", path])
        #expect(verified.status == 0 && verified.stdout.hasPrefix("ledger intact: 1 events sealed"), "\(verified.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: workspace.url.path)
        #expect(!names.contains { $0.contains(".partial") || $0.hasPrefix("kept.sqlite3-") }, "\(names)")
    }

    @Test("the database itself is never the output, even with --force")
    func notOverTheDatabase() throws {
        let workspace = try workspace()
        let before = try workspace.dump()
        let result = try workspace.listgate("backup", "--output", workspace.db, "--force")
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: \(workspace.db) is the database itself; choose another file")
        #expect(try workspace.dump() == before)
    }

    @Test("a directory that cannot be written is one error line, and leaves nothing behind")
    func unwritableDirectory() throws {
        let workspace = try workspace()
        let path = workspace.url.appendingPathComponent("no-such-dir/backup.sqlite3").path
        let result = try workspace.listgate("backup", "--output", path)
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: cannot write \(path): No such file or directory")
    }

    @Test("a PostgreSQL database is pg_dump's job", arguments: [
        (["--db", "postgres://listgate@db.example/listgate"], [:]),
        ([], ["LISTGATE_DB": "postgresql://listgate:secret@db.example:5432/listgate?sslmode=require"]),
    ] as [([String], [String: String])])
    func postgres(arguments: [String], environment: [String: String]) throws {
        let workspace = try Workspace()
        let result = try Binary.run(["backup", "--output", "copy.sqlite3"] + arguments, environment: environment, in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: listgate backup copies an SQLite database; back up PostgreSQL with pg_dump") == true,
                "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace.url.appendingPathComponent("copy.sqlite3").path))
        #expect(!result.stderr.contains("secret"))
    }

    @Test("--help says what the copy holds, how to restore it and what to do on PostgreSQL")
    func help() throws {
        let help = try Binary.run(["backup", "--help"])
        #expect(help.status == 0)
        for phrase in ["--output", "--force", "owner only", "pg_dump", "events verify"] {
            #expect(help.stdout.contains(phrase), "\(phrase)")
        }
    }
}
