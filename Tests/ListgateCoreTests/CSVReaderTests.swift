// Specification of the streaming CSV reader (RFC 4180): quoting, line endings, byte
// order mark, line numbers, and recovery from rows that cannot be read. Every case is
// also read in tiny chunks, so record boundaries fall everywhere in the buffer.
import Foundation
import Testing
@testable import ListgateCore

enum Parsed: Equatable, CustomStringConvertible {
    case record(Int, [String])
    case problem(Int, String)

    var description: String {
        switch self {
        case .record(let line, let fields): "\(line): \(fields)"
        case .problem(let line, let message): "\(line): ! \(message)"
        }
    }

    var line: Int {
        switch self {
        case .record(let line, _), .problem(let line, _): line
        }
    }
}

func readCSV(_ bytes: [UInt8], chunkSize: Int = .max, maxRecordBytes: Int = 1 << 20) throws -> [Parsed] {
    let reader = CSVReader(
        source: InMemoryByteSource(bytes, chunkSize: chunkSize), chunkSize: 16, maxRecordBytes: maxRecordBytes)
    var items: [Parsed] = []
    while let item = try reader.next() {
        switch item {
        case .record(let line): items.append(.record(line, reader.fields))
        case .problem(let line, let message): items.append(.problem(line, message))
        }
    }
    return items
}

func readCSV(_ text: String, chunkSize: Int = .max) throws -> [Parsed] {
    try readCSV(Array(text.utf8), chunkSize: chunkSize)
}

@Suite("CSV reader")
struct CSVReaderTests {
    static let chunkSizes = [1, 2, 3, 5, 64, Int.max]

