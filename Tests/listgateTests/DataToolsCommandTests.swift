// `listgate import`, `listgate export` and `listgate events verify` through the built
// binary: a 10,000-row round trip, bad rows reported and skipped, suppression winning,
// no mail from an import (a real SMTP server receives nothing), formula cells
// neutralised, a tampered ledger found, and failures that leave the database untouched.
import Foundation
import GRDB
import ListgateCore
import ListgateTestSupport
import Testing

private enum Data10k {
    /// Rows with the awkward cells real files have: Japanese, quotes, commas, a line
    /// break inside quotes, and cells a spreadsheet would run as formulas.
    static func csv(count: Int) -> String {
        var lines = ["email,name"]
        for index in 0..<count {
            let name: String =
                switch index % 6 {
                case 0: "山田 \(index)"
                case 1: "\"Smith, \"\"J\"\" \(index)\""
                case 2: "=HYPERLINK(\(index))"
                case 3: "-\(index)"
                case 4: ""
                default: "User \(index)"
                }
            let email = index % 100 == 7 ? "+tag\(index)@example.org" : "user\(index)@example\(index % 7).org"
            lines.append("\(email),\(name)")
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

/// Helpers shared by the suites in this file.
private enum Tool {
    static func workspace(lists: [String] = ["news"]) throws -> Workspace {
        let workspace = try Workspace().migrated()
        for slug in lists {
            let created = try workspace.listgate("lists", "create", slug, "--name", "お知らせ", "--from", "news@example.org")
            guard created.status == 0 else { throw WorkspaceError(message: created.stderr) }
        }
        return workspace
    }

    static func write(_ text: String, to name: String, in workspace: Workspace) throws -> String {
        let path = workspace.url.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }


    static func count(_ workspace: Workspace, _ sql: String) throws -> Int {
        try DatabaseQueue(path: workspace.db).read { try Int.fetchOne($0, sql: sql) ?? -1 }
    }


    /// The binary under a pseudo-terminal (util-linux `script`), as a person at a
    /// terminal runs it; what the terminal showed comes back as stdout.
    static func runOnTerminal(_ arguments: [String], in workspace: Workspace) throws -> CommandResult {
        let command = ([Binary.url.path] + arguments + ["--db", workspace.db]).map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        process.currentDirectoryURL = workspace.url
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: "")
    }

    /// CSV data lines (header dropped), sorted, with the list column removed.
    static func sortedRecords(_ csv: String) -> [String] {
        csv.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }.sorted()
    }
}

@Suite("listgate import and export", .serialized)
struct DataToolsCommandTests {
    @Test("10,000 rows: import, export, import the export elsewhere, export again: the same rows")
    func roundTrip() throws {
        let first = try Tool.workspace()
        let file = try Tool.write(Data10k.csv(count: 10_000), to: "members.csv", in: first)
        let imported = try first.listgate("import", file, "--list", "news", "--consent-note", "signed up on the 2025 paper form")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.hasPrefix("imported 10000, updated 0, skipped 0, invalid 0, suppressed 0"))
        #expect(imported.stderr.isEmpty)
        #expect(try Tool.count(first, "SELECT count(*) FROM subscriptions WHERE status = 'active'") == 10_000)
        #expect(try Tool.count(first, "SELECT count(*) FROM events WHERE type = 'imported'") == 10_000)

        let exported = try first.listgate("export", "subscribers", "--list", "news", "--status", "all")
        #expect(exported.status == 0, "\(exported.stderr)")
        let lines = exported.stdout.components(separatedBy: "\r\n")
        #expect(lines[0] == "list,email,name,status,subscribed_at,unsubscribed_at,source")
        #expect(lines.count == 10_002)  // header, rows, and the empty string after the last CRLF
        #expect(lines.contains { $0.hasPrefix("news,user0@example0.org,山田 0,active,") })
        #expect(lines.contains { $0.hasPrefix(#"news,user1@example1.org,"Smith, ""J"" 1",active,"#) })

