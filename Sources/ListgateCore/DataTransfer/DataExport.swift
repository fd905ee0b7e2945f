// Writing exports: RFC 4180 CSV and NDJSON, straight from bytes into a large buffer
// that goes out with write(2), so a million rows stream in flat memory. CSV cells that a
// spreadsheet would run as a formula are neutralised (README, Import and export).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an export goes: an open file descriptor (standard output, or a file the CLI opened).
public struct ExportDestination: Sendable {
    public let descriptor: Int32
    public let name: String

    public init(descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
    }

    public static let standardOutput = ExportDestination(descriptor: STDOUT_FILENO, name: "standard output")
}

public enum ExportError: Error, Equatable, Sendable, CustomStringConvertible {
    case writeFailed(name: String, reason: String)

    public var description: String {
        switch self {
        case .writeFailed(let name, let reason): "writing to \(name.printable) failed: \(reason)"
        }
    }
}

/// Bytes collected in a fixed buffer and written out whenever it fills.
final class OutputBuffer {
    private let destination: ExportDestination
    private let capacity: Int
    private let storage: UnsafeMutablePointer<UInt8>
    private var count = 0

    init(_ destination: ExportDestination, capacity: Int = 1 << 18) {
        self.destination = destination
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    @inline(__always)
    func append(_ byte: UInt8) throws {
        if count == capacity { try flush() }
        storage[count] = byte
        count += 1
    }

    func append(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        if bytes.count > capacity - count {
            try flush()
            if bytes.count > capacity {
                try write(base, bytes.count)
                return
            }
        }
        (storage + count).update(from: base, count: bytes.count)
        count += bytes.count
    }

    func append(_ text: String) throws {
        var text = text
        try text.withUTF8 { (bytes) in try append(bytes) }
    }

    func append(_ text: StaticString) throws {
        try append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func flush() throws {
        try write(storage, count)
        count = 0
    }

    private func write(_ pointer: UnsafePointer<UInt8>, _ length: Int) throws {
        var done = 0
        while done < length {
            #if canImport(Glibc)
            let n = Glibc.write(destination.descriptor, pointer + done, length - done)
            #else
            let n = Darwin.write(destination.descriptor, pointer + done, length - done)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw ExportError.writeFailed(name: destination.name, reason: String(cString: strerror(errno)))
            }
            done += n
        }
    }
}

enum CSVCell {
    /// A leading `=`, `+`, `-`, `@`, tab or CR makes a spreadsheet treat a cell as a
    /// formula (OWASP, "CSV injection").
    @inline(__always)
    static func isFormulaTrigger(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "=") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "@")
            || byte == 0x09 || byte == 0x0D
    }

    /// One cell: quoted when it holds a comma, quote or line break; a cell starting like a
    /// formula gets a leading apostrophe inside quotes, so a spreadsheet shows it as text
    /// (and `listgate import` takes the apostrophe off again).
    static func write(_ bytes: UnsafeBufferPointer<UInt8>, to out: OutputBuffer) throws {
        guard let first = bytes.first else { return }
        let neutralise = isFormulaTrigger(first)
        var needsQuotes = neutralise
        if !needsQuotes {
            for byte in bytes where byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == 0x0A || byte == 0x0D {
                needsQuotes = true
                break
            }
        }
        guard needsQuotes else {
            try out.append(bytes)
            return
        }
        try out.append(UInt8(ascii: "\""))
        if neutralise { try out.append(UInt8(ascii: "'")) }
        var runStart = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\"") {
            try out.append(UnsafeBufferPointer(rebasing: bytes[runStart...index]))
            runStart = index
        }
        try out.append(UnsafeBufferPointer(rebasing: bytes[runStart...]))
        try out.append(UInt8(ascii: "\""))
    }
}

/// Rows of named columns written as CSV (header row first, CRLF line ends) or NDJSON (one
/// object per line, keys in column order, null for an absent value).
package final class TabularWriter {
    package let format: DataFormat
    private let out: OutputBuffer
    private let keys: [[UInt8]]
    private var column = 0
    /// One string escaped at a time, then copied into the output (keeps its capacity).
    private var scratch: [UInt8] = []

    package init(format: DataFormat, columns: [String], destination: ExportDestination) throws {
        self.format = format
        out = OutputBuffer(destination)
        keys = columns.map { Array(JSONString.quoted($0).utf8) + [UInt8(ascii: ":")] }
        if format == .csv {
            try out.append(columns.joined(separator: ","))
            try out.append("\r\n")
        }
    }

    private func separator() throws {
        switch format {
        case .csv:
            if column > 0 { try out.append(UInt8(ascii: ",")) }
        case .ndjson:
            try out.append(column == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
            try keys[column].withUnsafeBufferPointer { (key) in try out.append(key) }
        }
        column += 1
    }

    /// A text value; nil is an empty CSV cell or JSON null.
    package func text(_ bytes: UnsafeBufferPointer<UInt8>?) throws {
        try separator()
        switch (format, bytes) {
        case (.csv, let bytes?): try CSVCell.write(bytes, to: out)
        case (.csv, nil): break
        case (.ndjson, let bytes?):
            scratch.removeAll(keepingCapacity: true)
            JSONString.append(bytes, to: &scratch)
            try scratch.withUnsafeBufferPointer { (escaped) in try out.append(escaped) }
        case (.ndjson, nil): try out.append("null")
        }
    }

    package func text(_ string: String?) throws {
        guard var string else { return try text(nil as UnsafeBufferPointer<UInt8>?) }
        try string.withUTF8 { (bytes) in try text(bytes) }
    }

    package func integer(_ value: Int64) throws {
        try separator()
        try out.append(String(value))
    }

    /// Text that is already a JSON document: embedded as it is in NDJSON, a cell in CSV.
    package func json(_ bytes: UnsafeBufferPointer<UInt8>?) throws {
        guard format == .ndjson, let bytes else { return try text(bytes) }
        try separator()
        try out.append(bytes)
    }

    package func endRow() throws {
        switch format {
        case .csv: try out.append("\r\n")
        case .ndjson: try out.append("}\n")
        }
        column = 0
    }

    package func finish() throws {
        try out.flush()
    }
}

/// Which subscriptions `export subscribers` writes.
public enum ExportStatusFilter: String, Sendable, CaseIterable {
    /// Active members only: the people who currently receive the list.
    case active
    /// Every subscription whatever its state (pending, unsubscribed, bounced, ...).
    case all
}
