// Input for imports: a file or standard input read in large chunks with read(2), and a
// window over it that parsers work in. Memory stays flat whatever the file's size: the
// window holds the record being parsed plus one chunk.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a parser's bytes come from.
public protocol ByteSource: AnyObject {
    /// Reads up to `count` bytes into `buffer`; 0 at the end of the input.
    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(DataFileError) -> Int
    /// Bytes read so far and the input's size when known (a regular file), for progress.
    var bytesRead: Int64 { get }
    var totalBytes: Int64? { get }
}

/// A file opened for reading, or standard input for the path `-`.
public final class ByteInput: ByteSource {
    /// The path as given, or "standard input".
    public let name: String
    public let totalBytes: Int64?
    public private(set) var bytesRead: Int64 = 0
    private let descriptor: Int32
    private let ownsDescriptor: Bool

    public init(path: String) throws(DataFileError) {
        if path == "-" {
            descriptor = STDIN_FILENO
            ownsDescriptor = false
            name = "standard input"
        } else {
            let opened = open(path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { throw .cannotOpen(path: path, reason: Self.lastError()) }
            descriptor = opened
            ownsDescriptor = true
            name = path
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = Self.lastError()
            if ownsDescriptor { close(descriptor) }
            throw .cannotOpen(path: path, reason: reason)
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            if ownsDescriptor { close(descriptor) }
            throw .cannotOpen(path: path, reason: "it is a directory")
        }
        totalBytes = kind == S_IFREG ? Int64(info.st_size) : nil
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    public func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(DataFileError) -> Int {
        while true {
            #if canImport(Glibc)
            let n = Glibc.read(descriptor, buffer, count)
            #else
            let n = Darwin.read(descriptor, buffer, count)
            #endif
            if n >= 0 {
                bytesRead += Int64(n)
                return n
            }
            if errno == EINTR { continue }
            throw .readFailed(name: name, reason: Self.lastError())
        }
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// Bytes already in memory, handed out at most `chunkSize` at a time (tests use small
/// chunks to put record boundaries everywhere).
public final class InMemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    private let chunkSize: Int
    private var offset = 0
    public var bytesRead: Int64 { Int64(offset) }
    public var totalBytes: Int64? { Int64(bytes.count) }

    public init(_ bytes: [UInt8], chunkSize: Int = .max) {
        self.bytes = bytes
        self.chunkSize = max(1, chunkSize)
    }

    public convenience init(_ text: String, chunkSize: Int = .max) {
        self.init(Array(text.utf8), chunkSize: chunkSize)
    }

    public func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(DataFileError) -> Int {
        let n = min(count, chunkSize, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + offset, count: n) }
        offset += n
        return n
    }
}

/// A window [start, end) over the input. Parsers consume from `start`; `refill` moves
/// the unconsumed bytes to the front and reads the next chunk behind them, growing the
/// window only when one record is longer than a chunk.
final class ChunkWindow {
    let source: ByteSource
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    var start = 0
    private(set) var end = 0
    private(set) var atEOF = false
    let chunkSize: Int

    init(source: ByteSource, chunkSize: Int) {
        self.source = source
        self.chunkSize = chunkSize
        capacity = chunkSize
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    var available: Int { end - start }

    /// Reads one more chunk; false (and `atEOF`) when the input has ended.
    @discardableResult
    func refill() throws(DataFileError) -> Bool {
        guard !atEOF else { return false }
        if start > 0 {
            if end > start { (base).update(from: base + start, count: end - start) }
            end -= start
            start = 0
        }
        if capacity - end < chunkSize {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: end + chunkSize)
            grown.update(from: base, count: end)
            base.deallocate()
            base = grown
            capacity = end + chunkSize
        }
        let n = try source.read(into: base + end, count: capacity - end)
        if n == 0 {
            atEOF = true
            return false
        }
        end += n
        return true
    }

    /// Drops whatever has been consumed, so a huge skipped line does not keep the
    /// window large.
    func discardAll() {
        start = end
    }
}

/// Problems with the input as a whole (as opposed to one bad row). The import stops
/// before writing anything.
public enum DataFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case readFailed(name: String, reason: String)
    case emptyFile(name: String)
    case missingEmailColumn(found: [String])
    case duplicateColumn(String)
    case headerNotUTF8
    /// `--encoding cp932` on a file with bytes that are not CP932.
    case notCP932(name: String)
    /// `--encoding auto` on a file that is neither UTF-8 nor CP932 (`utf16`: it starts
    /// with a UTF-16 byte order mark, as Excel's "Unicode text" does).
    case unknownEncoding(name: String, utf16: Bool)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot read \(path.printable): \(reason)"
        case .readFailed(let name, let reason):
            "reading \(name.printable) failed: \(reason)"
        case .emptyFile(let name):
            "\(name.printable) is empty: a CSV import needs a header row naming its columns (at least email)"
        case .missingEmailColumn(let found):
            "the CSV header has no email column (found: \(found.isEmpty ? "nothing" : found.map(\.printable).joined(separator: ", "))); "
                + "the first row must name the columns, e.g. email,name or メールアドレス,氏名"
        case .duplicateColumn(let name):
            "the CSV header names the column \(name.printable) twice"
        case .headerNotUTF8:
            "the CSV header is not valid UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8), or import it with --encoding auto"
        case .notCP932(let name):
            "\(name.printable) is not CP932 (Shift_JIS) text; nothing was imported (try --encoding auto)"
        case .unknownEncoding(let name, let utf16):
            "\(name.printable) is neither UTF-8 nor CP932 (Shift_JIS) text"
                + (utf16 ? " (it is UTF-16, Excel's \"Unicode text\")" : "")
                + "; nothing was imported: save it as \"CSV UTF-8 (comma delimited)\""
        }
    }
}
