// A row's cells as bytes, for the paths that write a million rows (the recipients stream,
// the exports): each cell's bytes are copied into one reused buffer, never into a String,
// and handed on as UTF-8 as SQLite's C API hands its columns.
import NIOCore
import PostgresNIO

struct RowBytes {
    private var storage: [UInt8] = []
    private var ranges: [Range<Int>?] = []

    /// Takes the cells of `row`. Text arrives as its UTF-8 bytes in either of the wire's
    /// formats; other types must be turned into text by the query.
    mutating func load(_ row: PostgresRow) {
        storage.removeAll(keepingCapacity: true)
        ranges.removeAll(keepingCapacity: true)
        for cell in row {
            if let bytes = cell.bytes {
                let start = storage.count
                bytes.withUnsafeReadableBytes { storage.append(contentsOf: $0) }  // one memcpy
                ranges.append(start..<storage.count)
            } else {
                ranges.append(nil)
            }
        }
    }

    /// Calls `body` with a reader of the loaded cells by index: nil for NULL.
    func withCells<Result>(_ body: ((Int) -> UnsafeBufferPointer<UInt8>?) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBufferPointer { all in
            try body { index in
                guard let range = ranges[index] else { return nil }
                return range.isEmpty ? UnsafeBufferPointer(start: nil, count: 0) : UnsafeBufferPointer(rebasing: all[range])
            }
        }
    }
}

/// SQL that writes a timestamptz as `Timestamp.string` does (RFC 3339, UTC, milliseconds,
/// rounded to the nearest): the text SQLite stores. Rounded, not truncated as to_char's MS
/// is: postgres-nio truncates a bound Date to the microsecond, so a time meant as .123 may
/// be stored as .122999.
enum StoredTime {
    static func text(_ column: String) -> String {
        "to_char(date_trunc('milliseconds', \(column) + interval '500 microseconds') AT TIME ZONE 'UTC', "
            + "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    }
}