        let second = try Tool.workspace()
        let copy = try Tool.write(exported.stdout, to: "export.csv", in: second)
        let reimported = try second.listgate("import", copy, "--list", "news")
        #expect(reimported.status == 0, "\(reimported.stderr)")
        #expect(reimported.stdout.hasPrefix("imported 10000, updated 0, skipped 0, invalid 0, suppressed 0"))
        // Without a consent note they are pending, not active.
        #expect(try Tool.count(second, "SELECT count(*) FROM subscriptions WHERE status = 'pending'") == 10_000)
        let reexported = try second.listgate("export", "subscribers", "--list", "news", "--status", "all")
        let pendingToActive = Tool.sortedRecords(reexported.stdout).map {
            $0.replacingOccurrences(of: ",pending,,,import", with: ",active,")
        }
        let original = Tool.sortedRecords(exported.stdout).map { line in
            // subscribed_at is not kept for a pending row; compare without it.
            line.replacingOccurrences(of: #",active,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,,import$"#, with: ",active,", options: .regularExpression)
        }
        #expect(pendingToActive == original)
    }

    @Test("an export imported with a consent note comes back identical, subscribed_at included (CSV and NDJSON)")
    func exactRoundTrip() throws {
        let first = try Tool.workspace()
        try first.listgate("import", try Tool.write(Data10k.csv(count: 600), to: "m.csv", in: first), "--list", "news", "--consent-note", "x")
        for format in ["csv", "ndjson"] {
            let exported = try first.listgate("export", "subscribers", "--list", "news", "--format", format)
            let second = try Tool.workspace()
            let file = try Tool.write(exported.stdout, to: "export.\(format)", in: second)
            let result = try second.listgate("import", file, "--list", "news", "--consent-note", "moved from the old server")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("imported 600,"))
            let again = try second.listgate("export", "subscribers", "--list", "news", "--format", format)
            func lines(_ text: String) -> [String] {
                text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n").filter { !$0.isEmpty }.sorted()
            }
            let before = lines(exported.stdout), after = lines(again.stdout)
            #expect(before.count == (format == "csv" ? 601 : 600))
            #expect(after == before, "\(format): \(Set(after).symmetricDifference(before).prefix(4))")
        }
    }

