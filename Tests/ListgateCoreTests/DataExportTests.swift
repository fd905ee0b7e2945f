// Specification of export writing (CSV per RFC 4180 with formula neutralisation, NDJSON)
// and of the ledger's batch hashing, which must equal the one-event-at-a-time hash.
import Foundation
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

/// Writes rows with a TabularWriter into a temp file and returns what was written.
func written(_ format: DataFormat, columns: [String], rows: [[String?]]) throws -> String {
    let directory = try TemporaryDirectory()
    let path = directory.path("out")
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    #expect(descriptor >= 0)
    let writer = try TabularWriter(format: format, columns: columns, destination: ExportDestination(descriptor: descriptor, name: path))
    for row in rows {
        for cell in row { try writer.text(cell) }
        try writer.endRow()
    }
    try writer.finish()
    close(descriptor)
    return try String(contentsOfFile: path, encoding: .utf8)
}

@Suite("Export writers")
struct DataExportTests {
    @Test("CSV: header row, CRLF line ends, quoting only where needed, empty cell for nil")
    func csvBasics() throws {
        let text = try written(.csv, columns: ["email", "name"], rows: [
            ["a@example.org", "Ada"], ["b@example.org", nil], ["c@example.org", #"Smith, "Bob""#], ["d@example.org", "two\nlines"],
        ])
        #expect(text == "email,name\r\na@example.org,Ada\r\nb@example.org,\r\nc@example.org,\"Smith, \"\"Bob\"\"\"\r\nd@example.org,\"two\nlines\"\r\n")
    }

    @Test("CSV: a cell starting with = + - @ tab or CR is neutralised with a quoted leading apostrophe")
    func formulaNeutralisation() throws {
        let cells = ["=1+2", "+81 3", "-x@example.org", "@SUM(A1)", "\tcmd", "\rcmd", "=HYPERLINK(\"http://evil\")"]
        let text = try written(.csv, columns: ["cell"], rows: cells.map { [$0] })
        let lines = text.components(separatedBy: "\r\n")
        #expect(Array(lines[1...7]) == [
            #""'=1+2""#, #""'+81 3""#, #""'-x@example.org""#, #""'@SUM(A1)""#, "\"'\tcmd\"", "\"'\rcmd\"",
            #""'=HYPERLINK(""http://evil"")""#,
        ])
        // Harmless look-alikes are left alone.
        #expect(try written(.csv, columns: ["c"], rows: [["a=b"], ["x-y"], ["'quoted"]]) == "c\r\na=b\r\nx-y\r\n'quoted\r\n")
    }

    @Test("CSV written by export reads back to the same cells: every cell through the CSV reader, one-line ones through the import reader")
    func csvRoundTrip() throws {
        let multiline = "改行\r\nあり"
        let names: [String?] = ["=cmd|' /C calc'!A0", "Bob \"B\", Jr.", multiline, "-5", "@home", nil, "\tTab"]
        let text = try written(.csv, columns: ["email", "name"], rows: names.enumerated().map { ["u\($0.offset)@example.org", $0.element] })

        // RFC 4180: a quoted cell keeps its line break.
        let csv = CSVReader(source: InMemoryByteSource(text))
        var cells: [String] = []
        while let item = try csv.next() {
            guard case .record = item else {
                Issue.record("unexpected \(item)")
                continue
            }
            cells.append(csv.string(1) ?? "not UTF-8")
        }
        #expect(cells.count == names.count + 1)
        #expect(cells.contains(multiline))

        // A name never holds a line break (OneLineName), so the import reader takes one in
        // an imported column for a stray quote: that row is a problem, and every other
        // cell reads back as written.
        let reader = try SubscriberFileReader(source: InMemoryByteSource(text), format: .csv, name: "export")
        var read: [String?] = []
        var problems: [ImportProblem] = []
        while let item = try reader.next() {
            switch item {
            case .row(let row): read.append(row.name)
            case .problem(let problem): problems.append(problem)
            }
        }
        #expect(read == names.filter { $0 != multiline })
        #expect(problems.first == ImportProblem(line: 4, message: CSVReader.unclosedQuoteMessage))
    }

    @Test("NDJSON: one object per line, keys in column order, null for nil, escapes, UTF-8 as is")
    func ndjson() throws {
        let text = try written(.ndjson, columns: ["email", "name"], rows: [
            ["a@example.org", "あ \"q\" \\ \n\t\u{1}"], ["b@example.org", nil],
        ])
        #expect(text == #"{"email":"a@example.org","name":"あ \"q\" \\ \n\t\u0001"}"# + "\n" + #"{"email":"b@example.org","name":null}"# + "\n")
        for line in text.split(separator: "\n") {
            #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any])
        }
    }

    @Test("a large export goes out in several writes without losing a byte")
    func largeOutput() throws {
        let rows = (0..<20_000).map { [Optional("user\($0)@example.org"), Optional("名前 \($0)")] }
        let text = try written(.csv, columns: ["email", "name"], rows: rows)
        let lines = text.split(separator: "\r\n")
        #expect(lines.count == 20_001)
        #expect(lines.last == "user19999@example.org,名前 19999")
    }
}

