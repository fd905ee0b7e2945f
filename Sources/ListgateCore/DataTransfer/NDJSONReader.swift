// A streaming NDJSON reader: one JSON object per line, read as flat key/value pairs.
// String and null values are kept; numbers, booleans, arrays and objects are recognised
// (so a line stays well-formed) but kept only as their kind. A line that is not one JSON
// object is a problem on that line; the next line is read as usual. Blank lines are skipped.
import Foundation

public enum FlatJSONValue: Equatable, Sendable {
    case string(String)
    case null
    /// A number, boolean, array or object, named by its kind.
    case other(String)
}

public final class NDJSONReader {
    public enum Item: Equatable, Sendable {
        case object(line: Int, members: [(key: String, value: FlatJSONValue)])
        case problem(line: Int, message: String)

        public static func == (lhs: Item, rhs: Item) -> Bool {
            switch (lhs, rhs) {
            case (.object(let l1, let m1), .object(let l2, let m2)):
                l1 == l2 && m1.map(\.key) == m2.map(\.key) && m1.map(\.value) == m2.map(\.value)
            case (.problem(let l1, let p1), .problem(let l2, let p2)):
                l1 == l2 && p1 == p2
            default:
                false
            }
        }
    }

    private let window: ChunkWindow
    private let maxLineBytes: Int
    private var line = 1
    private var skippingLine = false
    private var scratch: [UInt8] = []

    public var source: ByteSource { window.source }

    public init(source: ByteSource, chunkSize: Int = 1 << 20, maxLineBytes: Int = 1 << 20) {
        window = ChunkWindow(source: source, chunkSize: max(16, chunkSize))
        self.maxLineBytes = maxLineBytes
    }