    @Test("malformed rows are reported on stderr with their line numbers and skipped; every valid row is imported")
    func malformedRows() throws {
        let workspace = try Tool.workspace()
        let file = try Tool.write("""
            email,name
            ok1@example.org,One
            not-an-address,Two
            ok2@example.org,"Two, quoted"
            ok3@example.org,Three,extra
            "ok4@example.org",Four
            two@@example.org,Five
            ok5@example.org,"never closed
            ok6@example.org,Six

            ok7@example.org,Seven
            """, to: "bad.csv", in: workspace)
        let result = try workspace.listgate("import", file, "--list", "news", "--consent-note", "x")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n") == [
            "line 3: invalid email 'not-an-address': the address has no @",
            "line 5: expected 2 fields as in the header, found 3",
            "line 7: invalid email 'two@@example.org': the address has more than one @",
            "line 8: a double quote opened in this row is never closed; the line was skipped",
        ])
        #expect(result.stdout.hasPrefix("imported 5, updated 0, skipped 0, invalid 4, suppressed 0"))
        let emails = try workspace.rows("SELECT email FROM addresses ORDER BY email").map { $0[0] as String }
        #expect(emails == ["ok1@example.org", "ok2@example.org", "ok4@example.org", "ok6@example.org", "ok7@example.org"])
    }

    @Test("a stray quote costs only its own line: the valid rows after it are imported")
    func strayQuotes() throws {
        let workspace = try Tool.workspace()
        let file = try Tool.write("""
            email,name
            ok1@example.org,Bob "the" Builder
            ok2@example.org,"Two
            ok3@example.org,Three
            ok4@example.org,"Four"
            ok5@example.org,"Five
            ok6@example.org,Six
            ok7@example.org,"
            ok8@example.org,Eight

            """, to: "quotes.csv", in: workspace)
        let result = try workspace.listgate("import", file, "--list", "news", "--consent-note", "x")
        #expect(result.status == 0, "\(result.stderr)")
        let unclosed = "a double quote opened in this row is not closed on the same line; only this line was skipped "
            + #"(inside a quoted field, write a double quote as "")"#
        #expect(result.stderr.split(separator: "\n").map(String.init) == [
            "line 2: a double quote inside a field that does not start with one "
                + #"(put the whole field in double quotes and write the quote as "", e.g. "Bob ""the"" Builder")"#,
            "line 3: " + unclosed,
            "line 6: " + unclosed,
            "line 8: a double quote opened in this row is never closed; the line was skipped",
        ])
        #expect(result.stdout.hasPrefix("imported 4, updated 0, skipped 0, invalid 4, suppressed 0"))
        let rows = try workspace.rows("SELECT a.email, s.name FROM addresses a JOIN subscriptions s ON s.address_id = a.id ORDER BY a.email")
        #expect(rows.map { [$0[0] as String, $0[1] as String] } == [
            ["ok3@example.org", "Three"], ["ok4@example.org", "Four"], ["ok6@example.org", "Six"], ["ok8@example.org", "Eight"],
        ])
    }

    @Test("suppressed addresses are skipped and counted, whether suppressed for the list or everywhere")
    func suppressedRows() throws {
        let workspace = try Tool.workspace()
        #expect(try workspace.listgate("suppressions", "add", "blocked@example.org").status == 0)
        #expect(try workspace.listgate("subscribers", "add", "left@example.org", "--list", "news", "--confirmed").status == 0)
        #expect(try workspace.listgate("subscribers", "remove", "left@example.org", "--list", "news").status == 0)
        let file = try Tool.write("email\nBlocked@example.org\nleft@example.org\nnew@example.org\n", to: "s.csv", in: workspace)
        let result = try workspace.listgate("import", file, "--list", "news", "--consent-note", "x")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("imported 1, updated 0, skipped 0, invalid 0, suppressed 2"))
        let states = try workspace.rows("""
            SELECT a.identity_key, s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id ORDER BY 1
            """).map { "\($0[0] as String)=\($0[1] as String)" }
        #expect(states == ["left@example.org=unsubscribed", "new@example.org=active"])
    }

    @Test("without a consent note rows are stored pending, and the summary says so")
    func pendingWithoutConsent() throws {
        let workspace = try Tool.workspace()
        let file = try Tool.write("email,status\na@example.org,active\nb@example.org,\nc@example.org,pending\n", to: "p.csv", in: workspace)
        let result = try workspace.listgate("import", file, "--list", "news", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["imported"] as? Int == 3)
        #expect(summary["pending_without_consent"] as? Int == 2)
        #expect(try Tool.count(workspace, "SELECT count(*) FROM subscriptions WHERE status = 'pending'") == 3)
    }

    @Test("standard input is read for -, and NDJSON is read by --format")
    func standardInput() throws {
        let workspace = try Tool.workspace()
        let input = Data("""
            {"email":"a@example.org","name":"Ada","consent_note":"phone call 2025-03-01"}
            {"email":"b@example.org"}
            {"email":"nope"}
            """.utf8)
        let result = try Binary.run(["import", "-", "--list", "news", "--format", "ndjson"], input: input, in: workspace)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("imported 2, updated 0, skipped 0, invalid 1, suppressed 0"))
        #expect(result.stderr == "line 3: invalid email 'nope': the address has no @\n")
        let detail = try workspace.rows("SELECT detail FROM events WHERE type = 'imported' AND detail LIKE '%phone call%'")
        #expect(detail.count == 1)
    }

    @Test("the CSV export neutralises cells a spreadsheet would run as formulas")
    func formulaCells() throws {
        let workspace = try Tool.workspace()
        let file = try Tool.write("""
            email,name
            =evil@example.org,=cmd|' /C calc'!A0
            +tag@example.org,+81 3 1234
            -dash@example.org,-2+3
            plain@example.org,@SUM(A1)
            """, to: "f.csv", in: workspace)
        #expect(try workspace.listgate("import", file, "--list", "news", "--consent-note", "x").status == 0)
        let exported = try workspace.listgate("export", "subscribers", "--list", "news")
        #expect(exported.status == 0)
        let lines = Set(exported.stdout.components(separatedBy: "\r\n").map { $0.components(separatedBy: ",active,").first ?? $0 })
        #expect(lines.isSuperset(of: [
            #"news,"'=evil@example.org","'=cmd|' /C calc'!A0""#, #"news,"'+tag@example.org","'+81 3 1234""#,
            #"news,"'-dash@example.org","'-2+3""#, #"news,plain@example.org,"'@SUM(A1)""#,
        ]))
        // NDJSON is data, not a spreadsheet: values as they are.
        let ndjson = try workspace.listgate("export", "subscribers", "--list", "news", "--format", "ndjson")
        #expect(ndjson.stdout.contains(#""email":"=evil@example.org","name":"=cmd|' /C calc'!A0""#))
    }

    @Test("an import sends nothing: a running server's real SMTP server receives no mail, and the outbox stays empty")
    func importSendsNoMail() async throws {
        let server = try await RunningServer()
        let file = try Tool.write(
            "email,status,consent_note\na@example.org,,\nb@example.org,active,booth\nc@example.org,pending,\nd@example.org,unsubscribed,\n",
            to: "n.csv", in: server.workspace)
        let result = try server.workspace.listgate("import", file, "--list", "news")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("imported 4,"))
        // The worker polls every 200 ms; give it ten times that to send anything queued.
        try await Task.sleep(for: .seconds(2))
        #expect(try server.sink.messages().isEmpty)
        #expect(try Tool.count(server.workspace, "SELECT count(*) FROM outbox") == 0)
        // The same server does send mail: the silence above is the import's, not a broken pipe.
        let posted = try await server.request("POST", "/lists/news/subscribe", form: ["email": "e@example.org"])
        #expect(posted.status == 200)
        let received = try await server.sink.waitForMessages(count: 1, timeout: .seconds(10))
        #expect(received.map(\.rcptTos) == [["e@example.org"]])
    }

    @Test("export --output writes the file (owner-only) and leaves no partial file behind")
    func outputFile() throws {
        let workspace = try Tool.workspace()
        try workspace.listgate("import", try Tool.write("email\na@example.org\n", to: "a.csv", in: workspace), "--list", "news", "--consent-note", "x")
        let path = workspace.url.appendingPathComponent("out.ndjson").path
        let result = try workspace.listgate("export", "subscribers", "--list", "news", "--output", path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "exported 1 subscriptions of 'news' to \(path)\n")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix(#"{"list":"news","email":"a@example.org","name":null,"status":"active","#))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace.url.path).filter { $0.contains(".partial-") }
        #expect(leftovers.isEmpty)
    }

    @Test("errors leave the database untouched: unknown list, missing email column, unreadable file")
    func failuresChangeNothing() throws {
        let workspace = try Tool.workspace()
        let before = try workspace.dump()
        let good = try Tool.write("email\na@example.org\n", to: "good.csv", in: workspace)
        let noEmail = try Tool.write("mail,name\na@example.org,A\n", to: "noemail.csv", in: workspace)
        let cases: [([String], String)] = [
            (["import", good, "--list", "missing"], "error: no list named 'missing'"),
            (["import", noEmail, "--list", "news"],
             "error: the CSV header has no email column (found: mail, name); the first row must name the columns, e.g. email,name or メールアドレス,氏名"),
            (["import", workspace.url.appendingPathComponent("absent.csv").path, "--list", "news"],
             "error: cannot read \(workspace.url.appendingPathComponent("absent.csv").path): No such file or directory"),
            (["import", workspace.url.path, "--list", "news"], "error: cannot read \(workspace.url.path): it is a directory"),
            (["import", good, "--list", "news", "--consent-note", "two\nlines"],
             "error: invalid consent note: it contains a control character (e.g. a line break)"),
            (["export", "subscribers", "--list", "missing"], "error: no list named 'missing'"),
            (["export", "events", "--since", "last week"],
             "error: invalid --since 'last week': use RFC 3339, e.g. 2026-01-01T00:00:00Z, or a date, e.g. 2026-01-01"),
        ]
        for (arguments, message) in cases {
            let result = try Binary.run(arguments + ["--db", workspace.db], in: workspace.url)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.lastErrorLine == message)
        }
        #expect(try workspace.dump() == before)
    }

    @Test("progress: a line with rows, rate and ETA on a terminal, cleared at the end; none with --quiet or off a terminal")
    func progress() throws {
        let workspace = try Tool.workspace()
        let file = try Tool.write(Data10k.csv(count: 30_000), to: "p.csv", in: workspace)
        let onTerminal = try Tool.runOnTerminal(["import", file, "--list", "news", "--consent-note", "x"], in: workspace)
        #expect(onTerminal.status == 0)
        #expect(onTerminal.stdout.contains("rows ("))
        #expect(onTerminal.stdout.contains("rows/s"))
        #expect(onTerminal.stdout.contains("\r\u{1B}[Kimported 30000, updated 0"), "the line is cleared before the summary")
        let quiet = try Tool.runOnTerminal(["export", "subscribers", "--list", "news", "--quiet", "--output", "q.csv"], in: workspace)
        #expect(quiet.status == 0)
        #expect(!quiet.stdout.contains("\u{1B}[K"))
        let piped = try workspace.listgate("import", file, "--list", "news")
        #expect(piped.stderr.isEmpty)
    }
}