    @Test("plain rows with LF line ends", arguments: chunkSizes)
    func plainRows(chunkSize: Int) throws {
        #expect(try readCSV("email,name\na@example.org,Ada\nb@example.org,Bob\n", chunkSize: chunkSize) == [
            .record(1, ["email", "name"]), .record(2, ["a@example.org", "Ada"]), .record(3, ["b@example.org", "Bob"]),
        ])
    }

    @Test("CRLF, a lone CR and a last line without a line end all end records", arguments: chunkSizes)
    func lineEnds(chunkSize: Int) throws {
        #expect(try readCSV("a,b\r\nc,d\re,f\ng,h", chunkSize: chunkSize) == [
            .record(1, ["a", "b"]), .record(2, ["c", "d"]), .record(3, ["e", "f"]), .record(4, ["g", "h"]),
        ])
    }

    @Test("quoted fields keep commas, doubled quotes become one quote", arguments: chunkSizes)
    func quoting(chunkSize: Int) throws {
        #expect(try readCSV(#""a,b","say ""hi""",""\#n"#, chunkSize: chunkSize) == [
            .record(1, ["a,b", #"say "hi""#, ""]),
        ])
    }

    @Test("a quoted field may span lines; later records keep their physical line numbers", arguments: chunkSizes)
    func embeddedLineBreaks(chunkSize: Int) throws {
        let text = "email,note\r\na@example.org,\"first\r\nsecond\nthird\"\r\nb@example.org,x\r\n"
        #expect(try readCSV(text, chunkSize: chunkSize) == [
            .record(1, ["email", "note"]),
            .record(2, ["a@example.org", "first\r\nsecond\nthird"]),
            .record(5, ["b@example.org", "x"]),
        ])
    }

    @Test("a UTF-8 byte order mark is skipped", arguments: chunkSizes)
    func byteOrderMark(chunkSize: Int) throws {
        #expect(try readCSV([0xEF, 0xBB, 0xBF] + Array("email\nあ@example.jp\n".utf8), chunkSize: chunkSize) == [
            .record(1, ["email"]), .record(2, ["あ@example.jp"]),
        ])
    }

    @Test("empty fields, a trailing comma and blank lines", arguments: chunkSizes)
    func emptyFields(chunkSize: Int) throws {
        #expect(try readCSV("a,,c,\n\n\r\n,\n", chunkSize: chunkSize) == [
            .record(1, ["a", "", "c", ""]), .record(4, ["", ""]),
        ])
    }

    @Test("a quote never closed is reported on its line and reading resumes on the next line", arguments: chunkSizes)
    func unclosedQuote(chunkSize: Int) throws {
        let items = try readCSV("email\n\"a@example.org\nb@example.org\nc@example.org\n", chunkSize: chunkSize)
        #expect(items.count == 4)
        #expect(items[0] == .record(1, ["email"]))
        guard case .problem(2, let message) = items[1] else {
            Issue.record("expected a problem on line 2, got \(items[1])")
            return
        }
        #expect(message.contains("never closed"))
        #expect(Array(items[2...]) == [.record(3, ["b@example.org"]), .record(4, ["c@example.org"])])
    }

    @Test("text after a closing quote makes that row a problem; the next row is read", arguments: chunkSizes)
    func textAfterClosingQuote(chunkSize: Int) throws {
        let items = try readCSV("\"a\"b,c\nd,e\n", chunkSize: chunkSize)
        #expect(items.map(\.line) == [1, 2])
        guard case .problem(_, let message) = items[0] else {
            Issue.record("expected a problem, got \(items[0])")
            return
        }
        #expect(message.contains("after a closing double quote"))
        #expect(items[1] == .record(2, ["d", "e"]))
    }

    @Test("a double quote inside an unquoted field makes that row a problem; the next row is read", arguments: chunkSizes)
    func quoteInsideUnquotedField(chunkSize: Int) throws {
        let items = try readCSV("email,name\na@example.org,Bob \"the\" Builder\nb@example.org,Bo\"\nc@example.org,C\n",
                                chunkSize: chunkSize)
        #expect(items.map(\.line) == [1, 2, 3, 4])
        for item in items[1...2] {
            guard case .problem(_, let message) = item else {
                Issue.record("expected a problem, got \(item)")
                continue
            }
            #expect(message.contains("a double quote inside a field that does not start with one"))
        }
        #expect(items[3] == .record(4, ["c@example.org", "C"]))
    }

    @Test("a quote that closes rows later in a broken record costs only its first line", arguments: chunkSizes)
    func strayQuoteClosingLater(chunkSize: Int) throws {
        let text = "email,name\na@example.org,\"Bob\nb@example.org,Carol\r\nc@example.org,\"Dave\"\nd@example.org,Eve\n"
        #expect(try readCSV(text, chunkSize: chunkSize) == [
            .record(1, ["email", "name"]),
            .problem(2, CSVReader.unclosedQuoteMessage),
            .record(3, ["b@example.org", "Carol"]),
            .record(4, ["c@example.org", "Dave"]),
            .record(5, ["d@example.org", "Eve"]),
        ])
    }

    @Test("a record taken back is read again from its second line, with its line numbers", arguments: chunkSizes)
    func takeBackRecord(chunkSize: Int) throws {
        let text = "email,name\na@example.org,\"Bob\nb@example.org,Carol\nc@example.org,\"\nd@example.org,Eve\n"
        let reader = CSVReader(source: InMemoryByteSource(Array(text.utf8), chunkSize: chunkSize), chunkSize: 16)
        var items: [Parsed] = []
        while let item = try reader.next() {
            switch item {
            case .record(let line) where reader.recordSpansLines:
                reader.takeBackRecord()
                items.append(.problem(line, "taken back"))
            case .record(let line): items.append(.record(line, reader.fields))
            case .problem(let line, let message): items.append(.problem(line, message))
            }
        }
        #expect(items.count == 5)
        #expect(Array(items.prefix(3)) == [
            .record(1, ["email", "name"]), .problem(2, "taken back"), .record(3, ["b@example.org", "Carol"]),
        ])
        // Line 4 opens a quote that the end of the file leaves open.
        guard case .problem(4, let message) = items[3] else {
            Issue.record("expected a problem on line 4, got \(items[3])")
            return
        }
        #expect(message.contains("never closed"))
        #expect(items[4] == .record(5, ["d@example.org", "Eve"]))
    }

    @Test("a row over the size limit is reported and skipped; the rest is read", arguments: [1, 7, Int.max])
    func oversizeRow(chunkSize: Int) throws {
        let long = String(repeating: "x", count: 300)
        let items = try readCSV(Array("a\n\"\(long)\nb\n".utf8), chunkSize: chunkSize, maxRecordBytes: 100)
        #expect(items.map(\.line) == [1, 2, 3])
        guard case .problem(2, let message) = items[1] else {
            Issue.record("expected a problem on line 2, got \(items[1])")
            return
        }
        #expect(message.contains("longer than"))
        #expect(items[2] == .record(3, ["b"]))
    }

    @Test("a field that is not UTF-8 (a Shift_JIS file) reads as nil, never as replaced text")
    func invalidUTF8() throws {
        let reader = CSVReader(source: InMemoryByteSource([0x83, 0x65, 0x83, 0x58, 0x83, 0x67, 0x2C, 0x61, 0x0A]))
        #expect(try reader.next() == .record(line: 1))
        #expect(reader.string(0) == nil)
        #expect(reader.string(1) == "a")
    }
}

