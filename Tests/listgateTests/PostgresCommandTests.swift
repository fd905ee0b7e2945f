// Choosing PostgreSQL with `--db postgres://…` through the built binary: migrations safe when
// two hosts run them at once, and every way the database can be wrong or out of reach is one
// `error:` line and a non-zero exit, in bounded time (README, "Running on PostgreSQL").
import Foundation
import ListgateTestSupport
import Testing

@Suite("PostgreSQL through the binary", .enabled(if: StoreKind.underTest.contains(.postgres)))
struct PostgresCommandTests {
    @Test("migrate applies the PostgreSQL migrations once; a second run applies nothing")
    func migrateTwice() throws {
        let workspace = try Workspace(.postgres)
        let first = try workspace.listgate("migrate")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("applied 0001_initial.sql"))
        #expect(first.stdout.contains("applied 0002_senders_guard.sql"))
        #expect(first.stdout.contains("applied 0003_approved_snapshots_frozen.sql"))
        #expect(!first.stdout.contains(":postgres@") && !first.stdout.contains("password"))
        let second = try workspace.listgate("migrate")
        #expect(second.status == 0)
        #expect(second.stdout.contains("no migrations applied"))
        #expect(try workspace.count("schema_migrations") == 3)
        #expect(try workspace.count("settings") == 3, "the three generated keys")
    }

    @Test("two hosts migrating one database at once: both succeed, each migration is applied once")
    func concurrentMigrations() async throws {
        let workspace = try Workspace(.postgres)
        let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
            for _ in 0..<4 { group.addTask { try workspace.listgate("migrate") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
        #expect(results.filter { $0.stdout.contains("applied 0001_initial.sql") }.count == 1)
        #expect(try workspace.count("schema_migrations") == 3)
        #expect(try workspace.count("settings") == 3)
    }

    @Test("a URL listgate cannot use is named, without its password", arguments: [
        ("postgres://user:secret@/db", "no host"),
        ("postgres://127.0.0.1/db", "no user name"),
        ("postgres://user:secret@127.0.0.1:5432/", "no database name"),
        ("postgres://user:secret@127.0.0.1/db?sslmode=maybe", "sslmode must be one of"),
        ("postgres://user:secret@127.0.0.1/db?pool=9", "unknown parameter 'pool'"),
    ])
    func invalidURL(_ url: String, _ reason: String) throws {
        let result = try Binary.run(["lists", "list", "--db", url])
        #expect(result.status != 0)
        #expect((result.lastErrorLine ?? "").hasPrefix("error: invalid database URL: \(reason)"), "\(result.stderr)")
        #expect(!result.stderr.contains("secret"))
    }

    @Test("nothing listening: an error at once, naming where, not a hang")
    func refused() throws {
        let port = try freePort()
        let started = Date()
        let result = try Binary.run(["lists", "list", "--db", "postgres://listgate:secret@127.0.0.1:\(port)/listgate"])
        #expect(result.status != 0)
        #expect((result.lastErrorLine ?? "").hasPrefix("error: cannot connect to the database: postgres://listgate@127.0.0.1:\(port)/listgate"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("secret"))
        #expect(Date().timeIntervalSince(started) < 15)
    }

    @Test("a server that never answers: the connect timeout ends the wait")
    func silentServer() throws {
        // A listening socket that never speaks: the connection is made, the handshake never comes.
        let silent = try SilentListener()
        let started = Date()
        let result = try Binary.run([
            "lists", "list", "--db", "postgres://listgate@127.0.0.1:\(silent.port)/listgate?connect_timeout=2",
        ])
        #expect(result.status != 0)
        #expect((result.lastErrorLine ?? "").hasPrefix("error: cannot connect to the database"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test("an unknown database or role is named in the error")
    func unknownDatabaseAndRole() throws {
        let server = try #require(PostgresTestServer.serverURL)
        var components = try #require(URLComponents(string: server))
        components.path = "/no_such_database"
        let database = try Binary.run(["lists", "list", "--db", components.string!])
        #expect(database.status != 0)
        #expect((database.lastErrorLine ?? "").contains("no_such_database"), "\(database.stderr)")
        components.path = "/postgres"
        components.user = "no_such_role"
        let role = try Binary.run(["lists", "list", "--db", components.string!])
        #expect(role.status != 0)
        #expect((role.lastErrorLine ?? "").contains("no_such_role"), "\(role.stderr)")
    }

    @Test("commands refuse a database that a newer listgate migrated, naming its migration")
    func newerDatabase() throws {
        let workspace = try Workspace(.postgres).migrated()
        _ = try PostgresTestServer.rows(
            url: workspace.db,
            "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ('0099_from_the_future.sql', 'x', now())")
        let list = try Binary.run(["lists", "list", "--db", workspace.db])
        #expect(list.status != 0)
        #expect((list.lastErrorLine ?? "").contains("0099_from_the_future.sql"), "\(list.stderr)")
        let migrate = try Binary.run(["migrate", "--db", workspace.db])
        #expect(migrate.status != 0)
        #expect((migrate.lastErrorLine ?? "").contains("newer version"), "\(migrate.stderr)")
    }

    @Test("commands refuse an unmigrated database and say how to migrate it")
    func unmigrated() throws {
        let workspace = try Workspace(.postgres)
        let result = try workspace.listgate("lists", "list")
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: database needs migration: run listgate migrate")
    }

    @Test("backup says to use pg_dump on PostgreSQL")
    func backupSaysPgDump() throws {
        let workspace = try Workspace(.postgres).migrated()
        let result = try Binary.run(["backup", "--output", workspace.url.appendingPathComponent("copy").path, "--db", workspace.db])
        #expect(result.status != 0)
        #expect((result.lastErrorLine ?? "").contains("pg_dump"))
    }
}

/// A loopback port that accepts connections (the kernel completes them) and never says a
/// word: a database server that hangs.
final class SilentListener {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard listening else { throw WorkspaceError(message: "could not listen on loopback") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

@Suite("PostgreSQL upgrade to the sender's guard", .enabled(if: StoreKind.underTest.contains(.postgres)))
struct PostgresUpgradeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("a database at 0001 with a list and a snapshot migrates to 0002: both kept, needing no approvals")
    func upgradeFromInitial() throws {
        let workspace = try Workspace(.postgres)
        // The previous version's schema, recorded as `listgate migrate` records it.
        let initial = try String(
            contentsOf: Self.root.appendingPathComponent("PostgresMigrations/0001_initial.sql"), encoding: .utf8)
        let digest = try IndependentChecksum.sha256(sortedAndJoined: [initial])
        _ = try PostgresTestServer.rows(url: workspace.db, initial)
        _ = try PostgresTestServer.rows(url: workspace.db, """
            CREATE TABLE schema_migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL);
            INSERT INTO schema_migrations VALUES ('0001_initial.sql', '\(digest)', now());
            INSERT INTO lists (slug, name, from_email, created_at) VALUES ('news', 'News', 'news@example.org', now());
            INSERT INTO snapshots (public_id, list_id, count, sha256, created_at)
                VALUES ('snap_before_upgrade', 1, 0, repeat('a', 64), now());
            """)
        let migrated = try workspace.listgate("migrate")
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("applied 0002_senders_guard.sql") && !migrated.stdout.contains("0001"))
        let shown = try jsonObject(try workspace.listgate("snapshots", "show", "snap_before_upgrade", "--json").stdout)
        #expect(shown["status"] as? String == "ready" && shown["approvals_required"] as? Int == 0)
        #expect(try jsonObject(try workspace.listgate("lists", "show", "news", "--json").stdout)["snapshot_approvals"] as? Int == 0)
    }
}
