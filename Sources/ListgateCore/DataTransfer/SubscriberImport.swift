// `listgate import`: what a row of an import file may say and what it becomes. Reading
// (CSV or NDJSON) and validation live here; SQLiteStore+Import merges valid rows into the
// list. Rules (README, "Import and export"):
//   * every address goes through EmailAddress; a bad row is reported with its line
//     number and skipped, and never stops the rows around it;
//   * a row becomes active only with an admin's consent note (the row's consent_note, or
//     --consent-note for the whole file); otherwise it is stored pending. An import never
//     sends mail;
//   * suppression wins, and no one who left is brought back (the store enforces both).
import Foundation

public enum DataFormat: String, Sendable, CaseIterable {
    case csv, ndjson
}

/// One row as read from the file, before validation. Empty cells are nil.
public struct RawImportRow: Sendable, Equatable {
    public var line: Int
    public var email: String?
    public var name: String?
    public var status: String?
    public var subscribedAt: String?
    public var unsubscribedAt: String?
    public var consentNote: String?

    public init(
        line: Int, email: String? = nil, name: String? = nil, status: String? = nil, subscribedAt: String? = nil,
        unsubscribedAt: String? = nil, consentNote: String? = nil
    ) {
        self.line = line
        self.email = email
        self.name = name
        self.status = status
        self.subscribedAt = subscribedAt
        self.unsubscribedAt = unsubscribedAt
        self.consentNote = consentNote
    }
}

/// A row that could not be imported; `description` is the line printed on stderr.
public struct ImportProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// The columns (CSV header names, NDJSON keys) an import reads.
public enum ImportColumn: String, CaseIterable, Sendable {
    case email, name, status
    case subscribedAt = "subscribed_at"
    case unsubscribedAt = "unsubscribed_at"
    case consentNote = "consent_note"

    /// Columns `listgate export subscribers` writes that an import ignores without a
    /// note, so an export can be imported as it is.
    static let exportedOnly: Set<String> = ["list", "source"]

    /// What a Japanese company's own spreadsheet calls these columns.
    static let japaneseNames: [String: ImportColumn] = [
        "メールアドレス": .email, "メール": .email, "eメール": .email,
        "氏名": .name, "名前": .name, "お名前": .name,
        "状態": .status, "ステータス": .status,
        "登録日時": .subscribedAt,
    ]

    /// The column a CSV header cell names, by its English or Japanese name. Full-width and
    /// half-width forms are folded first (NFKC), so `ｅｍａｉｌ`, `Ｅメール` and a
    /// half-width `ﾒｰﾙｱﾄﾞﾚｽ` are understood too.
    init?(headerName: String) {
        let folded = headerName.precomposedStringWithCompatibilityMapping
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard let column = ImportColumn(rawValue: folded) ?? Self.japaneseNames[folded] else { return nil }
        self = column
    }
}

/// Reads rows from a CSV file (with a header row) or an NDJSON file.
public final class SubscriberFileReader {
    public enum Item: Sendable, Equatable {
        case row(RawImportRow)
        case problem(ImportProblem)
    }

    public let format: DataFormat
    public let source: ByteSource
    /// CSV header columns that are not imported (other than export's own `list`, `source`).
    public private(set) var ignoredColumns: [String] = []
    private var csv: CSVReader?
    private var ndjson: NDJSONReader?
    /// For CSV: the field index of each ImportColumn, in `allCases` order; -1 when absent.
    private var columnIndex: [Int] = []
    private var headerCount = 0

    /// For CSV, reads and checks the header row at once: a file without an `email`
    /// column is refused before anything is imported.
    public init(source: ByteSource, format: DataFormat, name: String, chunkSize: Int = 1 << 20) throws(DataFileError) {
        self.format = format
        self.source = source
        switch format {
        case .ndjson:
            ndjson = NDJSONReader(source: source, chunkSize: chunkSize)
        case .csv:
            let reader = CSVReader(source: source, chunkSize: chunkSize)
            csv = reader
            try readHeader(reader, name: name)
        }
    }

