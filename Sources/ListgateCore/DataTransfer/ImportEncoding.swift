// The character encoding of an import file. Excel's Japanese "CSV" is CP932 (Shift_JIS
// with Microsoft's extensions), not UTF-8; reading it as UTF-8 would import only its
// ASCII rows. So `auto` reads a file as UTF-8 when every byte of it is UTF-8, otherwise
// as CP932, and refuses a file that is neither before anything is imported: a row
// decoded wrongly would store a wrong name, and no later row can undo that.
//
// Decoding is glibc's iconv ("CP932", which has the NEC and IBM extensions: ①, ～, 髙),
// streamed chunk by chunk, so memory stays flat. Deciding needs the whole file, so a
// regular file is read twice (checked, then decoded); standard input or a pipe, which
// cannot be read twice, is held in memory.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `import --encoding` accepts.
public enum ImportEncoding: String, Sendable, CaseIterable {
    case utf8 = "utf-8"
    case cp932
    case auto
}

/// An import file opened for reading as UTF-8, whatever it was written in.
public enum ImportInput {
    /// Opens `path` (`-` for standard input) and, for `cp932` and `auto`, checks the whole
    /// input before returning; `encoding` says what it was read as.
    public static func open(path: String, encoding: ImportEncoding) throws(DataFileError)
        -> (source: ByteSource, name: String, encoding: ImportEncoding)
    {
        let input = try ByteInput(path: path)
        // Plain UTF-8 streams as before: a row that is not UTF-8 is reported on its line.
        if encoding == .utf8 { return (input, input.name, .utf8) }

        // A regular file can be read again; anything else is kept for the second reading.
        let held: [UInt8]? = if input.totalBytes == nil { try readAll(input) } else { nil }
        func freshSource() throws(DataFileError) -> ByteSource {
            if let held { return InMemoryByteSource(held, chunkSize: 1 << 20) }
            return try ByteInput(path: path)
        }

        let firstReading: ByteSource = if let held { InMemoryByteSource(held, chunkSize: 1 << 20) } else { input }
        let checked = try check(firstReading, name: input.name)
        let chosen: ImportEncoding
        switch encoding {
        case .cp932:
            guard checked.isCP932 else { throw .notCP932(name: input.name) }
            chosen = .cp932
        default:
            if checked.isUTF8 {
                chosen = .utf8
            } else if checked.isCP932 {
                chosen = .cp932
            } else {
                throw .unknownEncoding(name: input.name, utf16: checked.looksUTF16)
            }
        }
        let source = try freshSource()
        if chosen == .utf8 { return (source, input.name, .utf8) }
        return (try TranscodingByteSource(source, from: "CP932", name: input.name), input.name, .cp932)
    }

    private struct Check {
        var isUTF8: Bool
        var isCP932: Bool
        var looksUTF16: Bool
    }

    /// Reads the input once, asking iconv at the same time whether it is UTF-8 and
    /// whether it is CP932.
    private static func check(_ source: ByteSource, name: String) throws(DataFileError) -> Check {
        let utf8 = try IconvDecoder(from: "UTF-8", name: name)
        let cp932 = try IconvDecoder(from: "CP932", name: name)
        var isUTF8 = true, isCP932 = true
        var first: [UInt8] = []
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
        defer { chunk.deallocate() }
        while isUTF8 || isCP932 {
            let n = try source.read(into: chunk, count: 1 << 16)
            if first.count < 2 { first += UnsafeBufferPointer(start: chunk, count: min(n, 2 - first.count)) }
            if n == 0 {
                isUTF8 = isUTF8 && utf8.finish()
                isCP932 = isCP932 && cp932.finish()
                break
            }
            let bytes = UnsafeBufferPointer(start: chunk, count: n)
            if isUTF8 { isUTF8 = utf8.validate(bytes) }
            if isCP932 { isCP932 = cp932.validate(bytes) }
        }
        return Check(isUTF8: isUTF8, isCP932: isCP932, looksUTF16: first == [0xFF, 0xFE] || first == [0xFE, 0xFF])
    }

    private static func readAll(_ source: ByteSource) throws(DataFileError) -> [UInt8] {
        var all: [UInt8] = []
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
        defer { chunk.deallocate() }
        while true {
            let n = try source.read(into: chunk, count: 1 << 16)
            if n == 0 { return all }
            all.append(contentsOf: UnsafeBufferPointer(start: chunk, count: n))
        }
    }
}

extension IconvDecoder {
    /// The decoder, or the import's error naming the file when this system lacks `encoding`.
    convenience init(from encoding: String, name: String) throws(DataFileError) {
        guard let descriptor = Self.open(from: encoding) else {
            throw .readFailed(name: name, reason: "this system cannot decode \(encoding) (iconv: \(ByteInput.lastError()))")
        }
        self.init(descriptor: descriptor)
    }
}

/// A ByteSource that hands out another source's bytes decoded to UTF-8.
final class TranscodingByteSource: ByteSource {
    private let inner: ByteSource
    private let decoder: IconvDecoder
    private let name: String
    /// Decoded bytes not yet handed out.
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
    private var ended = false

    init(_ inner: ByteSource, from encoding: String, name: String) throws(DataFileError) {
        self.inner = inner
        self.name = name
        decoder = try IconvDecoder(from: encoding, name: name)
    }

    deinit { chunk.deallocate() }

    /// Progress counts the file's own bytes.
    var bytesRead: Int64 { inner.bytesRead }
    var totalBytes: Int64? { inner.totalBytes }

    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(DataFileError) -> Int {
        while pendingStart == pending.count {
            guard !ended else { return 0 }
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
            let n = try inner.read(into: chunk, count: 1 << 16)
            if n == 0 {
                ended = true
                guard decoder.finish() else { throw .readFailed(name: name, reason: "the file ends in the middle of a character") }
                continue
            }
            let decoded = decoder.convert(UnsafeBufferPointer(start: chunk, count: n)) { pending.append(contentsOf: $0) }
            // The whole input was checked before; this is a file changed while it was read.
            guard decoded else { throw .readFailed(name: name, reason: "the file changed while it was read") }
        }
        let n = min(count, pending.count - pendingStart)
        pending.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + pendingStart, count: n) }
        pendingStart += n
        return n
    }
}