@Suite("Ledger chain")
struct LedgerChainTests {
    @Test("the streamed chain hash equals EventLedger.chainHash, absent fields included")
    func streamedEqualsJoined() {
        let cases: [(Int64?, String?, String?, String)] = [
            (nil, nil, nil, "{}"), (7, String(repeating: "a", count: 64), "v1", #"{"consent_note":"紙の申込書","status":"active"}"#),
            (123_456_789, nil, "", #"{"x":"\u001f"}"#),
        ]
        for (listID, addressHash, consentVersion, detail) in cases {
            let joined = EventLedger.chainHash(
                prevHash: EventLedger.genesisHash, occurredAt: "2026-11-21T09:30:00.000Z", type: "imported", listID: listID,
                addressHash: addressHash, source: "cli", consentVersion: consentVersion, detail: detail)
            let streamed = EventLedger.streamedChainHash(
                prevHash: EventLedger.genesisHash, occurredAt: "2026-11-21T09:30:00.000Z", type: "imported", listID: listID,
                addressHash: addressHash, source: "cli", consentVersion: consentVersion, detail: detail)
            #expect(streamed == joined)
        }
    }

    @Test("the keyed address hasher gives the same hashes as the per-address one")
    func keyedHasher() {
        let keyed = AddressHasher.Keyed(key: "k3y")
        for identity in ["a@example.org", "たろう@xn--r8jz45g.jp"] {
            #expect(keyed.hash(identityKey: identity) == AddressHasher.hash(identityKey: identity, key: "k3y"))
        }
    }

    @Test("hand-built JSON strings are what JSONEncoder would accept back")
    func quotedJSON() throws {
        for text in ["plain", "quote \" and \\", "line\nbreak\ttab\u{1}", "日本語 😀", "</script>"] {
            let decoded = try JSONDecoder().decode(String.self, from: Data(JSONString.quoted(text).utf8))
            #expect(decoded == text)
        }
    }

    @Test("an event's detail is one JSON object, keys in sorted order, that decodes back to the same values")
    func canonicalDetail() throws {
        let detail = ["user_agent": "Mozilla \"5\"\n\u{8}", "route": "form:/lists/ニュース/subscribe", "client": "192.0.2.0/24"]
        let json = EventLedger.canonicalJSON(detail)
        #expect(json.hasPrefix(#"{"client":"192.0.2.0/24","route":"form:/lists/ニュース/subscribe","user_agent":"#))
        #expect(try JSONDecoder().decode([String: String].self, from: Data(json.utf8)) == detail)
        #expect(EventLedger.canonicalJSON([:]) == "{}")
    }
}