    private func readHeader(_ reader: CSVReader, name: String) throws(DataFileError) {
        guard let first = try reader.next() else { throw .emptyFile(name: name) }
        if case .problem(let line, let message) = first {
            throw .readFailed(name: name, reason: "the header row (line \(line)) cannot be read: \(message)")
        }
        var names: [String] = []
        for index in 0..<reader.fieldCount {
            guard let text = reader.string(index) else { throw .headerNotUTF8 }
            names.append(text.trimmingCharacters(in: .whitespaces).lowercased())
        }
        headerCount = names.count
        columnIndex = Array(repeating: -1, count: ImportColumn.allCases.count)
        for (index, column) in names.enumerated() {
            if let known = ImportColumn(headerName: column), let slot = ImportColumn.allCases.firstIndex(of: known) {
                // `email` and `メールアドレス` in one file would leave it unclear which to read.
                guard columnIndex[slot] < 0 else { throw .duplicateColumn(column) }
                columnIndex[slot] = index
            } else if !ImportColumn.exportedOnly.contains(column), !column.isEmpty {
                ignoredColumns.append(column)
            }
        }
        guard columnIndex[0] >= 0 else { throw .missingEmailColumn(found: names) }
    }

    /// The next row or problem; nil at the end of the input.
    public func next() throws(DataFileError) -> Item? {
        if let csv { return try nextCSV(csv) }
        if let ndjson { return try nextNDJSON(ndjson) }
        return nil
    }

    private func nextCSV(_ reader: CSVReader) throws(DataFileError) -> Item? {
        guard let item = try reader.next() else { return nil }
        switch item {
        case .problem(let line, let message):
            return .problem(ImportProblem(line: line, message: message))
        case .record(let line):
            // A record over several lines is a quoted field holding line breaks. No column
            // imported may hold one, so in any of them, or with the wrong number of fields,
            // it is a stray quote that swallowed the rows after it: only its first line is
            // given up, and the rows it swallowed are read again.
            if reader.recordSpansLines, reader.fieldCount != headerCount || importedFieldHasLineBreak(reader) {
                reader.takeBackRecord()
                return .problem(ImportProblem(line: line, message: CSVReader.unclosedQuoteMessage))
            }
            guard reader.fieldCount == headerCount else {
                return .problem(ImportProblem(
                    line: line, message: "expected \(headerCount) fields as in the header, found \(reader.fieldCount)"))
            }
            var values: [String?] = []
            values.reserveCapacity(columnIndex.count)
            for index in columnIndex {
                guard index >= 0 else {
                    values.append(nil)
                    continue
                }
                guard let text = reader.string(index) else {
                    return .problem(ImportProblem(
                        line: line, message: "the row is not valid UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"))
                }
                values.append(text.isEmpty ? nil : Self.undoNeutralisation(text))
            }
            return .row(RawImportRow(
                line: line, email: values[0], name: values[1], status: values[2], subscribedAt: values[3],
                unsubscribedAt: values[4], consentNote: values[5]))
        }
    }

    private func importedFieldHasLineBreak(_ reader: CSVReader) -> Bool {
        columnIndex.contains { index in
            index >= 0 && reader.withField(index) { field in field.contains(0x0A) || field.contains(0x0D) }
        }
    }

    private func nextNDJSON(_ reader: NDJSONReader) throws(DataFileError) -> Item? {
        guard let item = try reader.next() else { return nil }
        switch item {
        case .problem(let line, let message):
            return .problem(ImportProblem(line: line, message: message))
        case .object(let line, let members):
            var row = RawImportRow(line: line)
            var seen = Set<ImportColumn>()
            for (key, value) in members {
                guard let column = ImportColumn(rawValue: key) else { continue }
                guard seen.insert(column).inserted else {
                    return .problem(ImportProblem(line: line, message: "the key \(key) appears twice"))
                }
                let text: String?
                switch value {
                case .string(let string): text = string.isEmpty ? nil : string
                case .null: text = nil
                case .other(let kind):
                    return .problem(ImportProblem(line: line, message: "\(key) must be a string or null, not \(kind == "array" || kind == "object" ? "an" : "a") \(kind)"))
                }
                switch column {
                case .email: row.email = text
                case .name: row.name = text
                case .status: row.status = text
                case .subscribedAt: row.subscribedAt = text
                case .unsubscribedAt: row.unsubscribedAt = text
                case .consentNote: row.consentNote = text
                }
            }
            return .row(row)
        }
    }

    /// `listgate export` writes a cell that a spreadsheet would run as a formula with a
    /// leading apostrophe; importing such a cell takes the apostrophe off again, so an
    /// export imports as it was.
    static func undoNeutralisation(_ text: String) -> String {
        var utf8 = text.utf8.makeIterator()
        guard utf8.next() == UInt8(ascii: "'"), let second = utf8.next(), CSVCell.isFormulaTrigger(second) else {
            return text
        }
        return String(text.dropFirst())
    }
}

