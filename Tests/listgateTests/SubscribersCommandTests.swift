// `listgate subscribers …` and `listgate suppressions …`, end to end through the built
// binary: admins cause no mail, never bring back anyone who left or is suppressed, and
// `forget` leaves no copy of the address anywhere in the database's files.
import Foundation
import GRDB
import ListgateCore
import ListgateSQLite
import ListgateMail
import Testing

/// Helpers shared by both suites in this file.
private enum Fixture {
    /// A migrated workspace with the lists `news` and `other`.
    static func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        for slug in ["news", "other"] {
            let created = try workspace.listgate("lists", "create", slug, "--name", "お知らせ", "--from", "news@example.org")
            guard created.status == 0 else { throw WorkspaceError(message: created.stderr) }
        }
        return workspace
    }

    static func run(_ workspace: Workspace, _ arguments: [String]) throws -> CommandResult {
        try Binary.run(arguments + ["--db", workspace.db], in: workspace.url)
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }



    static func eventTypes(_ workspace: Workspace) throws -> [String] {
        try workspace.rows("SELECT type FROM events ORDER BY id").map { $0["type"] }
    }
}

@Suite("listgate subscribers")
struct SubscribersCommandTests {
    func find(_ workspace: Workspace, _ email: String) throws -> [[String: Any]] {
        let result = try workspace.listgate("subscribers", "find", email, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try Fixture.json(result.stdout) as? [[String: Any]])
    }

    // MARK: add

    @Test("add without --confirmed stores a pending subscription and queues no mail")
    func addPending() throws {
        let workspace = try Fixture.workspace()
        let result = try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--name", "Ada")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("pending"))
        #expect(result.stdout.contains("no mail was sent"))
        let subscription = try #require(try workspace.rows("SELECT status, source, name FROM subscriptions").first)
        #expect(subscription["status"] == "pending")
        #expect(subscription["source"] == "admin")
        #expect(subscription["name"] == "Ada")
        #expect(try workspace.rows("SELECT * FROM outbox").isEmpty)
        #expect(try workspace.rows("SELECT detail FROM events WHERE type = 'subscriber_added'").map { $0["detail"] as String }
            == [#"{"status":"pending"}"#])
    }

    @Test("add --confirmed makes the address active now")
    func addConfirmed() throws {
        let workspace = try Fixture.workspace()
        let result = try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        #expect(result.status == 0, "\(result.stderr)")
        let row = try #require(try workspace.rows("SELECT status, source, subscribed_at FROM subscriptions").first)
        #expect(row["status"] == "active")
        #expect(row["source"] == "admin")
        #expect(row["subscribed_at"] != nil as String?)
        #expect(try workspace.rows("SELECT * FROM outbox").isEmpty)
    }

    @Test("adding an active address again says so, exits 0 and changes nothing")
    func addAlreadyActive() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        let before = try workspace.dump()
        let again = try workspace.listgate("subscribers", "add", "ADA@example.org", "--list", "news", "--confirmed")
        #expect(again.status == 0)
        #expect(again.stdout.contains("already active"))
        #expect(try workspace.dump() == before)
    }

    @Test("a suppression beats add --confirmed: error, and the database is unchanged", arguments: [
        ["suppressions", "add", "ada@example.org"],
        ["suppressions", "add", "ada@example.org", "--list", "news"],
    ])
    func suppressionBeatsConfirmedAdd(_ suppress: [String]) throws {
        let workspace = try Fixture.workspace()
        #expect(try Fixture.run(workspace, suppress).status == 0)
        let before = try workspace.dump()
        let result = try workspace.listgate("subscribers", "add", "Ada@Example.org", "--list", "news", "--confirmed")
        #expect(result.status != 0)
        let error = try #require(result.lastErrorLine)
        #expect(error.hasPrefix("error: Ada@Example.org is suppressed"), "\(error)")
        #expect(try workspace.dump() == before)
    }

