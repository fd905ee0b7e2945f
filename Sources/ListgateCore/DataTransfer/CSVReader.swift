// A streaming RFC 4180 CSV reader that works on bytes and knows each record's line
// number. Quoted fields may hold commas, doubled quotes and line breaks; lines may end
// in CRLF, LF or a lone CR; a UTF-8 byte order mark is skipped. A record that cannot be
// read (a quote never closed, text after a closing quote, a quote inside an unquoted
// field, a record over the size limit) is reported as a problem on the line where it
// starts, and reading resumes on the next line, so one stray quote cannot swallow the
// rest of the file.
//
// The one way a stray quote could still swallow rows is a quoted field that spans lines:
// `a@example.org,"Bob` opens a field that the next quote in the file closes, rows later.
// So a record spans lines only when it is valid as a whole: if anything is wrong after
// its first line (text after the closing quote, or the file ends first), only its first
// line is reported and reading resumes on its second line. A caller that knows more (an
// import, whose columns never hold a line break) can take such a record back the same way
// with `takeBackRecord()`.
import Foundation

public final class CSVReader {
    public enum Item: Equatable, Sendable {
        /// A record starting on `line`; read its fields with `fieldCount` and `string(_:)`.
        case record(line: Int)
        case problem(line: Int, message: String)
    }

    private let window: ChunkWindow
    private let maxRecordBytes: Int
    /// The physical line (1-based) at `window.start`.
    private var line = 1
    private var checkedBOM = false
    /// Skipping the rest of an over-long line.
    private var skippingLine = false
    private var fieldBytes: [UInt8] = []
    private var fieldEnds: [Int] = []
    /// Where the record last returned starts in the window, and its line: what
    /// `takeBackRecord` goes back to. Valid until the next call of `next()`.
    private var recordStart = 0
    private var recordLine = 1

    /// True when the record last returned has a quoted field holding a line break, so it
    /// covers more than one physical line.
    public private(set) var recordSpansLines = false

    /// Reported for a quoted field that opens on a line and is not properly closed there.
    public static let unclosedQuoteMessage =
        "a double quote opened in this row is not closed on the same line; only this line was skipped "
        + "(inside a quoted field, write a double quote as \"\")"

    public var source: ByteSource { window.source }

    public init(source: ByteSource, chunkSize: Int = 1 << 20, maxRecordBytes: Int = 1 << 20) {
        window = ChunkWindow(source: source, chunkSize: max(16, chunkSize))
        self.maxRecordBytes = maxRecordBytes
        fieldBytes.reserveCapacity(1024)
        fieldEnds.reserveCapacity(16)
    }

    /// Fields of the record last returned by `next()`.
    public var fieldCount: Int { fieldEnds.count }