    public func next() throws(DataFileError) -> Item? {
        while true {
            let buffer = window.base
            let searchFrom = window.start
            let found = window.available > 0
                ? memchr(buffer + searchFrom, 0x0A, window.available)?.assumingMemoryBound(to: UInt8.self) : nil
            if skippingLine {
                if let found {
                    window.start = found - buffer + 1
                    skippingLine = false
                } else {
                    window.discardAll()
                    guard try window.refill() else { return nil }
                }
                continue
            }
            let lineEnd: Int
            if let found {
                lineEnd = found - buffer
            } else if window.atEOF {
                guard window.available > 0 else { return nil }
                lineEnd = window.end
            } else if window.available >= maxLineBytes {
                let problemLine = line
                line += 1
                window.discardAll()
                skippingLine = true
                return .problem(line: problemLine, message: "the line is longer than \(maxLineBytes / 1024) KiB; it was skipped")
            } else {
                try window.refill()
                continue
            }
            let lineNumber = line
            line += 1
            var contentEnd = lineEnd
            if contentEnd > window.start, buffer[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            let content = UnsafeBufferPointer(start: buffer + window.start, count: contentEnd - window.start)
            window.start = min(lineEnd + 1, window.end)
            if content.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            var parser = FlatJSONParser(bytes: content, scratch: scratch)
            defer { scratch = parser.scratch }
            do {
                return .object(line: lineNumber, members: try parser.parseObjectLine())
            } catch {
                return .problem(line: lineNumber, message: error.message)
            }
        }
    }
}

struct FlatJSONError: Error {
    let message: String
}

/// Parses one line holding a single JSON object (RFC 8259).
struct FlatJSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var scratch: [UInt8]
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>, scratch: [UInt8] = []) {
        self.bytes = bytes
        self.scratch = scratch
    }

    mutating func parseObjectLine() throws(FlatJSONError) -> [(key: String, value: FlatJSONValue)] {
        skipSpace()
        // A byte order mark on the first line is tolerated.
        if bytes.count - i >= 3, bytes[i] == 0xEF, bytes[i + 1] == 0xBB, bytes[i + 2] == 0xBF { i += 3 }
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else {
            throw FlatJSONError(message: "not a JSON object (each line must be one {...} object)")
        }
        i += 1
        var members: [(key: String, value: FlatJSONValue)] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw invalid("expected a key in double quotes") }
                let key = try parseString()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw invalid("expected : after a key") }
                i += 1
                skipSpace()
                members.append((key, try parseValue(depth: 0)))
                skipSpace()
                guard i < bytes.count else { throw invalid("the object is not closed with }") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard bytes[i] == UInt8(ascii: "}") else { throw invalid("expected , or } after a value") }
                i += 1
                break
            }
        }
        skipSpace()
        guard i == bytes.count else { throw invalid("text after the object (one object per line)") }
        return members
    }

    private func invalid(_ what: String) -> FlatJSONError {
        FlatJSONError(message: "invalid JSON: \(what)")
    }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
    }

    private mutating func parseValue(depth: Int) throws(FlatJSONError) -> FlatJSONValue {
        guard i < bytes.count else { throw invalid("a value is missing") }
        switch bytes[i] {
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "t"):
            try literal("true")
            return .other("boolean")
        case UInt8(ascii: "f"):
            try literal("false")
            return .other("boolean")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
            return .other("number")
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            guard depth < 64 else { throw invalid("nested too deeply") }
            let isArray = bytes[i] == UInt8(ascii: "[")
            let close = isArray ? UInt8(ascii: "]") : UInt8(ascii: "}")
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == close {
                i += 1
                return .other(isArray ? "array" : "object")
            }
            while true {
                skipSpace()
                if !isArray {
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw invalid("expected a key in double quotes") }
                    _ = try parseString()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw invalid("expected : after a key") }
                    i += 1
                    skipSpace()
                }
                _ = try parseValue(depth: depth + 1)
                skipSpace()
                guard i < bytes.count else { throw invalid("an array or object is not closed") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard bytes[i] == close else { throw invalid("expected , or \(isArray ? "]" : "}")") }
                i += 1
                return .other(isArray ? "array" : "object")
            }
        default:
            throw invalid("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(FlatJSONError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - i >= count else { throw invalid("unexpected end of line") }
        for k in 0..<count where bytes[i + k] != word.utf8Start[k] { throw invalid("unexpected word") }
        i += count
    }

    private mutating func skipNumber() throws(FlatJSONError) {
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
        guard i > digitsStart else { throw invalid("a number has no digits") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fraction = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            guard i > fraction else { throw invalid("a number has no digits after the point") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let exponent = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            guard i > exponent else { throw invalid("a number has no exponent digits") }
        }
    }

    /// A string starting at the opening quote; escapes decoded; must be valid UTF-8.
    private mutating func parseString() throws(FlatJSONError) -> String {
        i += 1
        scratch.removeAll(keepingCapacity: true)
        while true {
            guard i < bytes.count else { throw invalid("a string is not closed") }
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") {
                i += 1
                break
            }
            if byte < 0x20 { throw invalid("a control character inside a string (escape it)") }
            if byte != UInt8(ascii: "\\") {
                scratch.append(byte)
                i += 1
                continue
            }
            guard i + 1 < bytes.count else { throw invalid("a string is not closed") }
            let escaped = bytes[i + 1]
            i += 2
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escaped)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard bytes.count - i >= 6, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw invalid("a lone surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw invalid("a lone surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw invalid("a lone surrogate in \\u escape")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw invalid("an invalid \\u escape") }
                scratch.append(contentsOf: UTF8.encode(unicode)!)
            default:
                throw invalid("an unknown escape \\\(Character(Unicode.Scalar(escaped)))")
            }
        }
        guard let text = String(validating: scratch, as: UTF8.self) else {
            throw FlatJSONError(message: "the line is not valid UTF-8: save the file as UTF-8")
        }
        return text
    }

    private mutating func hex4() throws(FlatJSONError) -> UInt32 {
        guard bytes.count - i >= 4 else { throw invalid("a \\u escape needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[i]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw invalid("a \\u escape needs four hex digits")
            }
            value = value << 4 | digit
            i += 1
        }
        return value
    }
}
