// A Japanese company's files through the built binary: Excel's Japanese "CSV" (CP932,
// written here by Python's cp932 codec) with Japanese column names imports whole, from a
// file or standard input; a file in neither encoding is refused with nothing written;
// --excel exports read back through Python's csv module as Excel's UTF-8 does; addresses
// typed with the IME on are stored in ASCII; --timezone places naive times.
import Foundation
import GRDB
import Testing

private enum Japanese {
    static func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        let created = try workspace.listgate("lists", "create", "news", "--name", "お知らせ", "--from", "news@example.org")
        guard created.status == 0 else { throw WorkspaceError(message: created.stderr) }
        return workspace
    }

    /// Runs python3 with `script`, which gets the workspace directory as sys.argv[1].
    @discardableResult
    static func python(_ script: String, in workspace: Workspace) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, workspace.url.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let result = CommandResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
        guard result.status == 0 else { throw WorkspaceError(message: "python3 failed: \(result.stderr)") }
        return result
    }

    /// The people of an Excel sheet as a Japanese office keeps it. 髙 and ① are outside
    /// plain Shift_JIS (IBM and NEC extensions); ～ is 0x8160, U+FF5E in CP932.
    static let people: [(email: String, name: String, status: String, time: String)] = [
        ("taro@example.jp", "山田 太郎", "active", "2024-04-01 09:30:00"),
        ("takahashi@example.jp", "髙橋 一郎", "active", "2024/4/2 18:00"),  // as Excel writes a date cell
        ("maru@example.jp", "丸数字①～③", "pending", ""),
        ("hanako@example.co.jp", "鈴木　花子", "unsubscribed", "2023-12-31 23:59:59"),
    ]

    /// Writes the people with Japanese headers in `encoding` (a Python codec name).
    static func writeSheet(named name: String, encoding: String, in workspace: Workspace) throws -> String {
        let rows = people.map { "[\"\($0.email)\", \"\($0.name)\", \"\($0.status)\", \"\($0.time)\"]" }
        try python("""
            import csv, os, sys
            rows = [\(rows.joined(separator: ", "))]
            with open(os.path.join(sys.argv[1], "\(name)"), "w", encoding="\(encoding)", newline="") as f:
                w = csv.writer(f, lineterminator="\\r\\n")
                w.writerow(["メールアドレス", "氏名", "ステータス", "登録日時"])
                w.writerows(rows)
            """, in: workspace)
        return workspace.url.appendingPathComponent(name).path
    }



    static let subscribers =
        "SELECT a.email, s.name, s.status, s.subscribed_at FROM addresses a JOIN subscriptions s ON s.address_id = a.id ORDER BY a.email"
}

