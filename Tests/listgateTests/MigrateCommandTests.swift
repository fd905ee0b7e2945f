// `listgate migrate` and the schema gate on other commands, through the built binary.
import Foundation
import GRDB
import Testing

@Suite("listgate migrate")
struct MigrateCommandTests {
    @Test("the first run prints every migration it applied")
    func firstRun() throws {
        let workspace = try Workspace()
        let result = try workspace.listgate("migrate")
        #expect(result.status == 0)
        #expect(result.stdout.contains("applied 0001_initial.sql"))
        #expect(result.stdout.contains("applied 0002_subscription_public_ids.sql"))
        #expect(FileManager.default.fileExists(atPath: workspace.db))
    }

    @Test("a second run applies nothing and says so")
    func secondRun() throws {
        let workspace = try Workspace().migrated()
        let result = try workspace.listgate("migrate")
        #expect(result.status == 0)
        #expect(!result.stdout.contains("applied 0"))
        #expect(result.stdout.contains("no migrations applied"))
    }

    @Test("commands name a missing database, say how to create it, and create nothing", arguments: [
        ["lists", "list"], ["lists", "show", "news"], ["serve", "--port", "0"], ["subscribers", "find", "ada@example.org"],
    ])
    func refusesMissingDatabase(_ command: [String]) throws {
        let workspace = try Workspace()
        let result = try Binary.run(command + ["--db", workspace.db])
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: no database at \(workspace.db) (create it with: listgate migrate --db \(workspace.db))")
        #expect(!FileManager.default.fileExists(atPath: workspace.db))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.url.path).isEmpty, "nothing created")
    }

    @Test("commands refuse a database with no schema")
    func refusesUnmigratedDatabase() throws {
        let workspace = try Workspace()
        _ = FileManager.default.createFile(atPath: workspace.db, contents: Data())
        let result = try workspace.listgate("lists", "list")
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: database needs migration: run listgate migrate")
    }

