// The PostgreSQL implementation of ListgateStore, for several `listgate serve` processes
// on one database (README, "Running on PostgreSQL"). Each room's operations live beside
// their SQLite twins' names (Intake/, Outbox/, …); this file holds what they share:
// opening the database, migrations, and the transaction every operation runs in.
//
// Every write runs SERIALIZABLE and is retried when PostgreSQL reports a serialization
// failure, so each operation behaves as if it ran alone, as it does on SQLite with its
// one writer. The few paths where concurrency is the point (claiming the outbox,
// the sealer) say so and choose their own locking.
import Foundation
import ListgateCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

public struct PostgresStore: Sendable {
    let client: PostgresClient
    let runner: ClientRunner
    let logger: Logger
    let migrations: [Migration]
    let addressKey = AddressHasher.Cache()
    /// How long one operation may wait for the database before it fails `unavailable`.
    let deadline: Duration
    public let url: PostgresURL
    /// This process's name in the rows it claims (`outbox.claimed_by`,
    /// `webhook_deliveries.leased_by`), new on every open: several servers share the queues.
    let instance = RandomToken.hex(bytes: 8)
    /// How long an outbox claim holds without progress before another server may take
    /// the message over (its holder is presumed dead).
    public var claimLease: Duration = .seconds(60)