@Suite("Import file reader")
struct SubscriberFileReaderTests {
    func rows(_ text: String, format: DataFormat = .csv) throws -> [SubscriberFileReader.Item] {
        let reader = try SubscriberFileReader(source: InMemoryByteSource(text), format: format, name: "test")
        var items: [SubscriberFileReader.Item] = []
        while let item = try reader.next() { items.append(item) }
        return items
    }

    @Test("a CSV header without an email column is refused before any row is read")
    func missingEmailColumn() throws {
        #expect(throws: DataFileError.missingEmailColumn(found: ["mail", "name"])) {
            try rows("mail,name\na@example.org,Ada\n")
        }
    }

    @Test("an empty CSV file is refused")
    func emptyFile() throws {
        #expect(throws: DataFileError.emptyFile(name: "test")) { try rows("") }
        #expect(throws: DataFileError.emptyFile(name: "test")) { try rows("\n\n") }
    }

    @Test("a column named twice is refused")
    func duplicateColumn() throws {
        #expect(throws: DataFileError.duplicateColumn("email")) { try rows("email,Email\n") }
    }

    @Test("header names are matched without regard to case or surrounding spaces; columns may come in any order")
    func headerMatching() throws {
        let items = try rows(" Name ,EMAIL,Status\nAda,a@example.org,pending\n")
        #expect(items == [.row(RawImportRow(line: 2, email: "a@example.org", name: "Ada", status: "pending"))])
    }

    @Test("unknown columns are listed as ignored; export's own list and source columns are ignored silently")
    func ignoredColumns() throws {
        let reader = try SubscriberFileReader(
            source: InMemoryByteSource("list,email,source,phone,notes\n"), format: .csv, name: "test")
        #expect(reader.ignoredColumns == ["phone", "notes"])
    }

    @Test("a row with more or fewer fields than the header is a problem on its line")
    func fieldCountMismatch() throws {
        let items = try rows("email,name\na@example.org\nb@example.org,B,extra\nc@example.org,C\n")
        #expect(items == [
            .problem(ImportProblem(line: 2, message: "expected 2 fields as in the header, found 1")),
            .problem(ImportProblem(line: 3, message: "expected 2 fields as in the header, found 3")),
            .row(RawImportRow(line: 4, email: "c@example.org", name: "C")),
        ])
    }

    @Test("a stray quote costs only its own line: the rows it would swallow are read", arguments: [1, 3, 64, 1 << 20])
    func strayQuotes(chunkSize: Int) throws {
        let text = """
            email,name
            ok1@example.org,Bob "the" Builder
            ok2@example.org,"Two
            ok3@example.org,Three
            ok4@example.org,"Four"
            ok5@example.org,"Five
            ok6@example.org,Six
            ok7@example.org,"
            ok8@example.org,Eight

            """
        let reader = try SubscriberFileReader(
            source: InMemoryByteSource(Array(text.utf8), chunkSize: chunkSize), format: .csv, name: "test", chunkSize: 16)
        var items: [SubscriberFileReader.Item] = []
        while let item = try reader.next() { items.append(item) }
        let quoteInField = "a double quote inside a field that does not start with one "
            + #"(put the whole field in double quotes and write the quote as "", e.g. "Bob ""the"" Builder")"#
        #expect(items == [
            .problem(ImportProblem(line: 2, message: quoteInField)),
            // The quote opened here closes on line 5, where text follows it.
            .problem(ImportProblem(line: 3, message: CSVReader.unclosedQuoteMessage)),
            .row(RawImportRow(line: 4, email: "ok3@example.org", name: "Three")),
            .row(RawImportRow(line: 5, email: "ok4@example.org", name: "Four")),
            // The quote opened here closes properly on line 8: valid CSV, but a name
            // never holds a line break.
            .problem(ImportProblem(line: 6, message: CSVReader.unclosedQuoteMessage)),
            .row(RawImportRow(line: 7, email: "ok6@example.org", name: "Six")),
            .problem(ImportProblem(line: 8, message: "a double quote opened in this row is never closed; the line was skipped")),
            .row(RawImportRow(line: 9, email: "ok8@example.org", name: "Eight")),
        ])
    }

    @Test("a line break in a column that is not imported is kept as RFC 4180 says")
    func lineBreakInIgnoredColumn() throws {
        let items = try rows("email,notes,name\na@example.org,\"first\nsecond\",Ada\nb@example.org,,Bob\n")
        #expect(items == [
            .row(RawImportRow(line: 2, email: "a@example.org", name: "Ada")),
            .row(RawImportRow(line: 4, email: "b@example.org", name: "Bob")),
        ])
    }

    @Test("empty cells are absent values")
    func emptyCells() throws {
        #expect(try rows("email,name,status\na@example.org,,\n") == [.row(RawImportRow(line: 2, email: "a@example.org"))])
    }

    @Test("the apostrophe export puts before a formula-like cell is taken off again; others are kept")
    func undoNeutralisation() throws {
        let items = try rows("email,name\n'-x@example.org,'=SUM(A1)\no'brien@example.org,'quoted\n")
        #expect(items == [
            .row(RawImportRow(line: 2, email: "-x@example.org", name: "=SUM(A1)")),
            .row(RawImportRow(line: 3, email: "o'brien@example.org", name: "'quoted")),
        ])
    }

    @Test("a row that is not UTF-8 is a problem that says how to fix the file")
    func shiftJISRow() throws {
        let bytes: [UInt8] = Array("email,name\na@example.org,".utf8) + [0x83, 0x65, 0x83, 0x58, 0x83, 0x67] + [0x0A]
        let reader = try SubscriberFileReader(source: InMemoryByteSource(bytes), format: .csv, name: "test")
        guard case .problem(let problem)? = try reader.next() else {
            Issue.record("expected a problem")
            return
        }
        #expect(problem.line == 2)
        #expect(problem.message.contains("UTF-8"))
    }

    @Test("NDJSON: keys by name, null as absent, unknown keys ignored, blank lines skipped")
    func ndjsonRows() throws {
        let text = """
            {"email":"a@example.org","name":"\\u3042\\ud83d\\ude00","status":null,"age":42,"tags":["x",{"y":1}]}

            {"name": "Bob", "email" : "b@example.org"}\r
            """
        #expect(try rows(text, format: .ndjson) == [
            .row(RawImportRow(line: 1, email: "a@example.org", name: "あ😀")),
            .row(RawImportRow(line: 3, email: "b@example.org", name: "Bob")),
        ])
    }

    @Test("NDJSON: a line that is not one object, or a known key that is not a string, is a problem on that line")
    func ndjsonProblems() throws {
        let text = """
            {"email":"a@example.org"
            ["b@example.org"]
            {"email":42}
            {"email":"c@example.org","email":"d@example.org"}
            {"email":"e@example.org"} {"email":"f@example.org"}
            {"email":"g@example.org"}
            """
        let items = try rows(text, format: .ndjson)
        #expect(items.count == 6)
        for (index, item) in items.prefix(5).enumerated() {
            guard case .problem(let problem) = item else {
                Issue.record("line \(index + 1) should be a problem: \(item)")
                continue
            }
            #expect(problem.line == index + 1)
        }
        #expect(items[2] == .problem(ImportProblem(line: 3, message: "email must be a string or null, not a number")))
        #expect(items[5] == .row(RawImportRow(line: 6, email: "g@example.org")))
    }
}