@Suite("Japanese files through the binary", .serialized)
struct JapaneseFilesCommandTests {
    @Test("a CP932 sheet from Excel with Japanese headers imports whole, names exactly as written")
    func cp932Sheet() throws {
        let workspace = try Japanese.workspace()
        let path = try Japanese.writeSheet(named: "会員名簿.csv", encoding: "cp932", in: workspace)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(String(data: bytes, encoding: .utf8) == nil, "the test file must not be UTF-8")

        let result = try workspace.listgate("import", path, "--list", "news", "--consent-note", "紙の申込書", "--quiet")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("imported 4,"), "\(result.stdout)")
        #expect(result.stdout.contains("invalid 0"), "\(result.stdout)")
        #expect(result.stderr.contains("reading it as CP932"))
        let stored = try workspace.rows(Japanese.subscribers).map { [$0[0] as String, $0[1] as String, $0[2] as String] }
        let expected = Japanese.people.map { [$0.email, $0.name, $0.status] }.sorted { $0[0] < $1[0] }
        #expect(stored == expected)
        #expect(stored.contains(["takahashi@example.jp", "髙橋 一郎", "active"]))
        #expect(stored.contains(["maru@example.jp", "丸数字①～③", "pending"]))
    }

    @Test("a CP932 sheet on standard input imports the same")
    func cp932OnStandardInput() throws {
        let workspace = try Japanese.workspace()
        let path = try Japanese.writeSheet(named: "sheet.csv", encoding: "cp932", in: workspace)
        let result = try Binary.run(
            ["import", "-", "--list", "news", "--consent-note", "紙の申込書", "--quiet"],
            input: try Data(contentsOf: URL(fileURLWithPath: path)), in: workspace)
        #expect(result.status == 0, "\(result.stderr)")
        let names = try workspace.rows(Japanese.subscribers).map { $0[1] as String }
        #expect(Set(names) == Set(Japanese.people.map(\.name)))
    }

    @Test("a file that is neither UTF-8 nor CP932 is refused and nothing is written")
    func neitherEncoding() throws {
        let workspace = try Japanese.workspace()
        // What Excel saves as "Unicode text": UTF-16 with a byte order mark.
        let path = try Japanese.writeSheet(named: "unicode.csv", encoding: "utf-16", in: workspace)
        let before = try workspace.dump()
        let result = try workspace.listgate("import", path, "--list", "news", "--consent-note", "x")
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: ") == true, "\(result.stderr)")
        #expect(result.lastErrorLine?.contains("neither UTF-8 nor CP932") == true)
        #expect(try workspace.dump() == before)

        let forced = try workspace.listgate("import", path, "--list", "news", "--encoding", "cp932")
        #expect(forced.status != 0)
        #expect(forced.lastErrorLine?.hasPrefix("error: ") == true)
        #expect(try workspace.dump() == before)
    }

    @Test("--timezone Asia/Tokyo reads naive times as Tokyo time, 9 hours before UTC; the default is UTC")
    func timeZone() throws {
        let tokyo = try Japanese.workspace()
        let path = try Japanese.writeSheet(named: "sheet.csv", encoding: "utf-8", in: tokyo)
        let result = try tokyo.listgate("import", path, "--list", "news", "--consent-note", "x", "--timezone", "Asia/Tokyo")
        #expect(result.status == 0, "\(result.stderr)")
        let times = try tokyo.rows(Japanese.subscribers).reduce(into: [String: String]()) {
            $0[$1[0] as String] = $1[3] as String?
        }
        #expect(times["taro@example.jp"] == "2024-04-01T00:30:00.000Z")
        #expect(times["takahashi@example.jp"] == "2024-04-02T09:00:00.000Z")

        let utc = try Japanese.workspace()
        let utcPath = try Japanese.writeSheet(named: "sheet.csv", encoding: "utf-8", in: utc)
        try utc.listgate("import", utcPath, "--list", "news", "--consent-note", "x")
        let utcTimes = try utc.rows(Japanese.subscribers).map { $0[3] as String? }
        #expect(utcTimes.contains("2024-04-01T09:30:00.000Z"))

        let before = try utc.dump()
        let unknown = try utc.listgate("import", utcPath, "--list", "news", "--timezone", "Tokyo/Japan")
        #expect(unknown.status != 0)
        #expect(unknown.lastErrorLine == "error: unknown time zone 'Tokyo/Japan': use an IANA name such as Asia/Tokyo, or UTC")
        #expect(try utc.dump() == before)
    }

    @Test("--excel writes UTF-8 with a byte order mark and CRLF, which Python reads back with utf-8-sig")
    func excelExport() throws {
        let workspace = try Japanese.workspace()
        let path = try Japanese.writeSheet(named: "sheet.csv", encoding: "cp932", in: workspace)
        #expect(try workspace.listgate("import", path, "--list", "news", "--consent-note", "x").status == 0)
        let output = workspace.url.appendingPathComponent("excel.csv").path
        let exported = try workspace.listgate("export", "subscribers", "--list", "news", "--status", "all", "--excel", "--output", output)
        #expect(exported.status == 0, "\(exported.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        #expect(text.hasPrefix("list,email,name,"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "every line ends in CRLF")

        let read = try Japanese.python("""
            import csv, json, os, sys
            with open(os.path.join(sys.argv[1], "excel.csv"), encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
            print(json.dumps(sorted([r["email"], r["name"], r["status"]] for r in rows), ensure_ascii=False))
            """, in: workspace)
        let expected = Japanese.people.map { [$0.email, $0.name, $0.status] }.sorted { $0[0] < $1[0] }
        let decoded = try JSONDecoder().decode([[String]].self, from: Data(read.stdout.utf8))
        #expect(decoded == expected)

        // Standard output gets the mark too, and the export imports as it is.
        let piped = try workspace.listgate("export", "subscribers", "--list", "news", "--excel")
        #expect(piped.stdout.hasPrefix("\u{FEFF}list,email,"))
        let again = try Japanese.workspace()
        let reimport = try again.listgate("import", output, "--list", "news", "--consent-note", "x")
        #expect(reimport.status == 0, "\(reimport.stderr)")
        #expect(try again.rows(Japanese.subscribers).map { $0[1] as String }.sorted()
            == Japanese.people.map(\.name).sorted())
    }

    @Test("--excel is for CSV: with --format ndjson it is an error")
    func excelNDJSON() throws {
        let workspace = try Japanese.workspace()
        let result = try workspace.listgate("export", "subscribers", "--list", "news", "--excel", "--format", "ndjson")
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: ") == true)
        #expect(result.lastErrorLine?.contains("--excel") == true)
    }

    @Test("addresses typed with the IME on are stored in ASCII, from subscribers add and from an import")
    func fullWidthAddresses() throws {
        let workspace = try Japanese.workspace()
        let added = try workspace.listgate("subscribers", "add", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ\u{3000}", "--list", "news", "--confirmed")
        #expect(added.status == 0, "\(added.stderr)")
        let path = workspace.url.appendingPathComponent("ime.csv").path
        try "メールアドレス,氏名\r\nｈａｎａｋｏ＋ｎｅｗｓ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ,鈴木 花子\r\nＴＡＲＯ＠example.jp,山田 太郎\r\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let imported = try workspace.listgate("import", path, "--list", "news", "--consent-note", "x")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("imported 1, updated 1,"), "\(imported.stdout)")
        let emails = try workspace.rows("SELECT email FROM addresses ORDER BY email").map { $0[0] as String }
        #expect(emails == ["hanako+news@example.co.jp", "taro@example.jp"])
    }
}