/// A valid row, ready to be merged into a list.
public struct ImportRecord: Sendable, Equatable {
    public let line: Int
    /// As entered (trimmed), kept as the address's stored form when it is new.
    public let email: String
    public let identityKey: String
    public let needsSMTPUTF8: Bool
    public let name: String?
    /// What the row becomes: active only with a consent note.
    public let status: SubscriptionStatus
    /// The row asked to be active (or gave no status) but had no consent note.
    public let lacksConsent: Bool
    /// RFC 3339 UTC with milliseconds, as stored.
    public let subscribedAt: String?
    public let unsubscribedAt: String?
    public let consentNote: String?
}

/// Validation of raw rows, with the import's own consent note.
public struct ImportRules: Sendable {
    public static let maxConsentNoteLength = 500
    public let consentNote: String?
    /// The zone of times written without an offset (`2024-04-01 09:30:00`, a date alone).
    public let timeZone: TimeZone
    /// Times later than this are refused (a consent cannot be given in the future).
    let latestAcceptedTime: Date
    let latestAcceptedStamp: String

    /// `consentNote` is the admin's attestation for the whole file (`--consent-note`);
    /// `timeZone` is `--timezone`, for times without an offset.
    public init(consentNote: String?, timeZone: TimeZone = .gmt, now: Date = Date()) throws(ImportOptionError) {
        self.consentNote = try Self.validNote(consentNote)
        self.timeZone = timeZone
        latestAcceptedTime = now.addingTimeInterval(24 * 3600)
        latestAcceptedStamp = Timestamp.string(latestAcceptedTime)
    }

    /// Intake.validName, answered without Unicode property lookups for the common case of
    /// a printable ASCII name (a million rows).
    static func validName(_ text: String?) throws(DomainError) -> String? {
        guard let text else { return nil }
        let utf8 = text.utf8
        guard utf8.count <= 200, utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else { return try Intake.validName(text) }
        guard let first = utf8.firstIndex(where: { $0 != 0x20 }), let last = utf8.lastIndex(where: { $0 != 0x20 }) else {
            return nil
        }
        return String(text[first...last])
    }

    static func validNote(_ text: String?) throws(ImportOptionError) -> String? {
        guard let trimmed = text?.trimmingCharacters(in: .whitespaces), !trimmed.isEmpty else { return nil }
        guard trimmed.count <= maxConsentNoteLength else {
            throw .invalidConsentNote("longer than \(maxConsentNoteLength) characters")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidConsentNote("it contains a control character (e.g. a line break)")
        }
        return trimmed
    }

    public func record(from raw: RawImportRow) -> Result<ImportRecord, ImportProblem> {
        func problem(_ message: String) -> Result<ImportRecord, ImportProblem> {
            .failure(ImportProblem(line: raw.line, message: message))
        }
        guard let email = raw.email else { return problem("no email address") }
        let address: EmailAddress
        do {
            address = try EmailAddress(email)
        } catch {
            return problem("invalid email '\(email.printable)': \(error)")
        }
        let name: String?
        do {
            name = try Self.validName(raw.name)
        } catch {
            return problem(error.description)
        }
        let note: String?
        do {
            note = try Self.validNote(raw.consentNote) ?? consentNote
        } catch {
            return problem(error.description)
        }
        let requested = raw.status?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        var status: SubscriptionStatus
        var lacksConsent = false
        switch requested {
        case "", "active":
            status = note == nil ? .pending : .active
            lacksConsent = note == nil
        case "pending":
            status = .pending
        default:
            guard let left = SubscriptionStatus(rawValue: requested), left.hasLeft else {
                return problem("unknown status '\(requested.printable)': use active, pending, unsubscribed, bounced or complained")
            }
            status = left
        }
        var subscribedAt: String?, unsubscribedAt: String?
        if let text = raw.subscribedAt {
            guard let stamp = normalisedTime(text) else {
                return problem("invalid subscribed_at '\(text.printable)': use RFC 3339, e.g. 2024-04-01T09:30:00Z, not in the future")
            }
            subscribedAt = stamp
        }
        if let text = raw.unsubscribedAt {
            guard let stamp = normalisedTime(text) else {
                return problem("invalid unsubscribed_at '\(text.printable)': use RFC 3339, e.g. 2024-04-01T09:30:00Z, not in the future")
            }
            unsubscribedAt = stamp
        }
        // A pending subscription has not started; a time given for it means nothing yet.
        if status == .pending { subscribedAt = nil }
        if !status.hasLeft { unsubscribedAt = nil }
        return .success(ImportRecord(
            line: raw.line, email: address.entered, identityKey: address.identityKey,
            needsSMTPUTF8: address.needsSMTPUTF8, name: name, status: status, lacksConsent: lacksConsent,
            subscribedAt: subscribedAt, unsubscribedAt: unsubscribedAt, consentNote: note))
    }