@Suite("Import rules")
struct ImportRulesTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func record(_ raw: RawImportRow, note: String? = nil) throws -> Result<ImportRecord, ImportProblem> {
        try ImportRules(consentNote: note, now: now).record(from: raw)
    }

    @Test("without a consent note a row asking to be active is stored pending, and marked as lacking consent")
    func noConsentMeansPending() throws {
        for status in [nil, "active", "ACTIVE "] {
            let record = try record(RawImportRow(line: 2, email: "a@example.org", status: status)).get()
            #expect(record.status == .pending)
            #expect(record.lacksConsent)
            #expect(record.consentNote == nil)
        }
    }

    @Test("--consent-note makes rows active; a row's own consent_note wins over it")
    func consentNote() throws {
        let global = try record(RawImportRow(line: 2, email: "a@example.org"), note: " paper form ").get()
        #expect(global.status == .active)
        #expect(global.consentNote == "paper form")
        let own = try record(RawImportRow(line: 3, email: "b@example.org", consentNote: "booth 2025"), note: "paper form").get()
        #expect(own.status == .active)
        #expect(own.consentNote == "booth 2025")
        let rowOnly = try record(RawImportRow(line: 4, email: "c@example.org", consentNote: "booth 2025")).get()
        #expect(rowOnly.status == .active)
    }

    @Test("status pending stays pending even with a consent note; left states are kept")
    func explicitStatuses() throws {
        #expect(try record(RawImportRow(line: 2, email: "a@example.org", status: "pending"), note: "x").get().status == .pending)
        for left in ["unsubscribed", "bounced", "complained"] {
            #expect(try record(RawImportRow(line: 2, email: "a@example.org", status: left)).get().status.rawValue == left)
        }
    }

    @Test("a bad address, name, status, time or consent note is a problem naming the reason")
    func problems() throws {
        let cases: [(RawImportRow, String)] = [
            (RawImportRow(line: 2), "no email address"),
            (RawImportRow(line: 3, email: "a@b@example.org"), "invalid email 'a@b@example.org': the address has more than one @"),
            (RawImportRow(line: 4, email: "a@example.org", name: "two\nlines"), "invalid name: it contains a control character (e.g. a line break)"),
            (RawImportRow(line: 4, email: "a@example.org", name: String(repeating: "e\u{301}", count: 101)), "invalid name: longer than 200 characters"),
            (RawImportRow(line: 5, email: "a@example.org", status: "subscribed"), "unknown status 'subscribed': use active, pending, unsubscribed, bounced or complained"),
            (RawImportRow(line: 6, email: "a@example.org", subscribedAt: "yesterday"), "invalid subscribed_at 'yesterday': use RFC 3339, e.g. 2024-04-01T09:30:00Z, not in the future"),
            (RawImportRow(line: 7, email: "a@example.org", consentNote: "a\u{7}b"), "invalid consent note: it contains a control character (e.g. a line break)"),
        ]
        for (raw, message) in cases {
            #expect(try record(raw, note: "x") == .failure(ImportProblem(line: raw.line, message: message)))
        }
    }

    @Test("times are stored as UTC with milliseconds; offsets, dates alone and SQL-style times are accepted; the future is not")
    func times() throws {
        func subscribedAt(_ text: String) throws -> String? {
            try record(RawImportRow(line: 2, email: "a@example.org", subscribedAt: text), note: "x").get().subscribedAt
        }
        #expect(try subscribedAt("2024-04-01T09:30:00.250Z") == "2024-04-01T09:30:00.250Z")
        #expect(try subscribedAt("2024-04-01T09:30:00+09:00") == "2024-04-01T00:30:00.000Z")
        #expect(try subscribedAt("2024-04-01") == "2024-04-01T00:00:00.000Z")
        #expect(try subscribedAt("2024-04-01 09:30:00") == "2024-04-01T09:30:00.000Z")
        #expect(throws: ImportProblem.self) { try subscribedAt("2099-01-01T00:00:00.000Z") }
        #expect(throws: ImportProblem.self) { try subscribedAt("2024-02-30T00:00:00.000Z") }
    }

    @Test("a pending row keeps no subscribed_at; only a row that left keeps unsubscribed_at")
    func timesFollowStatus() throws {
        let pending = try record(RawImportRow(
            line: 2, email: "a@example.org", status: "pending", subscribedAt: "2024-04-01", unsubscribedAt: "2024-05-01")).get()
        #expect(pending.subscribedAt == nil)
        #expect(pending.unsubscribedAt == nil)
        let left = try record(RawImportRow(
            line: 2, email: "a@example.org", status: "unsubscribed", subscribedAt: "2024-04-01", unsubscribedAt: "2024-05-01")).get()
        #expect(left.subscribedAt == "2024-04-01T00:00:00.000Z")
        #expect(left.unsubscribedAt == "2024-05-01T00:00:00.000Z")
    }

    @Test("the identity key is the core's: case folded local part, A-label domain")
    func identity() throws {
        let record = try record(RawImportRow(line: 2, email: "Taro@例え.jp"), note: "x").get()
        #expect(record.email == "Taro@例え.jp")
        #expect(record.identityKey == "taro@xn--r8jz45g.jp")
    }

    @Test("names follow the intake's rules, printable ASCII included", arguments: [
        "Ada", "  Ada Lovelace  ", "   ", "", "日本 太郎", " \tTab\t ", String(repeating: "x", count: 200),
        String(repeating: "x", count: 201), "two\nlines", "bell\u{7}",
    ])
    func names(text: String) {
        let fast = Result { () throws(DomainError) in try ImportRules.validName(text) }
        let shared = Result { () throws(DomainError) in try Intake.validName(text) }
        #expect(fast == shared)
    }

    @Test("a consent note over 500 characters is refused as an option")
    func longNote() throws {
        #expect(throws: ImportOptionError.self) { try ImportRules(consentNote: String(repeating: "x", count: 501)) }
    }
}