    @Test("LISTGATE_DB names the database when --db is absent")
    func environmentDatabase() throws {
        let workspace = try Workspace()
        let path = workspace.url.appendingPathComponent("from-env.sqlite3").path
        let result = try Binary.run(["migrate"], environment: ["LISTGATE_DB": path])
        #expect(result.status == 0)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("migrate reports rows whose address is no longer accepted, keeps them as they are, and succeeds")
    func reportsRefusedAddresses() throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        try workspace.listgate("subscribers", "add", "plain@example.com", "--list", "news")
        // What an earlier version let in through a form or an import.
        let legacy = ["\"victim\"@example.com", "\"v\\ictim\"@example.com"]
        let queue = try DatabaseQueue(path: workspace.db)
        var ids: [Int64] = []
        for (index, email) in legacy.enumerated() {
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO addresses (email, identity_key, address_hash, created_at)
                        VALUES (?, ?, ?, '2025-01-01T00:00:00.000Z')
                        """,
                    arguments: [email, email.lowercased(), String(repeating: String(index), count: 64)])
                ids.append(db.lastInsertedRowID)
            }
        }
        // And a list's own address, which an earlier `lists create --allow-address` took.
        let allowed = try queue.write { db in
            try db.execute(
                sql: "INSERT INTO list_allowed_addresses (list_id, email) SELECT id, ? FROM lists",
                arguments: ["\"help\"@example.org"])
            return db.lastInsertedRowID
        }
        let before = try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM addresses ORDER BY id") }

        let result = try workspace.listgate("migrate")

        #expect(result.status == 0)
        #expect(result.stdout.contains("no migrations applied"))
        let warnings = result.stderr.split(separator: "\n").map(String.init)
        #expect(warnings == [
            "warning: address row \(ids[0]) (addresses) no longer accepted: quoted local parts are not accepted: "
                + "type the address without double quotes; it is kept as is — review it (e.g. its row with the sqlite3 tool; mail to it is quarantined, never sent)",
            "warning: address row \(ids[1]) (addresses) no longer accepted: quoted local parts are not accepted: "
                + "type the address without double quotes; it is kept as is — review it (e.g. its row with the sqlite3 tool; mail to it is quarantined, never sent)",
            "warning: address row \(allowed) (list_allowed_addresses) no longer accepted: quoted local parts are not "
                + "accepted: type the address without double quotes; it is kept as is — review it (e.g. the list's sender addresses)",
            "warning: 3 stored address rows are no longer accepted and kept as is",
        ])
        #expect(!result.stderr.contains("victim") && !result.stderr.contains("help"), "the warning names the row, not the address")
        let after = try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM addresses ORDER BY id") }
        #expect(after == before, "nothing is rewritten")
    }

    @Test("migrate says nothing on stderr when every stored address is accepted")
    func noRefusedAddresses() throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        try workspace.listgate("subscribers", "add", "Taro+news@例え.jp", "--list", "news")
        let result = try workspace.listgate("migrate")
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    @Test("migrate refuses a file that is not a SQLite database and leaves it alone")
    func refusesNonDatabase() throws {
        let workspace = try Workspace()
        let garbage = Data("this is not a database, it is a shopping list\n".utf8) + Data(repeating: 0x41, count: 4096)
        _ = FileManager.default.createFile(atPath: workspace.db, contents: garbage)
        let result = try workspace.listgate("migrate")
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: ") == true)
        #expect(FileManager.default.contents(atPath: workspace.db) == garbage)
    }
}

@Suite("listgate serve")
struct ServeCommandTests {
    @Test("serves /healthz on a migrated database and stops on SIGTERM")
    func healthz() async throws {
        let workspace = try Workspace().migrated()
        let port = try freePort()
        let process = Process()
        process.executableURL = Binary.url
        process.arguments = ["serve", "--db", workspace.db, "--port", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.interrupt(); process.waitUntilExit() } }

        var answer: (Int, String)?
        for _ in 0..<100 where answer == nil {
            answer = await httpGet("http://127.0.0.1:\(port)/healthz")
            if answer == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answer?.0 == 200)
        #expect(answer?.1 == "ok\n")

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)  // a graceful shutdown, not a crash
    }

    @Test("an invalid port is an error")
    func invalidPort() throws {
        let workspace = try Workspace().migrated()
        let result = try Binary.run(["serve", "--db", workspace.db], environment: ["LISTGATE_PORT": "http"])
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: invalid port 'http': use a number from 0 to 65535")
    }
}

@Suite("serve's start-up traps", .serialized)
struct ServeStartTests {
    @Test("a busy port is one error line and a non-zero exit, with no claim to be serving")
    func busyPort() async throws {
        let workspace = try Workspace().migrated()
        let first = try await ServeProcess(workspace, arguments: [])
        defer { withExtendedLifetime(first) {} }
        // A second database, so the only conflict is the port.
        let other = try Workspace().migrated()
        let result = try Binary.run(["serve", "--db", other.db, "--port", String(first.port)], in: other.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: cannot listen on 127.0.0.1:\(first.port): the port is already in use")
        #expect(!result.stdout.contains("serving"), "\(result.stdout)")
    }

    @Test("a second serve on the same SQLite file is refused with an error line")
    func secondServeOnOneDatabase() async throws {
        let workspace = try Workspace().migrated()
        let first = try await ServeProcess(workspace, arguments: [])
        defer { withExtendedLifetime(first) {} }  // it must keep running while the second starts
        let result = try Binary.run(["serve", "--db", workspace.db, "--port", String(try freePort())], in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: another listgate serve is already running on \(workspace.db)")
        #expect(!result.stdout.contains("serving"))
    }

    @Test("an unknown LISTGATE_LOG_LEVEL is an error line")
    func unknownLogLevel() throws {
        let workspace = try Workspace().migrated()
        let result = try workspace.listgate("serve", "--port", "0", environment: ["LISTGATE_LOG_LEVEL": "loud"])
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: invalid LISTGATE_LOG_LEVEL 'loud'") == true)
    }

    @Test("every file listgate creates is readable by its owner only")
    func ownerOnlyFiles() async throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        let server = try await ServeProcess(workspace, arguments: [])
        #expect(await FormPoster().post("\(server.base)/lists/news/subscribe", ["email": "ada@example.org"]) == 200)
        let outbox = workspace.url.appendingPathComponent("mail-outbox")
        #expect(await eventually(within: .seconds(10)) {
            ((try? FileManager.default.contentsOfDirectory(atPath: outbox.path)) ?? []).contains { $0.hasSuffix(".eml") }
        })
        let export = workspace.url.appendingPathComponent("export.csv").path
        try workspace.listgate("export", "subscribers", "--list", "news", "--status", "all", "--output", export)
        let mail = try FileManager.default.contentsOfDirectory(atPath: outbox.path).filter { $0.hasSuffix(".eml") }
        let files = [workspace.db, workspace.db + "-wal", workspace.db + "-shm", workspace.db + "-delivered", export]
            + mail.map { outbox.appendingPathComponent($0).path }
        for file in files {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0, "\(file) is \(String(mode, radix: 8))")
        }
        let directory = try #require(try FileManager.default.attributesOfItem(atPath: outbox.path)[.posixPermissions] as? Int)
        #expect(directory & 0o077 == 0, "mail-outbox/ is \(String(directory, radix: 8))")
    }
}