    /// Connects once to prove the URL, the credentials and the database name (a wrong
    /// password would otherwise leave the pool retrying in the background while every
    /// query waits), then opens the pool. Does not check the schema: see `openMigrated`.
    public static func open(
        url text: String, migrations: [Migration]? = nil, deadline: Duration = .seconds(10), logger: Logger? = nil
    ) async throws -> PostgresStore {
        let url = try PostgresURL(text)
        var logger = logger ?? Logger(label: "listgate.postgres")
        if logger.logLevel < .warning { logger.logLevel = .warning }  // postgres-nio is chatty at info
        let tls = try Self.tls(url.tls)
        try await probe(url, tls: tls, logger: logger)
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database,
            tls: tls.client)
        configuration.options.connectTimeout = url.connectTimeout
        configuration.options.additionalStartupParameters = [("application_name", "listgate")]
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return PostgresStore(
            client: client, runner: ClientRunner(client), logger: logger,
            migrations: try migrations ?? Self.bundledMigrations(), deadline: deadline, url: url)
    }

    /// Opens a database that is fully migrated for this build, or fails with `needsMigration`.
    public static func openMigrated(
        url: String, migrations: [Migration]? = nil, deadline: Duration = .seconds(10), logger: Logger? = nil
    ) async throws -> PostgresStore {
        let store = try await open(url: url, migrations: migrations, deadline: deadline, logger: logger)
        do {
            try await store.checkSchema()
        } catch {
            store.close()
            throw error
        }
        return store
    }

    /// Stops the pool. Queries after this fail.
    public func close() { runner.stop() }

    /// The PostgreSQL migrations bundled with this build (`PostgresMigrations/`).
    public static func bundledMigrations() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "PostgresMigrations", withExtension: nil) else {
            throw StoreError.migrationFailed(name: "PostgresMigrations", reason: "the bundled migrations directory is missing")
        }
        return try Migration.load(from: directory)
    }

    // MARK: Connecting

    struct TLSChoice {
        let client: PostgresClient.Configuration.TLS
        let connection: PostgresConnection.Configuration.TLS
    }

    static func tls(_ mode: PostgresURL.TLSMode) throws -> TLSChoice {
        switch mode {
        case .disable:
            return TLSChoice(client: .disable, connection: .disable)
        case .prefer, .require:
            // libpq's prefer and require encrypt without checking who answers.
            var insecure = TLSConfiguration.makeClientConfiguration()
            insecure.certificateVerification = .none
            let context = try NIOSSLContext(configuration: insecure)
            return mode == .prefer
                ? TLSChoice(client: .prefer(insecure), connection: .prefer(context))
                : TLSChoice(client: .require(insecure), connection: .require(context))
        case .verifyFull:
            let checked = TLSConfiguration.makeClientConfiguration()
            return TLSChoice(client: .require(checked), connection: .require(try NIOSSLContext(configuration: checked)))
        }
    }

    /// One connection made and closed, bounded by the URL's connect timeout, turning
    /// PostgreSQL's refusals into sentences.
    static func probe(_ url: PostgresURL, tls: TLSChoice, logger: Logger) async throws {
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database,
            tls: tls.connection)
        configuration.options.connectTimeout = .seconds(Int64(url.connectTimeout.components.seconds))
        let prepared = configuration
        let where_ = url.redacted
        do {
            let connection = try await withDeadline(url.connectTimeout + .seconds(1), reason: "no answer from \(where_)") {
                try await PostgresConnection.connect(configuration: prepared, id: 0, logger: logger)
            }
            try? await connection.close()
        } catch let error as PSQLError {
            throw StoreError.unreachable(Self.sentence(for: error, at: where_))
        } catch let error as StoreError {
            if case .unavailable(let reason) = error { throw StoreError.unreachable(reason) }
            throw error
        } catch {
            throw StoreError.unreachable("\(where_): \(error)")
        }
    }

    static func sentence(for error: PSQLError, at place: String) -> String {
        if let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? "refused"
            switch state {
            case "28P01", "28000": return "\(place): authentication failed (\(message))"
            case "3D000": return "\(place): \(message)"
            default: return "\(place): \(message) (SQLSTATE \(state))"
            }
        }
        let detail = error.underlying.map { "\($0)" } ?? "\(error.code)"
        // NIO's own descriptions are for NIO's developers; say what an operator can act on.
        for (clue, sentence) in [
            ("Connection refused", "connection refused (is PostgreSQL running and listening there?)"),
            ("connectTimeout", "no answer in time (check the host, the port and any firewall)"),
            ("timed out", "no answer in time (check the host, the port and any firewall)"),
            ("No route to host", "no route to the host"),
            ("Name or service not known", "unknown host name"),
            ("sslUnsupported", "the server does not offer TLS (sslmode=require or verify-full)"),
        ] where detail.contains(clue) {
            return "\(place): \(sentence)"
        }
        return "\(place): \(detail)"
    }

    // MARK: Transactions

    /// Runs `body` in a SERIALIZABLE transaction, retried (a few times, with a short random
    /// pause) when PostgreSQL aborts it for a conflict with a concurrent one, bounded by the
    /// store's deadline.
    func write<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await transaction(isolation: "SERIALIZABLE", body)
    }

    /// Runs `body` in a READ COMMITTED transaction: for operations that lock the rows they
    /// change themselves (`FOR UPDATE SKIP LOCKED`) and for reads.
    func readCommitted<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await transaction(isolation: "READ COMMITTED", body)
    }

    /// A read that may take long (an export, a verify of millions of events): `read`, whose
    /// deadline bounds only the wait for a connection, not the work once it began.
    func longRead<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await read(body)
    }

    /// A consistent read: every query in `body` sees the same snapshot.
    func read<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await transaction(isolation: "REPEATABLE READ, READ ONLY", body)
    }

    /// One statement outside any transaction: a statement sees one snapshot by itself, so
    /// the BEGIN, SET and COMMIT round trips of `read` are saved (for reads run a thousand
    /// times in a row, the recipients stream's pages), and a command that refuses to run
    /// in a transaction block can run.
    func statement<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let client = client
        do {
            return try await Self.withStartDeadline(deadline, reason: "no connection within \(deadline)") { started in
                try await client.withConnection { connection in
                    started()
                    return try await body(connection)
                }
            }
        } catch let refusal as PSQLError {
            throw Self.storeError(refusal)
        }
    }

    private func transaction<Result: Sendable>(
        isolation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let client = client
        let logger = logger
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await Self.withStartDeadline(deadline, reason: "no connection within \(deadline)") { started in
                    try await client.withConnection { connection in
                        // BEGIN with its isolation level in one statement: one round trip
                        // fewer than postgres-nio's withTransaction and a SET, on every
                        // form post's few transactions.
                        try await connection.query(PostgresQuery(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation)"), logger: logger)
                        started()
                        do {
                            let result = try await body(connection)
                            try await connection.query("COMMIT", logger: logger)
                            return result
                        } catch {
                            // After a failed COMMIT there is nothing to roll back; the
                            // warning that answers it is harmless. The first error stands.
                            _ = try? await connection.query("ROLLBACK", logger: logger)
                            throw error
                        }
                    }
                }
            } catch {
                guard let refusal = error as? PSQLError else { throw error }
                // 40001 serialization failure, 40P01 deadlock: the transaction did nothing.
                let state = refusal.serverInfo?[.sqlState]
                // Backs off at random, up to 100 ms a try, so writers that keep colliding
                // spread out; 20 tries outlast any burst the tests and benchmarks make.
                if (state == "40001" || state == "40P01") && attempt < 20 {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...min(100, 1 << min(attempt, 7)))))
                    continue
                }
                throw Self.storeError(refusal)
            }
        }
    }

    /// The error inside postgres-nio's transaction wrapper (which `migrate` uses): the
    /// closure's own, or BEGIN's or COMMIT's.
    static func unwrap(_ error: any Error) -> any Error {
        guard let wrapped = error as? PostgresTransactionError else { return error }
        return wrapped.closureError ?? wrapped.commitError ?? wrapped.beginError ?? error
    }

    /// A server's refusal stays a PSQLError for the room to read (a unique violation is
    /// the room's to turn into a domain error); a lost connection becomes `unavailable`.
    static func storeError(_ error: PSQLError) -> any Error {
        if error.serverInfo == nil { return StoreError.unavailable("\(error.code)") }
        if let state = error.serverInfo?[.sqlState], state.hasPrefix("08") || state.hasPrefix("57P") {
            return StoreError.unavailable(error.serverInfo?[.message] ?? state)
        }
        return error
    }

    /// Like `withDeadline`, but the deadline bounds only the wait until `body` calls
    /// `started` (a connection leased and the transaction begun): a database that is gone
    /// fails the operation in bounded time, while a long operation that did start (an
    /// import's batch, a verify of millions of events) runs to its end.
    static func withStartDeadline<Result: Sendable>(
        _ limit: Duration, reason: String,
        _ body: @escaping @Sendable (_ started: @escaping @Sendable () -> Void) async throws -> Result
    ) async throws -> Result {
        let began = StartFlag()
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await body { began.set() } }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let result = next { return result }
                // The timer: fail only if the work never began; otherwise wait for it.
                if !began.isSet { throw StoreError.unavailable(reason) }
            }
            throw StoreError.unavailable(reason)
        }
    }

    static func withDeadline<Result: Sendable>(
        _ limit: Duration, reason: String, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw StoreError.unavailable(reason)
            }
            return result
        }
    }

    // MARK: Health and migrations

    public func isHealthy() async -> Bool {
        let answer = try? await read { connection in
            try await connection.value("SELECT 1::bigint", as: Int64.self)
        }
        return answer == 1
    }

    /// The advisory lock every `migrate` takes first, so two hosts migrating at once
    /// apply each migration once: the second waits, then finds nothing to do.
    static let migrationLock: Int64 = 0x6C69_7374_6761_7465  // "listgate"

    /// Applies the pending migrations, all in one transaction under the advisory lock (a
    /// failed migration leaves the database as it was), and makes sure the generated keys
    /// exist. Returns the names it applied (empty when up to date).
    public func migrate() async throws -> [String] {
        let migrations = migrations
        return try await Self.withDeadline(.seconds(600), reason: "migrations did not finish within 10 minutes") {
          do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        name       text PRIMARY KEY,
                        checksum   text NOT NULL,
                        applied_at timestamptz NOT NULL
                    )
                    """, logger: logger)
                let pending = try await Self.pending(migrations, on: connection)
                var applied: [String] = []
                if !pending.isEmpty {
                    // A migration file is many statements (and functions' bodies); a query
                    // of the extended protocol may hold one. PL/pgSQL's EXECUTE runs a string
                    // of many, bound as a parameter, inside this transaction; the function
                    // lives in this session's temporary schema and goes with it.
                    try await connection.query("""
                        CREATE OR REPLACE FUNCTION pg_temp.listgate_apply_migration(migration text) RETURNS void
                        LANGUAGE plpgsql AS $$ BEGIN EXECUTE migration; END $$
                        """, logger: logger)
                }
                for migration in pending {
                    do {
                        try await connection.query(
                            "SELECT pg_temp.listgate_apply_migration(\(migration.sql))", logger: PostgresConnection.quiet)
                    } catch let error as PSQLError {
                        throw StoreError.migrationFailed(
                            name: migration.name, reason: error.serverInfo?[.message] ?? "\(error.code)")
                    }
                    try await connection.query(
                        "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES (\(migration.name), \(migration.checksum), now())",
                        logger: logger)
                    applied.append(migration.name)
                }
                for key in GeneratedKey.allCases {
                    try await connection.query("""
                        INSERT INTO settings (key, value, updated_at) VALUES (\(key.rawValue), \(RandomToken.hex(bytes: 32)), now())
                        ON CONFLICT (key) DO NOTHING
                        """, logger: logger)
                }
                return applied
            }
          } catch {
            let underlying = Self.unwrap(error)
            if let refusal = underlying as? PSQLError { throw Self.storeError(refusal) }
            throw underlying
          }
        }
    }

    public func checkSchema() async throws {
        let migrations = migrations
        let pending = try await read { connection in
            let exists = try await connection.value(
                "SELECT to_regclass('schema_migrations') IS NOT NULL", as: Bool.self) ?? false
            guard exists else { return migrations.count }
            return try await Self.pending(migrations, on: connection).count
        }
        guard pending == 0 else { throw StoreError.needsMigration }
    }

    /// Migrations of this build not yet applied; throws if the database knows migrations
    /// this build does not (a newer listgate migrated it), or if an applied one changed.
    static func pending(_ migrations: [Migration], on connection: PostgresConnection) async throws -> [Migration] {
        var applied: [String: String] = [:]
        for try await (name, checksum) in try await connection.query("SELECT name, checksum FROM schema_migrations", logger: PostgresConnection.quiet)
            .decode((String, String).self)
        {
            applied[name] = checksum
        }
        let known = Set(migrations.map(\.name))
        let unknown = applied.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else { throw StoreError.unknownMigrations(unknown) }
        for migration in migrations {
            if let checksum = applied[migration.name], checksum != migration.checksum {
                throw StoreError.migrationChanged(migration.name)
            }
        }
        return migrations.filter { applied[$0.name] == nil }
    }

    /// The address-hash key, read once and kept (it never changes once `migrate` made it).
    func addressHasher() async throws -> AddressHasher.Keyed {
        try await addressKey.keyed {
            guard let key = try await read({ connection in
                try await connection.value(
                    "SELECT value FROM settings WHERE key = \(GeneratedKey.addressHashKey.rawValue)", as: String.self)
            }) else { throw StoreError.needsMigration }
            return key
        }
    }
}

/// Set once an operation has its connection (withStartDeadline).
final class StartFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Runs the pool for as long as the store is open: postgres-nio's client does its work
/// (connecting, keeping alive) in `run()`, which every query waits for.
final class ClientRunner: Sendable {
    private let task: Task<Void, Never>

    init(_ client: PostgresClient) {
        task = Task { await client.run() }
    }

    func stop() { task.cancel() }

    deinit { task.cancel() }
}

/// `checkSchema` and `isHealthy` are above; every other capability is in its room's folder.
extension PostgresStore: StoreHealth {}