    /// RFC 3339 (any offset), `YYYY-MM-DD HH:MM:SS` (or with `T`), Excel's `2024/4/1 9:30` or
    /// a date alone, the last three in `timeZone`, as the stored form `YYYY-MM-DDTHH:MM:SS.mmmZ`; nil when unreadable, not a
    /// real date, or in the future.
    func normalisedTime(_ text: String) -> String? {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.utf8.contains(UInt8(ascii: "/")) {
            guard let dashed = Self.dashedFromSlashed(trimmed) else { return nil }
            trimmed = dashed
        }
        let utf8 = Array(trimmed.utf8)
        // Date parsers roll 30 February over into March; refuse it instead.
        guard Self.hasPlausibleFields(utf8) else { return nil }
        if utf8.count == 24, utf8[10] == UInt8(ascii: "T"), utf8[19] == UInt8(ascii: "."), utf8[23] == UInt8(ascii: "Z"),
           utf8[20...22].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // Already the stored form (what export writes): no date parser needed, which
            // matters on a million rows. Compared as text: the stored form sorts by time.
            return trimmed <= latestAcceptedStamp ? trimmed : nil
        }
        let date: Date?
        if utf8.count == 10 || utf8.count == 19 {
            // No offset: the fields are a wall-clock time in `timeZone`.
            date = Self.wallClockTime(utf8, in: timeZone)
        } else {
            date = Timestamp.parse(trimmed)
        }
        guard let date, date <= latestAcceptedTime, date >= Date(timeIntervalSince1970: 0) else { return nil }
        return Timestamp.string(date)
    }

    /// Excel in Japan writes a date cell into a "CSV" as it shows it: `2024/4/1 9:30`
    /// (or `2024/04/01 09:30:00`, or a date alone). That is the same wall-clock time as
    /// `2024-04-01 09:30:00`, which this returns; nil when it is not that shape.
    static func dashedFromSlashed(_ text: String) -> String? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...2).contains(parts.count) else { return nil }
        func padded(_ field: Substring, digits: ClosedRange<Int>, width: Int) -> String? {
            guard digits.contains(field.utf8.count), field.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return String(repeating: "0", count: width - field.utf8.count) + field
        }
        let date = parts[0].split(separator: "/", omittingEmptySubsequences: false)
        guard date.count == 3, let year = padded(date[0], digits: 4...4, width: 4),
              let month = padded(date[1], digits: 1...2, width: 2), let day = padded(date[2], digits: 1...2, width: 2)
        else { return nil }
        let dashed = "\(year)-\(month)-\(day)"
        guard parts.count == 2 else { return dashed }
        let time = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(time.count), let hour = padded(time[0], digits: 1...2, width: 2),
              let minute = padded(time[1], digits: 2...2, width: 2),
              let second = time.count == 3 ? padded(time[2], digits: 2...2, width: 2) : "00"
        else { return nil }
        return "\(dashed) \(hour):\(minute):\(second)"
    }

    /// The instant a wall clock in `zone` shows as `YYYY-MM-DD[ HH:MM:SS]` (fields checked
    /// by `hasPlausibleFields`). Around a daylight-saving change, one of the two readings.
    static func wallClockTime(_ bytes: [UInt8], in zone: TimeZone) -> Date? {
        func number(_ from: Int, _ count: Int) -> Int {
            bytes[from..<(from + count)].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        // Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
        let month = number(5, 2), day = number(8, 2)
        let year = number(0, 4) - (month <= 2 ? 1 : 0)
        let era = year / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        var seconds = days * 86_400
        if bytes.count == 19 { seconds += number(11, 2) * 3600 + number(14, 2) * 60 + number(17, 2) }
        let asUTC = Date(timeIntervalSince1970: TimeInterval(seconds))
        // The zone's offset at the guessed instant, then again at the corrected one.
        let guess = asUTC.addingTimeInterval(-TimeInterval(zone.secondsFromGMT(for: asUTC)))
        return asUTC.addingTimeInterval(-TimeInterval(zone.secondsFromGMT(for: guess)))
    }

    /// `YYYY-MM-DD` with a real calendar date, then, if present, `[T ]HH:MM:SS` in range.
    static func hasPlausibleFields(_ bytes: [UInt8]) -> Bool {
        func number(_ from: Int, _ count: Int) -> Int? {
            var value = 0
            for index in from..<(from + count) {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), year >= 1970, (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day >= 1, day <= daysInMonth[month - 1] else { return false }
        guard bytes.count > 10 else { return true }
        guard bytes.count >= 19, bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
        else { return false }
        return hour < 24 && minute < 60 && second < 60
    }
}

/// A bad option of `listgate import` (as opposed to a bad row).
public enum ImportOptionError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidConsentNote(String)

    public var description: String {
        switch self {
        case .invalidConsentNote(let reason): "invalid consent note: \(reason)"
        }
    }
}

/// Rows read and validated together, committed in one transaction.
public struct ImportBatch: Sendable {
    public var records: [ImportRecord] = []
    public var problems: [ImportProblem] = []
    /// Rows read from the file, valid or not.
    public var rows = 0
    public var endOfInput = false
}

extension SubscriberFileReader {
    /// Reads up to `limit` rows (valid or not).
    public func nextBatch(limit: Int, rules: ImportRules) throws(DataFileError) -> ImportBatch {
        var batch = ImportBatch()
        batch.records.reserveCapacity(limit)
        while batch.rows < limit {
            guard let item = try next() else {
                batch.endOfInput = true
                break
            }
            batch.rows += 1
            switch item {
            case .problem(let problem):
                batch.problems.append(problem)
            case .row(let raw):
                switch rules.record(from: raw) {
                case .success(let record): batch.records.append(record)
                case .failure(let problem): batch.problems.append(problem)
                }
            }
        }
        return batch
    }
}

/// What an import did, row by row: every row read is counted exactly once.
public struct ImportSummary: Sendable, Equatable {
    /// New subscriptions on the list.
    public var imported = 0
    /// Subscriptions already on the list that the row changed (activated, left, renamed).
    public var updated = 0
    /// Valid rows that changed nothing: already so, a duplicate of an earlier row, or
    /// someone who left and cannot be brought back.
    public var skipped = 0
    /// Rows that could not be read or validated (reported on stderr with their line).
    public var invalid = 0
    /// Addresses suppressed for this list or every list: never imported.
    public var suppressed = 0
    /// Of the imported and updated rows, those left pending because the row asked to be
    /// active but had no consent note.
    public var pendingWithoutConsent = 0
    /// Tags this import's events (`detail.import`), so the ledger shows what one run did.
    public var importID: String

    public init(importID: String) {
        self.importID = importID
    }

    public var rows: Int { imported + updated + skipped + invalid + suppressed }

    package mutating func add(_ other: ImportCounts) {
        imported += other.imported
        updated += other.updated
        skipped += other.skipped
        suppressed += other.suppressed
        pendingWithoutConsent += other.pendingWithoutConsent
    }
}

/// What one committed batch did.
package struct ImportCounts: Sendable {
    package var imported = 0, updated = 0, skipped = 0, suppressed = 0, pendingWithoutConsent = 0

    package init() {}
}

/// How far a long import or export has got, for the progress line.
public struct TransferProgress: Sendable {
    public var rows: Int
    /// Total rows when known in advance (exports).
    public var totalRows: Int?
    /// Input bytes consumed and the input's size, when known (imports of regular files).
    public var bytes: Int64?
    public var totalBytes: Int64?

    public init(rows: Int, totalRows: Int? = nil, bytes: Int64? = nil, totalBytes: Int64? = nil) {
        self.rows = rows
        self.totalRows = totalRows
        self.bytes = bytes
        self.totalBytes = totalBytes
    }

    /// 0...1 when the total is known.
    public var fraction: Double? {
        if let totalRows, totalRows > 0 { return min(1, Double(rows) / Double(totalRows)) }
        if let bytes, let totalBytes, totalBytes > 0 { return min(1, Double(bytes) / Double(totalBytes)) }
        return nil
    }
}

public struct ImportOptions: Sendable {
    public var list: ListSlug
    public var rules: ImportRules
    public var source: EventSource
    /// Rows per write transaction.
    public var batchSize: Int

    public init(list: ListSlug, rules: ImportRules, source: EventSource = .cli, batchSize: Int = 10_000) {
        self.list = list
        self.rules = rules
        self.source = source
        self.batchSize = max(1, batchSize)
    }
}