    @Test("an unsubscribed address is not reactivated by add, even after its suppression was removed")
    func unsubscribedIsNotReactivated() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        #expect(try workspace.listgate("subscribers", "remove", "ada@example.org", "--list", "news").status == 0)
        for step in 0..<2 {
            let before = try workspace.dump()
            let result = try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
            #expect(result.status != 0)
            #expect(result.lastErrorLine?.hasPrefix("error: ") == true)
            #expect(result.lastErrorLine?.contains("only the person's own double opt-in") == true, "\(result.stderr)")
            #expect(try workspace.dump() == before)
            #expect(try find(workspace, "ada@example.org").first?["status"] as? String == "unsubscribed")
            if step == 0 {
                // Now only the state itself keeps the admin out.
                #expect(try workspace.listgate("suppressions", "remove", "ada@example.org", "--list", "news").status == 0)
            }
        }
    }

    // MARK: remove

    @Test("remove unsubscribes, suppresses the address for that list and records both events")
    func remove() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "other", "--confirmed")
        let eventsBefore = try Fixture.eventTypes(workspace).count
        let result = try workspace.listgate("subscribers", "remove", "Ada@EXAMPLE.org", "--list", "news")
        #expect(result.status == 0, "\(result.stderr)")
        let states = try find(workspace, "ada@example.org").map { "\($0["list"] ?? "")=\($0["status"] ?? "")" }
        #expect(states == ["news=unsubscribed", "other=active"])
        let suppressions = try Fixture.json(workspace.listgate("suppressions", "list", "--json").stdout) as? [[String: Any]]
        #expect(suppressions?.map { "\($0["list"] ?? "")/\($0["reason"] ?? "")" } == ["news/unsubscribed"])
        let events = try workspace.rows("SELECT type, detail FROM events ORDER BY id").dropFirst(eventsBefore)
        #expect(events.map { $0["type"] as String } == ["unsubscribed", "suppressed"])
        #expect(events.first?["detail"] == #"{"route":"admin"}"#)
    }

    @Test("remove of an address that is not on the list is an error and changes nothing")
    func removeNotOnList() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "other", "--confirmed")
        let before = try workspace.dump()
        let result = try workspace.listgate("subscribers", "remove", "ada@example.org", "--list", "news")
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: ada@example.org is not on list 'news'")
        #expect(try workspace.dump() == before)
    }

    // MARK: find

    @Test("find --json gives exactly list, email, status, name, updated_at for every list, in any spelling")
    func findJSONShape() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "Ada@Bücher.example", "--list", "news", "--name", "エイダ", "--confirmed")
        try workspace.listgate("subscribers", "add", "ada@bücher.example", "--list", "other")
        try workspace.listgate("subscribers", "add", "bob@bücher.example", "--list", "news")
        for spelling in ["ADA@xn--bcher-kva.example", "ada@BÜCHER.example", "Ada@Bücher.example"] {
            let found = try find(workspace, spelling)
            #expect(found.count == 2, "\(spelling)")
            for entry in found {
                #expect(Set(entry.keys) == ["list", "email", "status", "name", "updated_at"])
                #expect(entry["email"] as? String == "Ada@Bücher.example")
                #expect(Timestamp.parse(entry["updated_at"] as? String ?? "") != nil)
            }
            #expect(found.map { $0["list"] as? String } == ["news", "other"])
            #expect(found.map { $0["status"] as? String } == ["active", "pending"])
            #expect(found[0]["name"] as? String == "エイダ")
            #expect(found[1]["name"] is NSNull)
        }
    }

    @Test("find of an unknown address gives an empty JSON array and exits 0")
    func findUnknown() throws {
        let workspace = try Fixture.workspace()
        #expect(try find(workspace, "nobody@example.org").isEmpty)
        let human = try workspace.listgate("subscribers", "find", "nobody@example.org")
        #expect(human.status == 0)
        #expect(human.stdout.contains("on no list"))
    }

    // MARK: forget

    static let entered = "Zebulon.Quux@Bücher.example"
    static let name = "Zebulon ゼブロン Quux"

    /// Every spelling of the person's data that could betray them in a file.
    private static func needles() throws -> [Needle] {
        let address = try EmailAddress(entered)
        return Needle.variants(of: [
            address.entered, address.identityKey, address.smtpPath, address.displayAddress, address.localPart, name,
        ])
    }

    /// Stores the person everywhere: a subscription (with a name), a pending form
    /// submission and its confirmation mail, another queued mail, a snapshot entry.
    /// Returns the open store, as a running server would keep it open.
    func storeEverywhere(_ workspace: Workspace) async throws -> SQLiteStore {
        let added = try workspace.listgate(
            "subscribers", "add", Self.entered, "--list", "news", "--name", Self.name, "--confirmed")
        #expect(added.status == 0, "\(added.stderr)")
        let store = try await SQLiteStore.openMigrated(path: workspace.db)
        let other = try #require(try await store.list(ListSlug("other")))
        let intake = Intake(
            store: store, renderer: try await AutoReplyComposer.bundled(),
            links: LinkBuilder(signer: TokenSigner(secret: try await store.secretKey()), baseURL: "http://127.0.0.1:8080"))
        let outcome = try await intake.requestSubscription(
            list: other, email: Self.entered, name: Self.name,
            origin: RequestOrigin(route: "form:/lists/other/subscribe", clientIP: "192.0.2.10", userAgent: "test"))
        #expect(outcome == .mailed)
        let recipient = try EmailAddress(Self.entered)
        _ = try await store.enqueue(NewOutboxMessage(
            messageID: "<forget-test@example.org>", listID: other.id, kind: .receipt, recipient: recipient,
            raw: Array("To: \(Self.entered)\r\nSubject: bye\r\n\r\nGoodbye \(Self.name) <\(Self.entered)>\r\n".utf8)))
        try await DatabaseQueue(path: workspace.db).write { db in
            try db.execute(sql: """
                INSERT INTO snapshots (public_id, list_id, count, sha256, created_at)
                VALUES ('snapshot-forget-0001', (SELECT id FROM lists WHERE slug = 'news'), 1, ?, '2026-01-01T00:00:00.000Z')
                """, arguments: [String(repeating: "0", count: 64)])
            try db.execute(sql: """
                INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, name, subscribed_at)
                VALUES (last_insert_rowid(), 1, ?, ?, ?, '2026-01-01T00:00:00.000Z')
                """, arguments: [recipient.identityKey, Self.entered, Self.name])
        }
        return store
    }

    @Test("forget leaves no trace of the address or name in the database file, its WAL or its shared memory")
    func forgetLeavesNoTrace() async throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "bob@example.org", "--list", "news", "--confirmed")
        // Another process keeps the database open (so the WAL is not removed when
        // `forget` exits), as `listgate serve` would.
        let server = try await storeEverywhere(workspace)
        let needles = try Self.needles()
        // The scan must be able to fail: before forget it finds the person.
        let before = try Needle.scan(databaseFiles(workspace), for: needles)
        #expect(before.contains { $0.hasPrefix("utf8 '\(Self.entered.lowercased())'") }, "\(before)")
        #expect(before.contains { $0.hasPrefix("utf8 '\(Self.name)'") }, "\(before)")
        #expect(try workspace.rows("SELECT * FROM submissions").count == 1)
        #expect(try workspace.rows("SELECT * FROM outbox").count == 2)

        let result = try workspace.listgate("subscribers", "forget", "ZEBULON.quux@xn--bcher-kva.example")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("erased 1 address, 1 subscription, 1 form submission, 2 outbox messages, 1 snapshot entry"),
                "\(result.stdout)")

        let files = databaseFiles(workspace)
        #expect(files.count >= 1)
        let after = try Needle.scan(files, for: needles)
        #expect(after.isEmpty, "found after forget: \(after)")
        #expect(FileManager.default.fileExists(atPath: workspace.db + "-wal"))
        // Everyone else is still there.
        #expect(try find(workspace, "bob@example.org").count == 1)
        #expect(await server.isHealthy())
    }

    /// The database file and whichever of its companions exist now.
    func databaseFiles(_ workspace: Workspace) -> [String] {
        [workspace.db, workspace.db + "-wal", workspace.db + "-shm", workspace.db + "-journal"]
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    @Test("after forget, add --confirmed of the same person in any spelling is refused")
    func forgetThenAddIsRefused() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        #expect(try workspace.listgate("subscribers", "forget", "ada@example.org").status == 0)
        for spelling in ["ada@example.org", "ADA@Example.ORG"] {
            let before = try workspace.dump()
            let result = try workspace.listgate("subscribers", "add", spelling, "--list", "other", "--confirmed")
            #expect(result.status != 0)
            #expect(result.lastErrorLine?.hasPrefix("error: \(spelling) is suppressed on every list") == true, "\(result.stderr)")
            #expect(try workspace.dump() == before)
        }
        let suppressions = try #require(
            try Fixture.json(workspace.listgate("suppressions", "list", "--json").stdout) as? [[String: Any]])
        let global = try #require(suppressions.first { $0["list"] is NSNull })
        #expect(global["email"] is NSNull)
        #expect(global["reason"] as? String == "forgotten")
        #expect(try Fixture.eventTypes(workspace).suffix(2) == ["suppressed", "forgotten"])
    }

    @Test("forget of an address never stored says so and still suppresses it")
    func forgetUnknown() throws {
        let workspace = try Fixture.workspace()
        let result = try workspace.listgate("subscribers", "forget", "ghost@example.org")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("stored nothing"))
        let refused = try workspace.listgate("subscribers", "add", "ghost@example.org", "--list", "news", "--confirmed")
        #expect(refused.status != 0)
    }

    // MARK: bad input

    static let badInvocations: [(arguments: [String], error: String)] = [
        (["subscribers", "add", "not-an-address", "--list", "news"], "error: invalid address: "),
        (["subscribers", "add", "a@example.org, b@example.org", "--list", "news", "--confirmed"], "error: invalid address: "),
        (["subscribers", "add", "a@example.org\r\nBcc: b@example.org", "--list", "news"], "error: invalid address: "),
        (["subscribers", "add", "a@example.org", "--list", "nope", "--confirmed"], "error: no list named 'nope'"),
        (["subscribers", "add", "a@example.org", "--list", "News"], "error: invalid list slug 'News'"),
        (["subscribers", "add", "a@example.org", "--list", "news", "--name", "A\nBcc: b@example.org"], "error: invalid name"),
        (["subscribers", "add", "a@example.org"], "error: "),
        (["subscribers", "remove", "ada@example.org", "--list", "nope"], "error: no list named 'nope'"),
        (["subscribers", "remove", "bad", "--list", "news"], "error: invalid address: "),
        (["subscribers", "find", "bad@"], "error: invalid address: "),
        (["subscribers", "forget", "bad"], "error: invalid address: "),
        (["subscribers", "forget", "ada@example.org; b@example.org"], "error: invalid address: "),
        (["suppressions", "add", "bad"], "error: invalid address: "),
        (["suppressions", "add", "ada@example.org", "--list", "nope"], "error: no list named 'nope'"),
        (["suppressions", "remove", "ghost@example.org"], "error: ghost@example.org is not suppressed on every list"),
        (["suppressions", "remove", "ada@example.org", "--list", "nope"], "error: no list named 'nope'"),
    ]

    @Test("bad input is an error, last on stderr, and changes nothing", arguments: badInvocations)
    func badInput(_ arguments: [String], _ error: String) throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        let before = try workspace.dump()
        let result = try Fixture.run(workspace, arguments)
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix(error) == true, "last stderr line: \(result.lastErrorLine ?? "none")")
        #expect(try workspace.dump() == before)
    }

    @Test("the commands refuse an unmigrated database")
    func unmigrated() throws {
        let workspace = try Workspace()
        _ = FileManager.default.createFile(atPath: workspace.db, contents: Data())
        let result = try workspace.listgate("subscribers", "find", "ada@example.org")
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: database needs migration: run listgate migrate")
    }
}