@Suite("listgate export events and events verify", .serialized)
struct LedgerCommandTests {
    func workspaceWithEvents() throws -> Workspace {
        let workspace = try Tool.workspace(lists: ["news", "other"])
        let file = try Tool.write("email\na@example.org\nb@example.org\n", to: "e.csv", in: workspace)
        #expect(try workspace.listgate("import", file, "--list", "news", "--consent-note", "紙の申込書").status == 0)
        #expect(try workspace.listgate("subscribers", "add", "c@example.org", "--list", "other").status == 0)
        return workspace
    }

    @Test("export events writes the ledger with its hash chain; --list keeps one list's events")
    func exportEvents() throws {
        let workspace = try workspaceWithEvents()
        let all = try workspace.listgate("export", "events")
        #expect(all.status == 0, "\(all.stderr)")
        let lines = all.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines[0] == "id,occurred_at,type,list,address_hash,source,consent_version,detail,prev_hash,hash")
        #expect(lines.count == 1 + 5)  // two lists created, two imported, one added
        #expect(!all.stdout.contains("@example.org"), "the ledger holds hashes, never addresses")
        let news = try workspace.listgate("export", "events", "--list", "news", "--format", "ndjson")
        let objects = try news.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["type"] as? String } == ["list_created", "imported", "imported"])
        let detail = try #require(objects[1]["detail"] as? [String: Any])
        #expect(detail["consent_note"] as? String == "紙の申込書")
        #expect((objects[2]["prev_hash"] as? String) == (objects[1]["hash"] as? String))
        let future = try workspace.listgate("export", "events", "--since", "2999-01-01")
        #expect(future.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 1)
    }

    @Test("events verify passes an intact ledger and names an event edited with the sqlite3 tool")
    func tamperedEvent() throws {
        let workspace = try workspaceWithEvents()
        let intact = try workspace.listgate("events", "verify")
        #expect(intact.status == 0, "\(intact.stderr)")
        #expect(intact.stdout.hasPrefix("ledger intact: 5 events sealed, head hash "))

        // Someone with the file drops the append-only trigger and rewrites a consent record.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [workspace.db, """
            DROP TRIGGER events_are_append_only_update;
            UPDATE events SET detail = json_set(detail, '$.consent_note', 'web form') WHERE id = 3;
            """]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)

        let broken = try workspace.listgate("events", "verify")
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("warning: the triggers that make events and their chain append-only are missing"))
        #expect(broken.lastErrorLine
            == "error: ledger broken: event 3 (chain position 3) does not match its hash: it was changed after it was recorded (the 2 events before it are intact)")
        let json = try workspace.listgate("events", "verify", "--json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(document["ok"] as? Bool == false)
        #expect(document["sealed"] as? Int == 2)
        #expect(document["problem"] as? String
            == "event 3 (chain position 3) does not match its hash: it was changed after it was recorded")
        // The keys earlier versions printed, kept for scripts that read them.
        #expect(document["intact"] as? Bool == false)
        #expect(document["first_broken_event"] as? Int == 3)
        #expect(document["append_only_triggers"] as? Bool == false)
    }
}
