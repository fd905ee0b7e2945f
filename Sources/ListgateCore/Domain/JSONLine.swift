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

    static func appendQuoted(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var utf8 = value.utf8.makeIterator()
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20, 0x7F:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
                let second = utf8.next(), third = utf8.next()
                if second == 0x80, let third, third == 0xA8 || third == 0xA9 {
                    bytes.append(contentsOf: Array("\\u202".utf8))
                    bytes.append(third == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9"))
                } else {
                    bytes.append(byte)
                    if let second { bytes.append(second) }
                    if let third { bytes.append(third) }
                }
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