    public func withField<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let lower = index == 0 ? 0 : fieldEnds[index - 1]
        return try fieldBytes.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[lower..<fieldEnds[index]]))
        }
    }

    /// The field as text, or nil when it is not valid UTF-8.
    public func string(_ index: Int) -> String? {
        withField(index) { String(validating: $0, as: UTF8.self) }
    }

    /// Every field of the current record, invalid UTF-8 replaced (for tests and messages).
    public var fields: [String] {
        (0..<fieldCount).map { index in withField(index) { String(decoding: $0, as: UTF8.self) } }
    }

    /// The next record or problem; nil at the end of the input.
    public func next() throws(DataFileError) -> Item? {
        if !checkedBOM {
            while window.available < 3, try window.refill() {}
            if window.available >= 3, window.base[window.start] == 0xEF, window.base[window.start + 1] == 0xBB,
               window.base[window.start + 2] == 0xBF {
                window.start += 3
            }
            checkedBOM = true
        }
        while true {
            if skippingLine {
                try skipToNextLine()
                continue
            }
            if window.available == 0 {
                guard try window.refill() else { return nil }
            }
            switch parseRecord() {
            case .blank(let next, let lines):
                window.start = next
                line += lines
            case .complete(let next, let lines, let problem, let spansLines):
                // A record broken after its first line may be rows swallowed by a stray
                // quote: give back all but the first line.
                if problem != nil, spansLines { return resync(message: Self.unclosedQuoteMessage) }
                recordStart = window.start
                recordLine = line
                recordSpansLines = spansLines
                window.start = next
                line += lines
                if let problem { return .problem(line: recordLine, message: problem) }
                return .record(line: recordLine)
            case .unterminated:
                return resync(message: "a double quote opened in this row is never closed; the line was skipped")
            case .needMore:
                if window.available >= maxRecordBytes {
                    return resync(
                        message: "the row is longer than \(maxRecordBytes / 1024) KiB (a double quote never closed?); "
                            + "the line was skipped")
                }
                try window.refill()
            }
        }
    }

    /// Takes back the record last returned by `next()`, which the caller reports as a
    /// problem on its line instead: reading resumes on the record's second line. For a
    /// record that spans lines but cannot be what the file meant (a line break in a
    /// column that never holds one, a wrong number of fields). Call it before `next()`.
    public func takeBackRecord() {
        window.start = recordStart
        line = recordLine
        skipFirstLine()
    }

    private enum Parse {
        /// `spansLines`: a quoted field of the record holds a line break.
        case complete(next: Int, lines: Int, problem: String?, spansLines: Bool)
        case blank(next: Int, lines: Int)
        case needMore
        /// The input ended inside a quoted field.
        case unterminated
    }

    private static let comma: UInt8 = 0x2C, quote: UInt8 = 0x22, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A

    /// Parses one record from `window.start`, without consuming it: the caller commits
    /// by moving `window.start`, or refills and parses the same record again.
    private func parseRecord() -> Parse {
        let buffer = window.base, end = window.end, atEOF = window.atEOF
        var i = window.start
        var lines = 0
        var problem: String?
        fieldBytes.removeAll(keepingCapacity: true)
        fieldEnds.removeAll(keepingCapacity: true)

        // A line with nothing on it is not a record.
        if buffer[i] == Self.lf { return .blank(next: i + 1, lines: 1) }
        if buffer[i] == Self.cr {
            if i + 1 == end, !atEOF { return .needMore }
            return .blank(next: i + 1 < end && buffer[i + 1] == Self.lf ? i + 2 : i + 1, lines: 1)
        }

        while true {
            if i < end, buffer[i] == Self.quote {
                i += 1
                while true {
                    if i == end { return atEOF ? .unterminated : .needMore }
                    let byte = buffer[i]
                    if byte == Self.quote {
                        if i + 1 == end, !atEOF { return .needMore }
                        if i + 1 < end, buffer[i + 1] == Self.quote {
                            fieldBytes.append(Self.quote)
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    if byte == Self.lf {
                        lines += 1
                    } else if byte == Self.cr {
                        if i + 1 == end, !atEOF { return .needMore }
                        if i + 1 == end || buffer[i + 1] != Self.lf { lines += 1 }
                    }
                    fieldBytes.append(byte)
                    i += 1
                }
                // After the closing quote only a comma or the end of the line may follow.
                while i < end, buffer[i] != Self.comma, buffer[i] != Self.cr, buffer[i] != Self.lf {
                    problem = problem ?? "text after a closing double quote (write a quote inside a quoted field as \"\")"
                    fieldBytes.append(buffer[i])
                    i += 1
                }
            } else {
                let fieldStart = i
                while i < end, buffer[i] != Self.comma, buffer[i] != Self.cr, buffer[i] != Self.lf {
                    // RFC 4180 §2.5: a field that does not start with a quote holds none.
                    // `Bob "the" Builder` is a mistake the row's writer can fix; reading
                    // it as text would hide that the file is not what its writer thinks.
                    if buffer[i] == Self.quote {
                        problem = problem ?? "a double quote inside a field that does not start with one "
                            + "(put the whole field in double quotes and write the quote as \"\", e.g. \"Bob \"\"the\"\" Builder\")"
                    }
                    i += 1
                }
                if i > fieldStart {
                    fieldBytes.append(contentsOf: UnsafeBufferPointer(start: buffer + fieldStart, count: i - fieldStart))
                }
            }
            if i == end, !atEOF { return .needMore }
            fieldEnds.append(fieldBytes.count)
            // Every line break counted so far is inside a quoted field.
            let spansLines = lines > 0
            if i == end { return .complete(next: i, lines: lines, problem: problem, spansLines: spansLines) }
            switch buffer[i] {
            case Self.comma:
                i += 1
            case Self.cr:
                if i + 1 == end, !atEOF { return .needMore }
                i += i + 1 < end && buffer[i + 1] == Self.lf ? 2 : 1
                return .complete(next: i, lines: lines + 1, problem: problem, spansLines: spansLines)
            default:  // LF
                return .complete(next: i + 1, lines: lines + 1, problem: problem, spansLines: spansLines)
            }
        }
    }

    /// Reports the record at `window.start` as a problem and carries on at the line after
    /// the one it starts on.
    private func resync(message: String) -> Item {
        let recordLine = line
        skipFirstLine()
        return .problem(line: recordLine, message: message)
    }

    /// Moves past the line that `window.start` is on, whatever quotes it holds.
    private func skipFirstLine() {
        recordSpansLines = false
        let buffer = window.base
        var i = window.start
        while i < window.end, buffer[i] != Self.lf, buffer[i] != Self.cr { i += 1 }
        if i < window.end {
            i += buffer[i] == Self.cr && i + 1 < window.end && buffer[i + 1] == Self.lf ? 2 : 1
            window.start = i
        } else {
            window.discardAll()
            skippingLine = !window.atEOF
        }
        line += 1
        fieldBytes.removeAll(keepingCapacity: true)
        fieldEnds.removeAll(keepingCapacity: true)
    }

    /// Drops input up to and including the next line break (after an over-long line).
    private func skipToNextLine() throws(DataFileError) {
        while true {
            let buffer = window.base
            var i = window.start
            while i < window.end, buffer[i] != Self.lf, buffer[i] != Self.cr { i += 1 }
            if i < window.end {
                if buffer[i] == Self.cr, i + 1 == window.end, !window.atEOF {
                    window.start = i
                    try window.refill()
                    continue
                }
                i += buffer[i] == Self.cr && i + 1 < window.end && buffer[i + 1] == Self.lf ? 2 : 1
                window.start = i
                skippingLine = false
                return
            }
            window.discardAll()
            guard try window.refill() else {
                skippingLine = false
                return
            }
        }
    }
}
