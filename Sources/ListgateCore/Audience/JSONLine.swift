// One JSON object per line (NDJSON), written straight into a byte buffer. The streams
// that use it (a snapshot's recipients, the unsubscribes feed) write a million rows, so
// a line is built from bytes rather than through JSONSerialization and a dictionary.
// Output is RFC 8259 JSON: UTF-8 passed through, `"` `\` and controls escaped, and
// U+2028/U+2029 escaped too so a line is also safe to embed in JavaScript.

public struct JSONLine {
    public private(set) var bytes: [UInt8] = []
    private var fields = 0

    public init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Adds `"key":"value"` (or `"key":null`) to the current object.
    public mutating func field(_ key: StaticString, _ value: String?) {
        startField(key)
        if let value {
            Self.appendQuoted(value, to: &bytes)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    public mutating func field(_ key: StaticString, _ value: Int) {
        startField(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Closes the current object with `}\n` and starts the next one.
    public mutating func endObject() {
        if fields == 0 { bytes.append(UInt8(ascii: "{")) }
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
        fields = 0
    }

    /// Hands over the bytes written so far and starts empty, keeping the capacity.
    public mutating func take() -> [UInt8] {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes
    }

    private mutating func startField(_ key: StaticString) {
        bytes.append(fields == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
        fields += 1
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    @inline(__always)
    private static func flags(_ word: UInt64) -> UInt64 {
        func zeroByte(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let control = (word &- ones &* 0x20) & ~word & highs
        return control | zeroByte(word ^ (ones &* 0x22)) | zeroByte(word ^ (ones &* 0x5C))
            | zeroByte(word ^ (ones &* 0x7F)) | (word & highs)
    }

    /// Adds `"key":"…"` (or `"key":null`) from UTF-8 bytes, e.g. read straight from the database.
    public mutating func field(_ key: StaticString, utf8 value: UnsafeBufferPointer<UInt8>?) {
        startField(key)
        if let value {
            Self.appendQuoted(value, to: &bytes)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    static func appendQuoted(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        value.withUTF8 { appendQuoted($0, to: &bytes) }
    }

    /// Copies runs of bytes that need no escape in one go; most values are such a run.
    static func appendQuoted(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var index = 0
        while index < utf8.count {
            // Eight bytes at a time while none of them needs a look (SWAR: any byte below
            // 0x20, equal to `"`, `\` or 0x7F, or non-ASCII sets its high bit in `flags`).
            if index + 8 <= utf8.count {
                let word = UnsafeRawPointer(utf8.baseAddress! + index).loadUnaligned(as: UInt64.self)
                if Self.flags(word) == 0 {
                    index += 8
                    continue
                }
            }
            let byte = utf8[index]
            if byte >= 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte != 0x7F, byte != 0xE2 {
                index += 1
                continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9; any other E2 sequence is copied.
                if index + 2 < utf8.count, utf8[index + 1] == 0x80, utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9 {
                    bytes.append(contentsOf: Array("\\u202".utf8))
                    bytes.append(utf8[index + 2] == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9"))
                    index += 3
                    runStart = index
                    continue
                }
                bytes.append(byte)
            default:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
            index += 1
            runStart = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        bytes.append(UInt8(ascii: "\""))
    }
}