@Suite("listgate suppressions")
struct SuppressionsCommandTests {
    func list(_ workspace: Workspace) throws -> [[String: Any]] {
        let result = try workspace.listgate("suppressions", "list", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try Fixture.json(result.stdout) as? [[String: Any]])
    }

    @Test("add, list --json and remove round trip, each recorded")
    func roundTrip() throws {
        let workspace = try Fixture.workspace()
        let eventsBefore = try Fixture.eventTypes(workspace).count
        #expect(try workspace.listgate("suppressions", "add", "ada@example.org").status == 0)
        #expect(try workspace.listgate("suppressions", "add", "bob@example.org", "--list", "news").status == 0)
        let listed = try list(workspace)
        #expect(listed.count == 2)
        for entry in listed {
            #expect(Set(entry.keys) == ["email", "address_hash", "list", "reason", "created_at"])
            #expect(entry["email"] is NSNull)  // never stored: only the hash is known
            #expect((entry["address_hash"] as? String)?.count == 64)
            #expect(entry["reason"] as? String == "admin")
        }
        #expect(listed[0]["list"] is NSNull)
        #expect(listed[1]["list"] as? String == "news")

        let removed = try workspace.listgate("suppressions", "remove", "ADA@example.org")
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try list(workspace).map { $0["list"] as? String } == ["news"])
        let removedScoped = try workspace.listgate("suppressions", "remove", "bob@example.org", "--list", "news")
        #expect(removedScoped.status == 0, "\(removedScoped.stderr)")
        #expect(try list(workspace).isEmpty)
        let events = try workspace.rows("SELECT type, detail FROM events ORDER BY id").dropFirst(eventsBefore)
        #expect(events.map { $0["type"] as String } == ["suppressed", "suppressed", "unsuppressed", "unsuppressed"])
        #expect(events.allSatisfy { ($0["detail"] as String).contains(#""reason":"admin""#) })
    }

    @Test("list shows the address while it is stored")
    func listShowsStoredAddress() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "Ada@Example.org", "--list", "news")
        try workspace.listgate("suppressions", "add", "ada@example.org", "--list", "other")
        #expect(try list(workspace).first?["email"] as? String == "Ada@Example.org")
    }

    @Test("add ends an active subscription (route admin); a global one ends them on every list")
    func addEndsSubscriptions() throws {
        let workspace = try Fixture.workspace()
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "news", "--confirmed")
        try workspace.listgate("subscribers", "add", "ada@example.org", "--list", "other", "--confirmed")
        #expect(try workspace.listgate("suppressions", "add", "ada@example.org", "--list", "news").status == 0)
        var states = try workspace.rows("SELECT status FROM subscriptions ORDER BY list_id").map { $0["status"] as String }
        #expect(states == ["unsubscribed", "active"])
        let global = try workspace.listgate("suppressions", "add", "ada@example.org")
        #expect(global.stdout.contains("unsubscribed from: other"))
        states = try workspace.rows("SELECT status FROM subscriptions ORDER BY list_id").map { $0["status"] as String }
        #expect(states == ["unsubscribed", "unsubscribed"])
        let routes = try workspace.rows("SELECT detail FROM events WHERE type = 'unsubscribed'").map { $0["detail"] as String }
        #expect(routes == [#"{"route":"admin"}"#, #"{"route":"admin"}"#])
    }

    @Test("a suppression left by forget is removed only with --forgotten")
    func forgottenNeedsFlag() throws {
        let workspace = try Fixture.workspace()
        #expect(try workspace.listgate("subscribers", "forget", "ada@example.org").status == 0)
        let before = try workspace.dump()
        let refused = try workspace.listgate("suppressions", "remove", "ada@example.org")
        #expect(refused.status != 0)
        #expect(refused.lastErrorLine?.hasPrefix("error: ") == true)
        #expect(refused.lastErrorLine?.contains("--forgotten") == true, "\(refused.stderr)")
        #expect(try workspace.dump() == before)
        let removed = try workspace.listgate("suppressions", "remove", "ada@example.org", "--forgotten")
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try list(workspace).isEmpty)
        #expect(try Fixture.eventTypes(workspace).last == "unsuppressed")
    }

    @Test("remove --help explains --forgotten")
    func help() throws {
        let result = try Binary.run(["suppressions", "remove", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--forgotten"))
        #expect(result.stdout.contains("subscribers forget"))
    }
}

/// One way the person's data could be written in a file, and a scanner for it.
private struct Needle: Sendable {
    let label: String
    let bytes: Data
    /// Compare after folding ASCII letters to lower case in both (a case-insensitive match).
    let folded: Bool

    static func variants(of texts: [String]) -> [Needle] {
        var needles: [Needle] = []
        for text in texts {
            let forms = Set([
                text, text.lowercased(), text.uppercased(),
                text.precomposedStringWithCanonicalMapping, text.decomposedStringWithCanonicalMapping,
                text.lowercased().decomposedStringWithCanonicalMapping,
            ])
            for form in forms.sorted() {
                needles.append(Needle(label: "utf8 '\(form)'", bytes: Data(form.utf8), folded: true))
                let units = Array(form.utf16)
                needles.append(Needle(
                    label: "utf16le '\(form)'", bytes: Data(units.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }), folded: true))
                needles.append(Needle(
                    label: "utf16be '\(form)'", bytes: Data(units.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }), folded: true))
                // Escaped forms mail and web code use for "@".
                for (name, escaped) in [("%40", "%40"), ("=40", "=40"), ("&#64;", "&#64;"), ("＠", "＠")]
                where form.contains("@") {
                    let text = form.replacingOccurrences(of: "@", with: escaped)
                    needles.append(Needle(label: "utf8 \(name) '\(text)'", bytes: Data(text.utf8), folded: true))
                }
                if let percent = form.addingPercentEncoding(withAllowedCharacters: .alphanumerics), percent != form {
                    needles.append(Needle(label: "percent '\(percent)'", bytes: Data(percent.utf8), folded: true))
                }
            }
            // Base64 (a MIME body) at each of the three byte alignments; exact case.
            for shift in 0..<3 {
                let bytes = Array(repeating: UInt8(ascii: "x"), count: shift) + Array(text.utf8)
                let encoded = Array(Data(bytes).base64EncodedString())
                let start = shift == 0 ? 0 : 4
                let end = (bytes.count / 3) * 4
                if end - start >= 8 {
                    let core = String(encoded[start..<end])
                    needles.append(Needle(label: "base64+\(shift) '\(text)'", bytes: Data(core.utf8), folded: false))
                }
            }
        }
        return needles
    }

    /// The file's bytes, read by a child process: opening and closing the file here would
    /// drop this process's POSIX locks on it, and with them the open store's claim that
    /// the database is in use (SQLite would then delete the WAL instead of truncating it).
    static func contents(of path: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cat")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw WorkspaceError(message: "cannot read \(path)") }
        return data
    }

    static func fold(_ data: Data) -> Data {
        Data(data.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 })
    }

    /// Labels of every needle found, with the file it was found in.
    static func scan(_ paths: [String], for needles: [Needle]) throws -> [String] {
        var found: [String] = []
        for path in paths {
            let raw = try contents(of: path)
            let folded = fold(raw)
            for needle in needles {
                let haystack = needle.folded ? folded : raw
                let bytes = needle.folded ? fold(needle.bytes) : needle.bytes
                if haystack.range(of: bytes) != nil {
                    found.append("\(needle.label) in \(URL(fileURLWithPath: path).lastPathComponent)")
                }
            }
        }
        return found
    }
}
